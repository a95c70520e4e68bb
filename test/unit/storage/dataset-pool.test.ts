import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { ApiError } from '../../../src/errors.js';
import { DatasetDatabases } from '../../../src/storage/datasets/pool.js';
import { openRelationalStore, type RelationalStore } from '../../../src/storage/index.js';
import { eventually } from '../../helpers/harness.js';
import { node } from '../../helpers/graph-store-contract.js';

/**
 * The pool of open dataset stores (multi-tenant mode, Kuzu + LanceDB per dataset): many more
 * datasets than places, used at once, all succeed without ever holding more than
 * DATABASE_MAX_LRU_CACHE_SIZE open; the least recently used idle dataset makes room; a dataset in
 * use is never closed under its user; a store that failed is closed and opened afresh; and each
 * Kuzu database reserves a bounded address space (Kuzu's default is 8 TiB, so about ten opened
 * at once exhaust the process).
 */

const MIB = 1024 * 1024;
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const owner = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const datasetId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

async function setup(env: Record<string, string>, count: number) {
  const root = mkdtempSync(join(tmpdir(), 'engram-pool-'));
  dirs.push(root);
  const config = loadConfig(
    {
      REQUIRE_AUTHENTICATION: 'true',
      ENABLE_BACKEND_ACCESS_CONTROL: 'true',
      SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
      DATA_ROOT_DIRECTORY: join(root, 'data'),
      ...env,
    },
    root,
  );
  const store: RelationalStore = openRelationalStore(config);
  await store.migrate();
  const now = new Date().toISOString();
  const datasets = Array.from({ length: count }, (_, i) => ({ id: datasetId(i), ownerId: owner }));
  for (const d of datasets) {
    await store.db
      .insertInto('datasets')
      .values({ id: d.id, name: `ds${d.id.slice(-4)}`, owner_id: owner, tenant_id: null, created_at: now, updated_at: now })
      .execute();
  }
  const pool = DatasetDatabases.create(config, store.db, undefined);
  return {
    root,
    pool,
    datasets,
    async close() {
      await pool.close();
      await store.close();
    },
  };
}

