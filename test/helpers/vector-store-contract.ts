/**
 * The VectorStore contract (src/storage/types.ts) as one suite, run against every vector store:
 * the LanceDB store (test/unit/storage/lancedb-store.test.ts) and the pgvector store on PGlite
 * (test/unit/storage/pgvector-store.test.ts). One store is opened for the describe block; the cases
 * about opening, reopening and closing open their own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { nodeSetNames } from '../../src/storage/stores/common.js';
import type { VectorPoint, VectorStore } from '../../src/storage/types.js';

/** The dimension of the stores under test. */
export const DIM = 4;

export function point(id: string, vector: number[], payload: Record<string, unknown> = {}): VectorPoint {
  return { id, vector, payload: { id, ...payload } };
}

/** A deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function cosineDistance(a: readonly number[], b: readonly number[]): number {
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

export interface VectorContractOptions {
  /** Opens a new store on new, empty storage (a new directory, a new schema); DIM dimensions by default. */
  readonly open: (dimensions?: number) => Promise<VectorStore>;
  /** Opens another store on the same storage as `store` (which may be closed); DIM dimensions by default. */
  readonly reopen: (store: VectorStore, dimensions?: number) => Promise<VectorStore>;
  /** The largest dimension the store accepts: one more is refused. */
  readonly maxDimensions: number;
  /** The longest collection name the store accepts: one character more is refused. */
  readonly maxCollectionName: number;
  /** What the store says when it meets a table made with other dimensions (upsert). */
  readonly otherDimensionRefusal: RegExp;
  /** What a search of such a table says; `otherDimensionRefusal` by default. */
  readonly otherDimensionSearchRefusal?: RegExp;
  /**
   * Whether two stores on the same storage may write into one new table at the same time (true by
   * default); false where only one store per storage is supported, the concurrent writes then all
   * go through one store.
   */
  readonly concurrentStores?: boolean;
}

