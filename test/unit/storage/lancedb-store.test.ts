import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LanceVectorStore, nodeSetNames } from '../../../src/storage/stores/lancedb.js';
import type { VectorStore } from '../../../src/storage/types.js';
import { DIM, point, rng, vectorStoreContract } from '../../helpers/vector-store-contract.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-lance-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The directory of each store the contract opened, so that it can open another store on it. */
const dirOf = new WeakMap<VectorStore, string>();
async function openLance(dir: string, dimensions = DIM): Promise<LanceVectorStore> {
  const store = await LanceVectorStore.open(dir, dimensions);
  dirOf.set(store, dir);
  return store;
}

// The contract every vector store is held to (the pgvector store runs it too, in
// test/unit/storage/pgvector-store.test.ts): search order and scores, replacement, node sets,
// collections, deletes, dataset isolation, validation, dimensions, concurrency and close. What
// follows is only what is LanceDB's own.
vectorStoreContract('LanceVectorStore', {
  open: (dimensions) => openLance(tempDir(), dimensions),
  reopen: (store, dimensions) => openLance(dirOf.get(store)!, dimensions),
  maxDimensions: 65_536,
  maxCollectionName: 128,
  otherDimensionRefusal: /vector size 4, expected 3/,
  // Two LanceVectorStores on one directory racing to create the same new table fail ("Table ...
  // was not found", in LanceDB's commit): here the concurrent writes all go through one store.
  concurrentStores: false,
});

describe('LanceVectorStore', () => {
  let store: LanceVectorStore;
  let dir: string;
  before(async () => {
    dir = tempDir();
    store = await LanceVectorStore.open(dir, DIM);
  });
  after(async () => {
    await store.close();
  });

  test('the search plan is a flat scan filtered by dataset, never an approximate index', async () => {
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
    const plan = await store.explainSearch(ds, 'Exact_t', vec(), 10);
    assert.match(plan, /KNNVectorDistance/);
    assert.doesNotMatch(plan, /ANN|Ivf|Hnsw/i);
    assert.match(plan, /dataset_id/);
  });

  test('many small writes (and the compactions they trigger) keep exactly the right points', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const expected = new Map<string, Set<string>>([
      [a, new Set()],
      [b, new Set()],
    ]);
    for (let i = 0; i < 60; i++) {
      const ds = i % 2 ? a : b;
      await store.upsert(ds, 'Compact_t', [point(`c${i}`, [1, i, 0, 0]), point(`shared${i % 7}`, [0, 1, i, 0])]);
      expected
        .get(ds)!
        .add(`c${i}`)
        .add(`shared${i % 7}`);
      if (i % 5 === 4) {
        await store.deleteIds(ds, 'Compact_t', [`c${i - 2}`, `shared${i % 3}`]);
        expected.get(ds)!.delete(`c${i - 2}`);
        expected.get(ds)!.delete(`shared${i % 3}`);
      }
    }
    for (const [ds, ids] of expected) {
      const hits = await store.search(ds, 'Compact_t', [1, 0, 0, 0], { limit: 500 });
      assert.deepEqual(hits.map((h) => h.id).sort(), [...ids].sort());
    }
  });

  test('a second store on the same directory sees the data at once, and after reopening', async () => {
    const ds = randomUUID();
    const second = await LanceVectorStore.open(dir, DIM);
    try {
      await store.upsert(ds, 'Shared_t', [point('s1', [1, 0, 0, 0])]);
      assert.deepEqual(
        (await second.search(ds, 'Shared_t', [1, 0, 0, 0], { limit: 5 })).map((h) => h.id),
        ['s1'],
      );
      await second.upsert(ds, 'Shared_t', [point('s2', [0, 1, 0, 0])]);
      assert.deepEqual(
        (await store.search(ds, 'Shared_t', [1, 0, 0, 0], { limit: 5 })).map((h) => h.id),
        ['s1', 's2'],
      );
      await second.deleteDataset(ds);
      assert.deepEqual(await store.search(ds, 'Shared_t', [1, 0, 0, 0], { limit: 5 }), []);
    } finally {
      await second.close();
    }
  });

  test('a search whose table another store creates meanwhile reads the new table (no stale "not found")', async () => {
    const ds = randomUUID();
    const reader = await LanceVectorStore.open(dir, DIM);
    const writer = await LanceVectorStore.open(dir, DIM);
    // The reader's first attempt to open the table fails (it does not exist yet); its answer is held
    // until the writer has created the table, as when the creation lands between the two steps.
    const db = (reader as unknown as { db: { openTable: (name: string) => Promise<unknown> } }).db;
    const open = db.openTable.bind(db);
    let failed!: () => void;
    const firstFailed = new Promise<void>((resolve) => (failed = resolve));
    let created!: () => void;
    const tableCreated = new Promise<void>((resolve) => (created = resolve));
    let calls = 0;
    db.openTable = async (name: string) => {
      calls += 1;
      if (calls > 1) return open(name);
      try {
        return await open(name);
      } catch (error) {
        failed();
        await tableCreated;
        throw error;
      }
    };
    try {
      const searching = reader.search(ds, 'Late_t', [1, 0, 0, 0], { limit: 5 });
      await firstFailed;
      await writer.upsert(ds, 'Late_t', [point('late', [1, 0, 0, 0])]);
      created();
      assert.deepEqual(
        (await searching).map((h) => h.id),
        ['late'],
      );
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  test('searches and a write racing on a new table of one store make one attempt to open it, and all succeed', async () => {
    const ds = randomUUID();
    const own = await LanceVectorStore.open(tempDir(), DIM);
    // Every attempt to open a table is held until released, so the calls below overlap for sure.
    const db = (own as unknown as { db: { openTable: (name: string) => Promise<unknown> } }).db;
    const open = db.openTable.bind(db);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    db.openTable = async (name: string) => {
      calls += 1;
      await released;
      return open(name);
    };
    try {
      const read = () => own.search(ds, 'Race_t', [0, 1, 0, 0], { limit: 5 });
      const all = Promise.all([read(), own.upsert(ds, 'Race_t', [point('p', [0, 1, 0, 0])]), read(), own.collections(ds)]);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(calls, 1);
      release();
      const [first, , second] = await all;
      for (const hits of [first, second]) assert.ok(hits.length === 0 || (hits.length === 1 && hits[0]!.id === 'p'), JSON.stringify(hits));
      assert.deepEqual(
        (await read()).map((h) => h.id),
        ['p'],
      );
    } finally {
      release();
      await own.close();
    }
  });

  test('data persists across close and reopen', async () => {
    const own = tempDir();
    const ds = randomUUID();
    const first = await LanceVectorStore.open(own, DIM);
    await first.upsert(ds, 'Persist_t', [point('kept', [0, 0, 1, 0], { text: 'still here' })]);
    await first.close();
    const again = await LanceVectorStore.open(own, DIM);
    try {
      const hits = await again.search(ds, 'Persist_t', [0, 0, 1, 0], { limit: 1 });
      assert.equal(hits[0]!.payload.text, 'still here');
      assert.deepEqual(await again.collections(ds), ['Persist_t']);
    } finally {
      await again.close();
    }
  });

  test('nodeSetNames reads strings and NodeSet objects', () => {
    assert.deepEqual(nodeSetNames(['b', { name: 'a', id: 'x' }, 'b', 3, null, { id: 'no name' }]), ['a', 'b']);
    assert.deepEqual(nodeSetNames('solo'), ['solo']);
    assert.deepEqual(nodeSetNames(undefined), []);
  });
});