/** Writes one node into the dataset's graph and one vector into its vectors, then reads both back. */
async function roundTrip(pool: DatasetDatabases, dataset: { id: string; ownerId: string }, tag: string) {
  return pool.with(dataset, async ({ graph, vector }) => {
    await graph.upsertNodes(dataset.id, [node(`n-${tag}`, 'Entity', { tag })]);
    await vector.upsert(dataset.id, 'Entity_name', [{ id: `n-${tag}`, vector: [1, 0, 0, 0, 0, 0, 0, 0], payload: { tag } }]);
    const counts = await graph.counts(dataset.id);
    const hits = await vector.search(dataset.id, 'Entity_name', [1, 0, 0, 0, 0, 0, 0, 0], { limit: 10 });
    return { nodes: counts.nodes, hits: hits.length };
  });
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function vmSizeBytes(): number {
  const match = /VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(match![1]) * 1024;
}

describe('dataset store pool (multi-tenant)', () => {
  const env = { DATABASE_MAX_LRU_CACHE_SIZE: '4', EMBEDDING_DIMENSIONS: '8', KUZU_BUFFER_POOL_SIZE: String(64 * MIB), KUZU_MAX_DB_SIZE: String(1024 * MIB) };
  let s: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    s = await setup(env, 40);
  });
  after(() => s.close());

  test('40 datasets used at once through a pool of 4: every call succeeds, never more than 4 open', async () => {
    const settled = await Promise.allSettled(s.datasets.map((d, i) => roundTrip(s.pool, d, `a${i}`)));
    const failures = settled.flatMap((r, i) => (r.status === 'rejected' ? [`${i}: ${(r.reason as Error).message}`] : []));
    assert.deepEqual(failures, [], 'no call failed');
    for (const r of settled) assert.deepEqual((r as PromiseFulfilledResult<unknown>).value, { nodes: 1, hits: 1 });
    const stats = s.pool.stats();
    assert.ok(stats.peakOpen <= 4, `at most 4 datasets open at once, saw ${stats.peakOpen}`);
    assert.equal(stats.peakOpen, 4, 'the pool was used to its size');
    assert.ok(stats.evicted >= 36, `idle datasets made room for the others (${stats.evicted} evicted)`);
    assert.equal(stats.open, 4);
    assert.equal(stats.waiting, 0);
    assert.equal(stats.opened - stats.closed, 4, 'every store opened was closed, but the 4 the pool keeps');

    // A second round: the data of every dataset is still there, reopened as needed.
    const again = await Promise.all(s.datasets.map((d, i) => roundTrip(s.pool, d, `b${i}`)));
    for (const r of again) assert.deepEqual(r, { nodes: 2, hits: 2 });
    assert.ok(s.pool.stats().peakOpen <= 4);
  });

  test('the least recently used idle dataset makes room', async () => {
    const [a, b, c, d, e] = s.datasets.slice(0, 5) as [(typeof s.datasets)[0], ...(typeof s.datasets)[0][]];
    for (const x of [a, b, c, d]) await roundTrip(s.pool, x!, 'lru');
    await roundTrip(s.pool, a, 'lru'); // a is now the most recently used; b the least
    for (const x of [a, b, c, d]) assert.ok(s.pool.isOpen(x!.id));
    const evicted = s.pool.stats().evicted;
    await roundTrip(s.pool, e!, 'lru');
    assert.equal(s.pool.stats().evicted, evicted + 1);
    assert.equal(s.pool.isOpen(b!.id), false, 'the least recently used (b) was closed');
    for (const x of [a, c, d, e]) assert.ok(s.pool.isOpen(x!.id), 'the others stay open');
  });

  test('a call waits for a place when all are in use, and a dataset in use is never closed under its user', async () => {
    const held = s.datasets.slice(10, 14);
    const releases = held.map(() => deferred());
    const entered = held.map(() => deferred());
    const holders = held.map((d, i) =>
      s.pool.with(d, async ({ graph }) => {
        entered[i]!.resolve();
        await releases[i]!.promise;
        // Still usable after other datasets came and went.
        return (await graph.counts(d.id)).nodes;
      }),
    );
    await Promise.all(entered.map((x) => x.promise));
    // Every place is in use: the next datasets wait (they neither fail nor close a store in use).
    const waiting = s.datasets.slice(20, 26).map((d, i) => roundTrip(s.pool, d, `w${i}`));
    await eventually(async () => s.pool.stats().waiting === 6, 120_000);
    for (const d of held) assert.ok(s.pool.isOpen(d.id), 'the datasets in use stay open');
    assert.ok(s.pool.stats().open <= 4);
    // One place frees: the waiting datasets go through it, one after the other.
    releases[0]!.resolve();
    const results = await Promise.all(waiting);
    for (const r of results) assert.equal(r.hits >= 1, true);
    for (const d of held.slice(1)) assert.ok(s.pool.isOpen(d.id), 'still in use, still open');
    for (const r of releases) r.resolve();
    assert.deepEqual(await Promise.all(holders), [2, 2, 2, 2]);
    assert.ok(s.pool.stats().peakOpen <= 4);
  });

  test("a store error closes the dataset's stores (after its last user); a client's error does not", async () => {
    const d = s.datasets[30]!;
    await roundTrip(s.pool, d, 'err');
    assert.ok(s.pool.isOpen(d.id));
    await assert.rejects(
      s.pool.with(d, async () => {
        throw new ApiError(400, { detail: 'bad input' });
      }),
      ApiError,
    );
    assert.ok(s.pool.isOpen(d.id), "a client's error leaves the stores open");
    const closedBefore = s.pool.stats().closed;
    await assert.rejects(
      s.pool.with(d, async () => {
        throw new Error('the store broke');
      }),
      /the store broke/,
    );
    assert.equal(s.pool.isOpen(d.id), false, 'retired at once: no new user gets the broken stores');
    await eventually(async () => s.pool.stats().closed === closedBefore + 1, 120_000);
    // The next call opens the dataset afresh; its data is intact.
    assert.deepEqual(await roundTrip(s.pool, d, 'err2'), { nodes: 4, hits: 4 });
  });

  test('deleting a dataset waits for its users, then removes its databases', async () => {
    const d = s.datasets[31]!;
    await roundTrip(s.pool, d, 'del');
    const release = deferred();
    const entered = deferred();
    const user = s.pool.with(d, async ({ graph }) => {
      entered.resolve();
      await release.promise;
      return (await graph.counts(d.id)).nodes;
    });
    await entered.promise;
    let deleted = false;
    const deletion = s.pool.deleteDataset(d).then(() => (deleted = true));
    await new Promise((done) => setImmediate(done));
    assert.equal(deleted, false, 'the deletion waits for the user');
    release.resolve();
    assert.equal(await user, 3, 'the user finished on open stores');
    await deletion;
    assert.equal(s.pool.isOpen(d.id), false);
  });
});