export function vectorStoreContract(label: string, options: VectorContractOptions): void {
  describe(`${label}: VectorStore contract`, () => {
    let store: VectorStore;
    before(async () => {
      store = await options.open();
    });
    after(async () => {
      await store.close();
    });

    test('open refuses invalid dimensions', async () => {
      for (const dims of [0, -1, 2.5, options.maxDimensions + 1]) {
        await assert.rejects(options.open(dims), /dimensions/, String(dims));
      }
      assert.equal(store.dimensions, DIM);
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
    });

    test('two datasets with the same ids and vectors never see or touch each other', async () => {
      const a = randomUUID();
      const b = randomUUID();
      const pts = (owner: string) => [point('p1', [1, 0, 0, 0], { owner }), point('p2', [0, 1, 0, 0], { owner }), point('p3', [0, 0, 1, 0], { owner })];
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

      // Replacing A's p1 leaves B's p1 alone.
      await store.upsert(a, 'Entity_name', [point('p1', [0, 0, 0, 1], { owner: 'A2' })]);
      const b1 = await store.search(b, 'Entity_name', [1, 0, 0, 0], { limit: 1 });
      assert.equal(b1[0]!.id, 'p1');
      assert.equal(b1[0]!.payload.owner, 'B');
      assert.ok(b1[0]!.score < 1e-6);

      // Deleting A's p2 leaves B's p2; presentIds sees each dataset's own points only.
      await store.deleteIds(a, 'Entity_name', ['p2']);
      assert.deepEqual([...(await store.presentIds(a, 'Entity_name', ['p1', 'p2', 'p3', 'nope']))].sort(), ['p1', 'p3']);
      assert.deepEqual([...(await store.presentIds(b, 'Entity_name', ['p2', 'nope']))].sort(), ['p2']);
      assert.deepEqual([...(await store.presentIds(a, 'Never_created', ['p1']))], []);
      assert.deepEqual([...(await store.presentIds(a, 'Entity_name', []))], []);
      assert.deepEqual((await store.search(a, 'Entity_name', [0, 1, 0, 0], { limit: 10 })).map((h) => h.id).sort(), ['p1', 'p3']);
      assert.deepEqual((await store.search(b, 'Entity_name', [0, 1, 0, 0], { limit: 10 })).map((h) => h.id).sort(), ['p1', 'p2', 'p3']);

      // Deleting dataset A leaves every point of B.
      await store.deleteDataset(a);
      assert.deepEqual(await store.search(a, 'Entity_name', [1, 0, 0, 0], { limit: 10 }), []);
      assert.deepEqual(await store.collections(a), []);
      assert.equal((await store.search(b, 'Entity_name', [1, 0, 0, 0], { limit: 10 })).length, 3);
      assert.equal((await store.search(b, 'TextSummary_text', [1, 0, 0, 0], { limit: 10 })).length, 1);
      assert.deepEqual(await store.collections(b), ['Entity_name', 'TextSummary_text']);
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

    test('a missing collection searches to [] and deletes without error', async () => {
      const ds = randomUUID();
      assert.deepEqual(await store.search(ds, 'Never_created', [1, 0, 0, 0], { limit: 5 }), []);
      await store.deleteIds(ds, 'Never_created', ['a']);
      assert.deepEqual(await store.collections(ds), []);
      await store.deleteDataset(ds);
    });

    test('collections lists only the collections holding a point of the dataset', async () => {
      const a = randomUUID();
      const b = randomUUID();
      await store.upsert(a, 'Col_one', [point('1', [1, 0, 0, 0])]);
      await store.upsert(a, 'Col_two', [point('2', [1, 0, 0, 0])]);
      await store.upsert(b, 'Col_three', [point('3', [1, 0, 0, 0])]);
      assert.deepEqual(await store.collections(a), ['Col_one', 'Col_two']);
      assert.deepEqual(await store.collections(b), ['Col_three']);
      await store.deleteIds(a, 'Col_one', ['1']);
      assert.deepEqual(await store.collections(a), ['Col_two']);
    });

    test('nodeSets keeps only points of those sets and still fills the limit', async () => {
      const ds = randomUUID();
      const other = randomUUID();
      const pts: VectorPoint[] = [];
      // 40 points without a set, nearest to the query.
      for (let i = 0; i < 40; i++) pts.push(point(`free${i}`, [1, 0.01 * i, 0, 0]));
      // 5 points of set "keep" (as NodeSet objects and as strings), further away.
      for (let i = 0; i < 5; i++) {
        const set = i % 2 ? [{ id: 'n1', name: 'keep', type: 'NodeSet' }] : ['keep', 'other'];
        pts.push(point(`keep${i}`, [0.2, 1, 0.1 * i, 0], { belongs_to_set: set }));
      }
      // 20 points whose set name holds quotes, so a substring test on "keep" would match them.
      for (let i = 0; i < 20; i++) pts.push(point(`trap${i}`, [1, 0.001 * i, 0, 0], { belongs_to_set: ['x","keep'] }));
      await store.upsert(ds, 'Sets_test', pts);
      // The other dataset has nearer points of set "keep": never returned.
      await store.upsert(other, 'Sets_test', [point('keep0', [1, 0, 0, 0], { belongs_to_set: ['keep'] })]);

      const hits = await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 3, nodeSets: ['keep'] });
      assert.equal(hits.length, 3);
      assert.ok(
        hits.every((h) => h.id.startsWith('keep')),
        hits.map((h) => h.id).join(),
      );
      assert.ok(hits.every((h) => nodeSetNames(h.payload.belongs_to_set).includes('keep')));
      assert.ok(hits[0]!.score <= hits[1]!.score && hits[1]!.score <= hits[2]!.score);
      assert.equal((await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 10, nodeSets: ['keep', 'nope'] })).length, 5);
      assert.deepEqual(
        (await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 30, nodeSets: ['x","keep'] })).map((h) => h.id).sort(),
        Array.from({ length: 20 }, (_, i) => `trap${i}`).sort(),
      );
      assert.deepEqual(await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 3, nodeSets: ['nope'] }), []);
      // An empty list does not filter.
      assert.equal((await store.search(ds, 'Sets_test', [1, 0, 0, 0], { limit: 100, nodeSets: [] })).length, 65);
    });

    test('invalid names, dataset ids, vectors and limits are refused', async () => {
      const ds = randomUUID();
      const ok = [point('a', [1, 0, 0, 0])];
      const tooLong = 'A'.repeat(options.maxCollectionName + 1);
      for (const name of ['', '1abc', '_x', 'a-b', 'a b', "x'; DROP TABLE t; --", 'x"y', 'Entity_name"; DROP SCHEMA x; --', 'é', tooLong, '../etc']) {
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
      // A rejected batch writes nothing, not even its valid points.
      await assert.rejects(store.upsert(ds, 'Valid_name', [point('good', [1, 0, 0, 0]), point('bad', [1, 0])]), /dimensions/);
      assert.deepEqual(await store.collections(ds), []);
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
      assert.deepEqual(
        (await store.search(ds, 'Odd_ids', [1, 0, 0, 0], { limit: 20 })).map((h) => h.id).sort(),
        ["''", 'NULL', 'p%_*', 'q"uote', 'ünï'].sort(),
      );
    });

    test('large upserts and many deleted ids are complete (they span several batches)', async () => {
      const ds = randomUUID();
      const pts = Array.from({ length: 1234 }, (_, i) => point(`id${i}`, [1, i / 1234, 0, 0], { i }));
      await store.upsert(ds, 'Many_ids', pts);
      const all = await store.search(ds, 'Many_ids', [1, 0, 0, 0], { limit: 5000 });
      assert.equal(all.length, 1234);
      assert.deepEqual(all[0]!.payload, { id: 'id0', i: 0 });
      await store.deleteIds(
        ds,
        'Many_ids',
        pts.slice(0, 1100).map((p) => p.id),
      );
      const left = await store.search(ds, 'Many_ids', [1, 0, 0, 0], { limit: 2000 });
      assert.deepEqual(
        left.map((h) => h.id).sort(),
        pts
          .slice(1100)
          .map((p) => p.id)
          .sort(),
      );
    });

    const writers = options.concurrentStores === false ? 'one store' : 'two stores';
    test(`concurrent upserts into one new table, from ${writers}, lose no rows`, async () => {
      const a = randomUUID();
      const b = randomUUID();
      const second = options.concurrentStores === false ? store : await options.reopen(store);
      try {
        const writes: Promise<void>[] = [];
        for (let w = 0; w < 25; w++) {
          for (const ds of [a, b]) {
            const target = w % 2 ? second : store;
            writes.push(
              target.upsert(
                ds,
                'Concurrent_t',
                [0, 1, 2, 3].map((k) => point(`w${w}k${k}`, [1, w, k, 0])),
              ),
            );
            // Overlapping points, written by both stores (or many times by one).
            writes.push(target.upsert(ds, 'Concurrent_t', [point('shared', [0, 0, 0, 1], { w })]));
          }
        }
        await Promise.all(writes);
        for (const ds of [a, b]) {
          const hits = await store.search(ds, 'Concurrent_t', [1, 0, 0, 0], { limit: 1000 });
          assert.equal(hits.length, 101);
          assert.equal(new Set(hits.map((h) => h.id)).size, 101);
        }
      } finally {
        if (second !== store) await second.close();
      }
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
      const ds = randomUUID();
      const four = await options.open(4);
      await four.upsert(ds, 'Dim_t', [point('a', [1, 0, 0, 0])]);
      await four.close();
      const three = await options.reopen(four, 3);
      try {
        await assert.rejects(three.upsert(ds, 'Dim_t', [point('b', [1, 0, 0])]), options.otherDimensionRefusal);
        await assert.rejects(three.search(ds, 'Dim_t', [1, 0, 0], { limit: 1 }), options.otherDimensionSearchRefusal ?? options.otherDimensionRefusal);
      } finally {
        await three.close();
      }
    });

    test('close waits for writes, is idempotent, and later calls fail', async () => {
      const ds = randomUUID();
      const s = await options.open();
      const write = s.upsert(ds, 'Close_t', [point('a', [1, 0, 0, 0])]);
      await s.close();
      await write;
      await s.close();
      await assert.rejects(s.search(ds, 'Close_t', [1, 0, 0, 0], { limit: 1 }), /closed/);
      await assert.rejects(s.upsert(ds, 'Close_t', [point('b', [1, 0, 0, 0])]), /closed/);
      await assert.rejects(s.collections(ds), /closed/);
      const reopened = await options.reopen(s);
      assert.deepEqual(
        (await reopened.search(ds, 'Close_t', [1, 0, 0, 0], { limit: 1 })).map((h) => h.id),
        ['a'],
      );
      await reopened.close();
    });
  });
}
