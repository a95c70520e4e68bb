import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { dropSchema, PgVectorStore } from '../../../src/storage/stores/pgvector.js';
import { startPglite, type PgliteServer } from '../../helpers/pglite.js';
import { DIM, point, vectorStoreContract } from '../../helpers/vector-store-contract.js';

let schemaCounter = 0;
function freshSchema(): string {
  return `vec_t${process.pid}_${++schemaCounter}`;
}

// One PGlite (with pgvector) for the whole file; started before any suite's hooks run.
let server: PgliteServer;
let pool: pg.Pool;
before(async () => {
  server = await startPglite();
  pool = server.pool(4);
});
after(async () => {
  await server?.stop();
});

// The contract every vector store is held to (the LanceDB store runs it too, in
// test/unit/storage/lancedb-store.test.ts): search order and scores, replacement, node sets,
// collections, deletes, dataset isolation, validation, dimensions, concurrency (two stores on one
// schema, each on its own pool) and close. What follows is only what is pgvector's own.
vectorStoreContract('PgVectorStore', {
  open: (dimensions = DIM) => PgVectorStore.open({ pool, schema: freshSchema(), dimensions }),
  reopen: (store, dimensions = DIM) => PgVectorStore.open({ pool: server.pool(3), schema: (store as PgVectorStore).schema, dimensions }),
  maxDimensions: 16_000,
  // PostgreSQL truncates identifiers to 63 bytes.
  maxCollectionName: 63,
  otherDimensionRefusal: /expected vector\(3\)/,
  otherDimensionSearchRefusal: /different vector dimensions/,
});

describe('PgVectorStore', () => {
  let store: PgVectorStore;
  let schema: string;

  before(async () => {
    schema = freshSchema();
    store = await PgVectorStore.open({ pool, schema, dimensions: DIM });
  });
  after(async () => {
    await store?.close();
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
    for (const bad of [
      '',
      'Upper',
      '1abc',
      'a-b',
      'a"b',
      'x"; DROP SCHEMA public CASCADE; --',
      "x'y",
      'a b',
      'pg_catalog',
      'pg_x',
      'information_schema',
      'a'.repeat(64),
    ]) {
      await assert.rejects(PgVectorStore.open({ pool, schema: bad, dimensions: DIM }), /schema name/, bad);
      await assert.rejects(dropSchema(pool, bad), /schema name/, bad);
    }
    // Invalid dimensions: the contract's "open refuses invalid dimensions".
    await assert.rejects(dropSchema(pool, 'public'), /public/);
    const schemas = await pool.query('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])', [['Upper', 'a"b', 'x']]);
    assert.equal(schemas.rowCount, 0);
  });

  test('a collection table has the documented shape', async () => {
    const ds = randomUUID();
    await store.upsert(ds, 'DocumentChunk_text', [point('same', [1, 0, 0, 0], { text: 'héllo' })]);
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

  test('deleteDataset removes the rows of the dataset and no other', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const pts = (owner: string) => [point('p1', [1, 0, 0, 0], { owner }), point('p2', [0, 1, 0, 0], { owner }), point('p3', [0, 0, 1, 0], { owner })];
    await store.upsert(a, 'Entity_name', pts('A'));
    await store.upsert(b, 'Entity_name', pts('B'));
    await store.deleteIds(a, 'Entity_name', ['p2']);
    await store.deleteDataset(a);
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
    assert.deepEqual(
      (await other.search(ds, 'Split_t', [1, 0, 0, 0], { limit: 5 })).map((h) => h.id),
      ['z'],
    );
    await other.close();
    await dropSchema(pool, other.schema);
  });

  test('a missing collection is not created by search, deleteIds or deleteDataset', async () => {
    const ds = randomUUID();
    assert.deepEqual(await store.search(ds, 'Never_created', [1, 0, 0, 0], { limit: 5 }), []);
    await store.deleteIds(ds, 'Never_created', ['a']);
    assert.deepEqual(await store.collections(ds), []);
    await store.deleteDataset(ds);
    assert.equal((await pool.query('SELECT to_regclass($1) AS t', [`"${schema}"."Never_created"`])).rows[0].t, null);
  });

  test('a foreign table in the schema is not a collection, and deleteDataset leaves it alone', async () => {
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

  test('refused names, dataset ids and vectors create and drop nothing', async () => {
    // The contract's refusals again, on a store whose schema this file can inspect afterwards.
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

  test('a large upsert runs in one transaction: a failing batch rolls back the whole call', async () => {
    const ds = randomUUID();
    const pts = Array.from({ length: 1234 }, (_, i) => point(`id${i}`, [1, i / 1234, 0, 0], { i }));
    await store.upsert(ds, 'Many_ids', pts);
    // A failing batch (the third statement) rolls back the whole call.
    const bad = Array.from({ length: 1200 }, (_, i) => point(`new${String(i).padStart(4, '0')}`, [0, 1, 0, 0], { i }));
    bad[1100] = { id: 'new1100', vector: [0, 1, 0, 0], payload: { bad: 'nul \u0000 in jsonb' } };
    await assert.rejects(store.upsert(ds, 'Many_ids', bad), /unsupported Unicode escape/);
    assert.equal((await store.search(ds, 'Many_ids', [1, 0, 0, 0], { limit: 5000 })).length, 1234);
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
