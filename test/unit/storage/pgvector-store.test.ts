import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { dropSchema, nodeSetNames, PgVectorStore } from '../../../src/storage/stores/pgvector.js';
import type { VectorPoint } from '../../../src/storage/types.js';
import { startPglite, type PgliteServer } from '../../helpers/pglite.js';

const DIM = 4;

function point(id: string, vector: number[], payload: Record<string, unknown> = {}): VectorPoint {
  return { id, vector, payload: { id, ...payload } };
}

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cosineDistance(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return 1 - dot / Math.sqrt(na * nb);
}

let schemaCounter = 0;
function freshSchema(): string {
  return `vec_t${process.pid}_${++schemaCounter}`;
}

describe('PgVectorStore', () => {
  let server: PgliteServer;
  let pool: pg.Pool;
  let store: PgVectorStore;
  let schema: string;

  before(async () => {
    server = await startPglite();
    pool = server.pool(4);
    schema = freshSchema();
    store = await PgVectorStore.open({ pool, schema, dimensions: DIM });
  });
  after(async () => {
    await store?.close();
    await server?.stop();
  });

  test('the PGlite socket server serves several connections at once', async () => {
    const other = server.pool(3);
    const clients = await Promise.all([other.connect(), other.connect(), other.connect()]);
    try {
      const results = await Promise.all(clients.map((c, i) => c.query<{ n: number }>('SELECT $1::int + 1 AS n', [i])));
      assert.deepEqual(
        results.map((r) => r.rows[0]!.n),
        [1, 2, 3],
      );
    } finally {
      for (const c of clients) c.release();
      await other.end();
    }
  });

  test('open prepares the schema and refuses invalid options', async () => {
    const own = freshSchema();
    const s = await PgVectorStore.open({ pool, schema: own, dimensions: 3, createExtension: false });
    assert.equal(s.dimensions, 3);
    assert.equal(s.schema, own);
    const found = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [own]);
    assert.equal(found.rowCount, 1);
    await s.close();
    for (const bad of ['', 'Upper', '1abc', 'a-b', 'a"b', 'x"; DROP SCHEMA public CASCADE; --', "x'y", 'a b', 'pg_catalog', 'pg_x', 'information_schema', 'a'.repeat(64)]) {
      await assert.rejects(PgVectorStore.open({ pool, schema: bad, dimensions: DIM }), /schema name/, bad);
      await assert.rejects(dropSchema(pool, bad), /schema name/, bad);
    }
    for (const dims of [0, -1, 2.5, 16_001]) {
      await assert.rejects(PgVectorStore.open({ pool, schema: own, dimensions: dims }), /dimensions/);
    }
    await assert.rejects(dropSchema(pool, 'public'), /public/);
    const schemas = await pool.query('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])', [['Upper', 'a"b', 'x']]);
    assert.equal(schemas.rowCount, 0);
  });

  test('search returns the nearest points first with their cosine distances and payloads', async () => {
    const ds = randomUUID();
    await store.upsert(ds, 'DocumentChunk_text', [
      point('same', [1, 0, 0, 0], { text: 'héllo "wörld" \\ \'q\'', nested: { chunk_index: 3, tags: ['a', 'b'] } }),
      point('diag', [1, 1, 0, 0]),
      point('orth', [0, 1, 0, 0]),
      point('opp', [-2, 0, 0, 0]),
    ]);
    const hits = await store.search(ds, 'DocumentChunk_text', [3, 0, 0, 0], { limit: 10 });
    assert.deepEqual(
      hits.map((h) => h.id),
      ['same', 'diag', 'orth', 'opp'],
    );
    const expected = [0, 1 - Math.SQRT1_2, 1, 2];
    hits.forEach((hit, i) => assert.ok(Math.abs(hit.score - expected[i]!) < 1e-5, `${hit.id}: ${hit.score}`));
    assert.deepEqual(hits[0]!.payload, { id: 'same', text: 'héllo "wörld" \\ \'q\'', nested: { chunk_index: 3, tags: ['a', 'b'] } });
    const two = await store.search(ds, 'DocumentChunk_text', [3, 0, 0, 0], { limit: 2 });
    assert.deepEqual(
      two.map((h) => h.id),
      ['same', 'diag'],
    );
    assert.deepEqual(await store.search(ds, 'DocumentChunk_text', [3, 0, 0, 0], { limit: 0 }), []);
    // The table has the documented shape.
    const columns = await pool.query<{ column_name: string; type: string }>(
      `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
       WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [`"${schema}"."DocumentChunk_text"`],
    );
    assert.deepEqual(
      columns.rows.map((c) => `${c.column_name} ${c.type}`),
      ['dataset_id text', 'id text', 'payload jsonb', 'belongs_to_set text[]', `embedding vector(${DIM})`],
    );
  });

  test('two datasets with the same ids and vectors never see or touch each other', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const pts = (owner: string) => [
      point('p1', [1, 0, 0, 0], { owner }),
      point('p2', [0, 1, 0, 0], { owner }),
      point('p3', [0, 0, 1, 0], { owner }),
    ];
    await store.upsert(a, 'Entity_name', pts('A'));
    await store.upsert(b, 'Entity_name', pts('B'));
    await store.upsert(b, 'TextSummary_text', [point('p1', [1, 0, 0, 0], { owner: 'B' })]);

    const hitsA = await store.search(a, 'Entity_name', [1, 0, 0, 0], { limit: 10 });
    const hitsB = await store.search(b, 'Entity_name', [1, 0, 0, 0], { limit: 10 });
    assert.equal(hitsA.length, 3);
    assert.equal(hitsB.length, 3);
    assert.ok(hitsA.every((h) => h.payload.owner === 'A'));
    assert.ok(hitsB.every((h) => h.payload.owner === 'B'));
    assert.deepEqual(await store.collections(a), ['Entity_name']);
    assert.deepEqual(await store.collections(b), ['Entity_name', 'TextSummary_text']);

    await store.upsert(a, 'Entity_name', [point('p1', [0, 0, 0, 1], { owner: 'A2' })]);
    const b1 = await store.search(b, 'Entity_name', [1, 0, 0, 0], { limit: 1 });
    assert.equal(b1[0]!.id, 'p1');
    assert.equal(b1[0]!.payload.owner, 'B');
    assert.ok(b1[0]!.score < 1e-6);

    await store.deleteIds(a, 'Entity_name', ['p2']);
    assert.deepEqual((await store.search(a, 'Entity_name', [0, 1, 0, 0], { limit: 10 })).map((h) => h.id).sort(), ['p1', 'p3']);
    assert.deepEqual((await store.search(b, 'Entity_name', [0, 1, 0, 0], { limit: 10 })).map((h) => h.id).sort(), ['p1', 'p2', 'p3']);

    await store.deleteDataset(a);
    assert.deepEqual(await store.search(a, 'Entity_name', [1, 0, 0, 0], { limit: 10 }), []);
    assert.deepEqual(await store.collections(a), []);
    assert.equal((await store.search(b, 'Entity_name', [1, 0, 0, 0], { limit: 10 })).length, 3);
    assert.equal((await store.search(b, 'TextSummary_text', [1, 0, 0, 0], { limit: 10 })).length, 1);
    assert.deepEqual(await store.collections(b), ['Entity_name', 'TextSummary_text']);
    const counts = await pool.query<{ dataset_id: string; n: number }>(
      `SELECT dataset_id, count(*)::int AS n FROM "${schema}"."Entity_name" WHERE dataset_id = ANY($1::text[]) GROUP BY dataset_id`,
      [[a, b]],
    );
    assert.deepEqual(counts.rows, [{ dataset_id: b, n: 3 }]);
  });

  test('two schemas are independent stores', async () => {
    const other = await PgVectorStore.open({ pool, schema: freshSchema(), dimensions: DIM });
    const ds = randomUUID();
    await store.upsert(ds, 'Split_t', [point('x', [1, 0, 0, 0], { where: 'first' })]);
    await other.upsert(ds, 'Split_t', [point('x', [1, 0, 0, 0], { where: 'second' }), point('y', [0, 1, 0, 0], { where: 'second' })]);
    assert.deepEqual(
      (await store.search(ds, 'Split_t', [1, 0, 0, 0], { limit: 5 })).map((h) => [h.id, h.payload.where]),
      [['x', 'first']],
    );
    assert.equal((await other.search(ds, 'Split_t', [1, 0, 0, 0], { limit: 5 })).length, 2);
    await other.deleteDataset(ds);
    assert.deepEqual(await other.collections(ds), []);
    assert.deepEqual(await store.collections(ds), ['Split_t']);
    await dropSchema(pool, other.schema);
    await dropSchema(pool, other.schema);
    assert.equal((await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [other.schema])).rowCount, 0);
    assert.equal((await store.search(ds, 'Split_t', [1, 0, 0, 0], { limit: 5 })).length, 1);
    // A store whose schema was dropped reads nothing and writes again into a new schema.
    assert.deepEqual(await other.search(ds, 'Split_t', [1, 0, 0, 0], { limit: 5 }), []);
    assert.deepEqual(await other.collections(ds), []);
    await other.deleteIds(ds, 'Split_t', ['x']);
    await other.deleteDataset(ds);
    await other.upsert(ds, 'Split_t', [point('z', [1, 0, 0, 0])]);
    assert.deepEqual((await other.search(ds, 'Split_t', [1, 0, 0, 0], { limit: 5 })).map((h) => h.id), ['z']);
    await other.close();
    await dropSchema(pool, other.schema);
  });

  test('upsert replaces points; the last duplicate of a call wins', async () => {
    const ds = randomUUID();
    await store.upsert(ds, 'Replace_me', [point('x', [1, 0, 0, 0], { v: 1 }), point('y', [0, 1, 0, 0], { v: 1, belongs_to_set: ['s'] })]);
    await store.upsert(ds, 'Replace_me', [point('x', [0, 0, 1, 0], { v: 2 }), point('x', [0, 0, 0, 1], { v: 3, belongs_to_set: ['s'] })]);
    await store.upsert(ds, 'Replace_me', [point('y', [0, 1, 0, 0], { v: 4 })]);
    const hits = await store.search(ds, 'Replace_me', [0, 0, 0, 1], { limit: 10 });
    assert.deepEqual(
      hits.map((h) => [h.id, h.payload.v]),
      [
        ['x', 3],
        ['y', 4],
      ],
    );
    assert.ok(hits[0]!.score < 1e-6);
    // y left set "s" when it was replaced.
    assert.deepEqual(
      (await store.search(ds, 'Replace_me', [0, 0, 0, 1], { limit: 10, nodeSets: ['s'] })).map((h) => h.id),
      ['x'],
    );
    await store.upsert(ds, 'Replace_me', []);
  });

  test('a missing collection searches to [] and deletes without error, and is not created', async () => {
    const ds = randomUUID();
    assert.deepEqual(await store.search(ds, 'Never_created', [1, 0, 0, 0], { limit: 5 }), []);
    await store.deleteIds(ds, 'Never_created', ['a']);
    assert.deepEqual(await store.collections(ds), []);
    await store.deleteDataset(ds);
    assert.equal((await pool.query('SELECT to_regclass($1) AS t', [`"${schema}"."Never_created"`])).rows[0].t, null);
  });

  test('collections lists only the collections holding a point of the dataset', async () => {
    const a = randomUUID();
    const b = randomUUID();
    await store.upsert(a, 'Col_one', [point('1', [1, 0, 0, 0])]);
    await store.upsert(a, 'Col_two', [point('2', [1, 0, 0, 0])]);
    await store.upsert(b, 'Col_three', [point('3', [1, 0, 0, 0])]);
    // A foreign table in the schema is not a collection.
    await pool.query(`CREATE TABLE IF NOT EXISTS "${schema}"."Foreign_t" (dataset_id text, other int)`);
    await pool.query(`INSERT INTO "${schema}"."Foreign_t" VALUES ($1, 1)`, [a]);
    assert.deepEqual(await store.collections(a), ['Col_one', 'Col_two']);
    assert.deepEqual(await store.collections(b), ['Col_three']);
    await store.deleteIds(a, 'Col_one', ['1']);
    assert.deepEqual(await store.collections(a), ['Col_two']);
    await store.deleteDataset(a);
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM "${schema}"."Foreign_t"`)).rows[0].n, 1);
  });

  test('nodeSets keeps only points of those sets and still fills the limit', async () => {
    const ds = randomUUID();
    const other = randomUUID();
    const pts: VectorPoint[] = [];
    for (let i = 0; i < 40; i++) pts.push(point(`free${i}`, [1, 0.01 * i, 0, 0]));
    for (let i = 0; i < 5; i++) {
      const set = i % 2 ? [{ id: 'n1', name: 'keep', type: 'NodeSet' }] : ['keep', 'other'];
      pts.push(point(`keep${i}`, [0.2, 1, 0.1 * i, 0], { belongs_to_set: set }));
    }
    for (let i = 0; i < 20; i++) pts.push(point(`trap${i}`, [1, 0.001 * i, 0, 0], { belongs_to_set: ['x","keep'] }));
    await store.upsert(ds, 'Sets_test', pts);
    await store.upsert(other, 'Sets_test', [point('keep0', [1, 0, 0, 0], { belongs_to_set: ['keep'] })]);

    const hits = await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 3, nodeSets: ['keep'] });
    assert.equal(hits.length, 3);
    assert.ok(hits.every((h) => h.id.startsWith('keep')), hits.map((h) => h.id).join());
    assert.ok(hits.every((h) => nodeSetNames(h.payload.belongs_to_set).includes('keep')));
    assert.ok(hits[0]!.score <= hits[1]!.score && hits[1]!.score <= hits[2]!.score);
    assert.equal((await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 10, nodeSets: ['keep', 'nope'] })).length, 5);
    assert.deepEqual(
      (await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 30, nodeSets: ['x","keep'] })).map((h) => h.id).sort(),
      Array.from({ length: 20 }, (_, i) => `trap${i}`).sort(),
    );
    assert.deepEqual(await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 3, nodeSets: ['nope'] }), []);
    assert.equal((await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 100, nodeSets: [] })).length, 65);
  });

  test('invalid names, dataset ids, vectors and limits are refused', async () => {
    const ds = randomUUID();
    const ok = [point('a', [1, 0, 0, 0])];
    const names = ['', '1abc', '_x', 'a-b', 'a b', "x'; DROP TABLE t; --", 'x"y', 'Entity_name"; DROP SCHEMA x; --', 'é', 'A'.repeat(64), '../etc'];
    for (const name of names) {
      await assert.rejects(store.upsert(ds, name, ok), /collection name/, name);
      await assert.rejects(store.search(ds, name, [1, 0, 0, 0], { limit: 1 }), /collection name/, name);
      await assert.rejects(store.deleteIds(ds, name, ['a']), /collection name/, name);
    }
    for (const bad of ['', 'not-a-uuid', `${randomUUID()}' OR '1'='1`, "' OR 1=1 --"]) {
      await assert.rejects(store.upsert(bad, 'Valid_name', ok), /dataset id/);
      await assert.rejects(store.search(bad, 'Valid_name', [1, 0, 0, 0], { limit: 1 }), /dataset id/);
      await assert.rejects(store.collections(bad), /dataset id/);
      await assert.rejects(store.deleteIds(bad, 'Valid_name', ['a']), /dataset id/);
      await assert.rejects(store.deleteDataset(bad), /dataset id/);
    }
    await assert.rejects(store.upsert(ds, 'Valid_name', [point('a', [1, 0, 0])]), /dimensions/);
    await assert.rejects(store.upsert(ds, 'Valid_name', [point('a', [1, 0, 0, 0, 0])]), /dimensions/);
    await assert.rejects(store.upsert(ds, 'Valid_name', [point('a', [1, 0, NaN, 0])]), /non-finite/);
    await assert.rejects(store.upsert(ds, 'Valid_name', [point('', [1, 0, 0, 0])]), /id/);
    await assert.rejects(store.search(ds, 'Valid_name', [1, 0], { limit: 1 }), /dimensions/);
    await assert.rejects(store.search(ds, 'Valid_name', [1, 0, 0, Infinity], { limit: 1 }), /non-finite/);
    await assert.rejects(store.search(ds, 'Valid_name', [1, 0, 0, 0], { limit: -1 }), /limit/);
    await assert.rejects(store.search(ds, 'Valid_name', [1, 0, 0, 0], { limit: 1.5 }), /limit/);
    await assert.rejects(store.upsert(ds, 'Valid_name', [point('good', [1, 0, 0, 0]), point('bad', [1, 0])]), /dimensions/);
    assert.deepEqual(await store.collections(ds), []);
    // Nothing was created or dropped by the refused names.
    const tables = await pool.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    assert.ok(tables.rows.every((t) => /^[A-Za-z][A-Za-z0-9_]*$/.test(t.relname)));
    assert.ok(!tables.rows.some((t) => t.relname === 'Valid_name'));
  });

  test('ids with quotes and backslashes are stored and deleted exactly', async () => {
    const ds = randomUUID();
    const ids = ["it's", "''", 'back\\slash', 'q"uote', "x' OR '1'='1", 'p%_*', 'ünï', '{a,b}', 'NULL'];
    await store.upsert(
      ds,
      'Odd_ids',
      ids.map((id, i) => point(id, [1, i, 0, 0])),
    );
    assert.deepEqual((await store.search(ds, 'Odd_ids', [1, 0, 0, 0], { limit: 20 })).map((h) => h.id).sort(), [...ids].sort());
    await store.deleteIds(ds, 'Odd_ids', ["x' OR '1'='1", "it's", 'back\\slash', '{a,b}']);
    assert.deepEqual((await store.search(ds, 'Odd_ids', [1, 0, 0, 0], { limit: 20 })).map((h) => h.id).sort(), ["''", 'NULL', 'p%_*', 'q"uote', 'ünï'].sort());
  });

  test('large upserts span several statements in one transaction', async () => {
    const ds = randomUUID();
    const pts = Array.from({ length: 1234 }, (_, i) => point(`id${i}`, [1, i / 1234, 0, 0], { i }));
    await store.upsert(ds, 'Many_ids', pts);
    const all = await store.search(ds, 'Many_ids', [1, 0, 0, 0], { limit: 5000 });
    assert.equal(all.length, 1234);
    assert.deepEqual(all[0]!.payload, { id: 'id0', i: 0 });
    // A failing batch (the third statement) rolls back the whole call.
    const bad = Array.from({ length: 1200 }, (_, i) => point(`new${String(i).padStart(4, '0')}`, [0, 1, 0, 0], { i }));
    bad[1100] = { id: 'new1100', vector: [0, 1, 0, 0], payload: { bad: 'nul \u0000 in jsonb' } };
    await assert.rejects(store.upsert(ds, 'Many_ids', bad), /unsupported Unicode escape/);
    assert.equal((await store.search(ds, 'Many_ids', [1, 0, 0, 0], { limit: 5000 })).length, 1234);
    await store.deleteIds(
      ds,
      'Many_ids',
      pts.slice(0, 1100).map((p) => p.id),
    );
    const left = await store.search(ds, 'Many_ids', [1, 0, 0, 0], { limit: 2000 });
    assert.deepEqual(left.map((h) => h.id).sort(), pts.slice(1100).map((p) => p.id).sort());
  });

  test('concurrent upserts into one new table lose no rows', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const second = await PgVectorStore.open({ pool: server.pool(3), schema, dimensions: DIM });
    const writes: Promise<void>[] = [];
    for (let w = 0; w < 25; w++) {
      for (const ds of [a, b]) {
        const target = w % 2 ? second : store;
        writes.push(target.upsert(ds, 'Concurrent_t', [0, 1, 2, 3].map((k) => point(`w${w}k${k}`, [1, w, k, 0]))));
        // Overlapping points, written by both stores.
        writes.push(target.upsert(ds, 'Concurrent_t', [point('shared', [0, 0, 0, 1], { w })]));
      }
    }
    await Promise.all(writes);
    for (const ds of [a, b]) {
      const hits = await store.search(ds, 'Concurrent_t', [1, 0, 0, 0], { limit: 1000 });
      assert.equal(hits.length, 101);
      assert.equal(new Set(hits.map((h) => h.id)).size, 101);
    }
    await second.close();
  });

  test('search is exact: it matches a brute-force cosine ranking', async () => {
    const ds = randomUUID();
    const noise = randomUUID();
    const random = rng(7);
    const vec = () => Array.from({ length: DIM }, () => random() * 2 - 1);
    const pts = Array.from({ length: 1500 }, (_, i) => point(`v${i}`, vec()));
    await store.upsert(ds, 'Exact_t', pts);
    await store.upsert(
      noise,
      'Exact_t',
      pts.map((p) => point(p.id, [...p.vector])),
    );
    for (let q = 0; q < 20; q++) {
      const query = vec();
      const hits = await store.search(ds, 'Exact_t', query, { limit: 10 });
      const truth = pts.map((p) => ({ id: p.id, d: cosineDistance(query, p.vector) })).sort((x, y) => x.d - y.d);
      assert.equal(hits.length, 10);
      hits.forEach((hit, i) => {
        assert.ok(Math.abs(hit.score - truth[i]!.d) < 1e-4, `rank ${i}: ${hit.score} vs ${truth[i]!.d}`);
        assert.ok(Math.abs(cosineDistance(query, pts[Number(hit.id.slice(1))]!.vector) - hit.score) < 1e-4);
      });
    }
  });

  test('zero vectors have no neighbours', async () => {
    const ds = randomUUID();
    await store.upsert(ds, 'Zero_t', [point('zero', [0, 0, 0, 0]), point('one', [1, 0, 0, 0])]);
    assert.deepEqual(await store.search(ds, 'Zero_t', [0, 0, 0, 0], { limit: 5 }), []);
    assert.deepEqual(
      (await store.search(ds, 'Zero_t', [1, 1, 0, 0], { limit: 5 })).map((h) => h.id),
      ['one'],
    );
    assert.deepEqual(await store.collections(ds), ['Zero_t']);
  });

  test('a table of another dimension is refused', async () => {
    const own = freshSchema();
    const ds = randomUUID();
    const four = await PgVectorStore.open({ pool, schema: own, dimensions: 4 });
    await four.upsert(ds, 'Dim_t', [point('a', [1, 0, 0, 0])]);
    await four.close();
    const three = await PgVectorStore.open({ pool, schema: own, dimensions: 3 });
    await assert.rejects(three.upsert(ds, 'Dim_t', [point('b', [1, 0, 0])]), /expected vector\(3\)/);
    await three.close();
    await dropSchema(pool, own);
  });

  test('open fails clearly when the extension is missing and may not be created', async () => {
    const bare = await startPglite();
    try {
      const p = bare.pool();
      await assert.rejects(PgVectorStore.open({ pool: p, schema: 'bare_s', dimensions: DIM, createExtension: false }), /pgvector extension/);
      const s = await PgVectorStore.open({ pool: p, schema: 'bare_s', dimensions: DIM });
      const ds = randomUUID();
      await s.upsert(ds, 'Works_t', [point('a', [1, 0, 0, 0])]);
      assert.equal((await s.search(ds, 'Works_t', [1, 0, 0, 0], { limit: 1 })).length, 1);
      await s.close();
    } finally {
      await bare.stop();
    }
  });

  test('it works on a single-connection pool, and close leaves the pool open', async () => {
    const single = server.pool(1);
    const own = freshSchema();
    const s = await PgVectorStore.open({ pool: single, schema: own, dimensions: DIM });
    const ds = randomUUID();
    await Promise.all(Array.from({ length: 5 }, (_, i) => s.upsert(ds, 'Single_t', [point(`s${i}`, [1, i, 0, 0])])));
    assert.equal((await s.search(ds, 'Single_t', [1, 0, 0, 0], { limit: 10 })).length, 5);
    await s.close();
    await s.close();
    await assert.rejects(s.search(ds, 'Single_t', [1, 0, 0, 0], { limit: 1 }), /closed/);
    await assert.rejects(s.upsert(ds, 'Single_t', [point('x', [1, 0, 0, 0])]), /closed/);
    await assert.rejects(s.collections(ds), /closed/);
    assert.equal((await single.query('SELECT 1 AS one')).rows[0].one, 1);
    // Another store on the same schema sees the data.
    const again = await PgVectorStore.open({ pool: single, schema: own, dimensions: DIM });
    assert.deepEqual(await again.collections(ds), ['Single_t']);
    await again.close();
    await dropSchema(single, own);
  });
});