describe('dataset store pool: reads and closes', () => {
  const env = { DATABASE_MAX_LRU_CACHE_SIZE: '1', EMBEDDING_DIMENSIONS: '8', KUZU_BUFFER_POOL_SIZE: String(64 * MIB), KUZU_MAX_DB_SIZE: String(1024 * MIB) };
  let s: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    s = await setup(env, 3);
  });
  after(() => s.close());

  const counts = (dataset: { id: string; ownerId: string }) =>
    s.pool.read(dataset, async ({ graph, vector }) => ({
      nodes: (await graph.counts(dataset.id)).nodes,
      hits: (await vector.search(dataset.id, 'Entity_name', [1, 0, 0, 0, 0, 0, 0, 0], { limit: 10 })).length,
    }));

  test('a read of a dataset without databases answers nothing, opening and creating no store; once written, reads see the stores', async () => {
    const [d] = s.datasets;
    const opened = s.pool.stats().opened;
    assert.deepEqual(await counts(d!), { nodes: 0, hits: 0 });
    assert.equal(s.pool.stats().opened, opened, 'no store opened');
    assert.equal(s.pool.isOpen(d!.id), false);
    assert.equal(existsSync(join(s.root, 'system', 'databases', owner, `${d!.id}.kuzu`)), false, 'no Kuzu database created');
    await assert.rejects(
      s.pool.read(d!, ({ graph }) => graph.upsertNodes(d!.id, [node('n', 'Entity')])),
      /no databases/,
    );
    await roundTrip(s.pool, d!, 'r');
    assert.deepEqual(await counts(d!), { nodes: 1, hits: 1 });
  });

  test('evicted stores close in a later turn of the event loop than the call that evicted them, keeping their place until closed', async () => {
    const [a, b] = s.datasets;
    await roundTrip(s.pool, a!, 'c');
    const closed = s.pool.stats().closed;
    let closedInTheCallsTurn: number | undefined;
    const next = roundTrip(s.pool, b!, 'c');
    setImmediate(() => (closedInTheCallsTurn = s.pool.stats().closed - closed));
    await next;
    assert.equal(closedInTheCallsTurn, 0, 'nothing closed in the turn of the call');
    assert.equal(s.pool.stats().closed, closed + 1);
    assert.equal(s.pool.stats().peakOpen, 1, 'never two datasets open in a pool of 1');
  });
});

describe('Kuzu address space per dataset', () => {
  test('opening a dataset reserves its buffer pool and maximum size, not Kuzu default 8 TiB', async () => {
    const s = await setup({ DATABASE_MAX_LRU_CACHE_SIZE: '4', EMBEDDING_DIMENSIONS: '8' }, 4);
    try {
      // Kuzu's defaults reserve 8 TiB per database (plus a buffer pool of 80% of the memory); the
      // defaults here reserve KUZU_BUFFER_POOL_SIZE (1 GiB) + KUZU_MAX_DB_SIZE (32 GiB).
      const bound = 33 * 1024 * MIB;
      for (const d of s.datasets) {
        const before = vmSizeBytes();
        await roundTrip(s.pool, d, 'vm');
        const grown = vmSizeBytes() - before;
        // The stores' own allocations (LanceDB, threads) come on top of Kuzu's reservation: 4 GiB of slack.
        assert.ok(grown < bound + 4096 * MIB, `one dataset reserved ${Math.round(grown / MIB)} MiB of address space`);
      }
      const config = loadConfig({}, process.cwd());
      assert.equal(config.memory.kuzuBufferPoolBytes, 1024 * MIB, 'default KUZU_BUFFER_POOL_SIZE: 1 GiB');
      assert.equal(config.memory.kuzuMaxDbBytes, 32 * 1024 * MIB, 'default KUZU_MAX_DB_SIZE: 32 GiB');
    } finally {
      await s.close();
    }
  });

  test('KUZU_MAX_DB_SIZE must be a power of 2, and all open databases must fit the address space', () => {
    assert.throws(
      () => loadConfig({ KUZU_MAX_DB_SIZE: String(3 * 1024 * MIB) }, process.cwd()),
      (e: Error) => e instanceof ConfigError && /power of 2/.test(e.message),
    );
    assert.throws(() => loadConfig({ KUZU_BUFFER_POOL_SIZE: String(MIB) }, process.cwd()), ConfigError);
    assert.throws(
      () => loadConfig({ DATABASE_MAX_LRU_CACHE_SIZE: '100', KUZU_MAX_DB_SIZE: String(8 * 1024 * 1024 * MIB) }, process.cwd()),
      (e: Error) => e instanceof ConfigError && /64 TiB/.test(e.message),
    );
    assert.throws(() => loadConfig({ SEARCH_MAX_CONCURRENT_DATASETS: '0' }, process.cwd()), ConfigError);
    const config = loadConfig(
      { KUZU_BUFFER_POOL_SIZE: String(256 * MIB), KUZU_MAX_DB_SIZE: String(1024 * MIB), SEARCH_MAX_CONCURRENT_DATASETS: '8' },
      process.cwd(),
    );
    assert.equal(config.memory.kuzuBufferPoolBytes, 256 * MIB);
    assert.equal(config.memory.kuzuMaxDbBytes, 1024 * MIB);
    assert.equal(config.memory.searchMaxConcurrentDatasets, 8);
  });
});
