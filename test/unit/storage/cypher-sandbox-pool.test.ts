import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { CypherSandbox, CypherSandboxError, residentBytes } from '../../../src/storage/cypher-sandbox/sandbox.js';
import { GraphQueryAnswerTooLargeError, GraphQueryMemoryError, GraphQueryTimeoutError } from '../../../src/storage/stores/common.js';
import type { CopyNodeRow, SandboxGraph } from '../../../src/storage/types.js';

/**
 * The Cypher sandbox's warm processes (CYPHER_SANDBOX_POOL_SIZE): started ahead of the queries,
 * each serving exactly one query, so a dataset's data never reaches another query; a process
 * stopped at a limit (or by an error) is gone and replaced; `close` leaves none behind; size 0
 * starts a process per query as before. No assertion on timing.
 */

/** Allocates a list of 200 million integers as fast as Kuzu can (only ever in a capped child). */
const ALLOCATE = 'UNWIND range(1, 200000000) AS x RETURN collect(x)';
/** Ten billion rows streamed in little memory: busy for minutes unless it is stopped. */
const SLOW = 'UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x, y WHERE (x + y) % 7 = 10 RETURN count(*) AS c';
const NAMES = 'MATCH (n:Node) RETURN n.name AS name, n.dataset_id AS ds ORDER BY name';
const TS = '2024-05-01T10:00:00.000Z';

function graphOf(dataset: string, names: string[]): SandboxGraph {
  const nodes = names.map(
    (name, i): CopyNodeRow => ({
      pk: `${dataset}:n${i}`,
      id: `n${i}`,
      dataset_id: dataset,
      name,
      type: 'Entity',
      properties: '{}',
      created_at: TS,
      updated_at: TS,
    }),
  );
  const edges = names.slice(1).map((_, i) => ({
    source: `${dataset}:n${i}`,
    target: `${dataset}:n${i + 1}`,
    relationship_name: 'next',
    properties: '{}',
    created_at: TS,
    updated_at: TS,
  }));
  return { nodes, edges };
}

const ALPHA = graphOf('alpha', ['Alpha secret one', 'Alpha secret two']);
const BETA = graphOf('beta', ['Beta public']);
const limits = { timeoutMs: 20_000, maxRows: 100 };

/**
 * Whether the process is gone (no /proc entry), waiting for it up to a minute: the sandbox kills a
 * process once it has its answer, without waiting for the kernel to tear it down.
 */
async function gone(pid: number): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while ((await residentBytes(pid)) !== undefined) {
    if (Date.now() > deadline) return false;
    await new Promise((done) => setTimeout(done, 20));
  }
  return true;
}

describe('cypher sandbox pool', () => {
  it('size 0: each query starts its own process and none waits afterwards', async () => {
    const pids: number[] = [];
    const sandbox = new CypherSandbox({ poolSize: 0, onSpawn: (pid) => pids.push(pid) });
    try {
      assert.deepEqual(await sandbox.run(BETA, NAMES, limits), [{ name: 'Beta public', ds: 'beta' }]);
      assert.deepEqual(await sandbox.run(BETA, 'RETURN 1 AS one', limits), [{ one: 1 }]);
      assert.equal(pids.length, 2);
      assert.deepEqual(sandbox.idlePids, []);
      for (const pid of pids) assert.ok(await gone(pid), `process ${pid} is still there`);
    } finally {
      await sandbox.close();
    }
  });

  it('a query runs on a waiting process, which serves no other query: it is gone and replaced', async () => {
    const pids: number[] = [];
    const sandbox = new CypherSandbox({ poolSize: 1, maxMemoryMb: 512, onSpawn: (pid) => pids.push(pid) });
    try {
      await sandbox.warmUp();
      const [first] = sandbox.idlePids;
      assert.ok(first !== undefined);
      assert.deepEqual(pids, [first]);
      // A waiting process holds its empty copy within the memory limit.
      const idleRss = await residentBytes(first);
      assert.ok(idleRss !== undefined && idleRss < 512 * 1024 * 1024, `a waiting process holds ${idleRss} bytes`);

      assert.deepEqual(await sandbox.run(BETA, NAMES, limits), [{ name: 'Beta public', ds: 'beta' }]);
      // The waiting process took the query (no third start) and is gone; its replacement waits.
      assert.ok(await gone(first), 'the process that served the query is still there');
      await sandbox.warmUp();
      assert.equal(pids.length, 2);
      assert.deepEqual(sandbox.idlePids, [pids[1]]);
    } finally {
      await sandbox.close();
    }
  });

  it("two consecutive queries on different datasets: the second sees none of the first's data", async () => {
    const sandbox = new CypherSandbox({ poolSize: 2 });
    try {
      await sandbox.warmUp();
      assert.deepEqual(await sandbox.run(ALPHA, NAMES, limits), [
        { name: 'Alpha secret one', ds: 'alpha' },
        { name: 'Alpha secret two', ds: 'alpha' },
      ]);
      // Whichever waiting process serves them, the other datasets' queries see their own rows only.
      for (let round = 0; round < 3; round++) {
        assert.deepEqual(await sandbox.run(BETA, NAMES, limits), [{ name: 'Beta public', ds: 'beta' }]);
        assert.deepEqual(await sandbox.run(BETA, "MATCH (n:Node) WHERE n.name CONTAINS 'Alpha' OR n.dataset_id = 'alpha' RETURN n", limits), []);
        assert.deepEqual(await sandbox.run(BETA, 'MATCH ()-[e:EDGE]->() RETURN count(e) AS c', limits), [{ c: 0 }]);
        assert.deepEqual(await sandbox.run({ nodes: [], edges: [] }, 'MATCH (n) RETURN count(n) AS c', limits), [{ c: 0 }]);
      }
    } finally {
      await sandbox.close();
    }
  });

  it('a process stopped at a limit or by an error is gone and replaced by a fresh one; the next query answers', async () => {
    const pids: number[] = [];
    const sandbox = new CypherSandbox({ poolSize: 1, maxMemoryMb: 256, maxAnswerBytes: 20_000, onSpawn: (pid) => pids.push(pid) });
    const big = `UNWIND range(1, 100) AS x RETURN x, '${'a'.repeat(500)}' AS padding`;
    const failures: Array<[string, { timeoutMs: number; maxRows: number }, (error: unknown) => boolean]> = [
      [ALLOCATE, { timeoutMs: 30_000, maxRows: 10 }, (e) => e instanceof GraphQueryMemoryError],
      [SLOW, { timeoutMs: 1000, maxRows: 10 }, (e) => e instanceof GraphQueryTimeoutError],
      [big, { timeoutMs: 20_000, maxRows: 1000 }, (e) => e instanceof GraphQueryAnswerTooLargeError],
      ['MATCH (n) RETURN nonsense(', limits, (e) => e instanceof CypherSandboxError && /parser/i.test(e.message)],
    ];
    try {
      for (const [query, queryLimits, expected] of failures) {
        await sandbox.warmUp();
        const [waiting] = sandbox.idlePids;
        assert.ok(waiting !== undefined);
        await assert.rejects(sandbox.run(ALPHA, query, queryLimits), (error: unknown) => {
          assert.ok(expected(error), `${query}: ${String(error)}`);
          return true;
        });
        assert.ok(await gone(waiting), `the process stopped by ${query} is still there`);
        await sandbox.warmUp();
        const [replacement] = sandbox.idlePids;
        assert.ok(replacement !== undefined && replacement !== waiting, 'a fresh process waits');
      }
      assert.equal(new Set(pids).size, failures.length + 1);
      assert.deepEqual(await sandbox.run(BETA, NAMES, limits), [{ name: 'Beta public', ds: 'beta' }]);
      assert.equal(sandbox.active, 0);
    } finally {
      await sandbox.close();
    }
  });

  it('fills on the first query, and close kills the waiting processes and starts no more', async () => {
    const pids: number[] = [];
    const sandbox = new CypherSandbox({ poolSize: 2, onSpawn: (pid) => pids.push(pid) });
    assert.deepEqual(pids, [], 'nothing starts before a query');
    assert.deepEqual(await sandbox.run(BETA, 'RETURN 1 AS one', limits), [{ one: 1 }]);
    await sandbox.warmUp();
    const waiting = sandbox.idlePids;
    assert.equal(waiting.length, 2);
    await sandbox.close();
    assert.deepEqual(sandbox.idlePids, []);
    for (const pid of pids) assert.ok(await gone(pid), `process ${pid} is still there`);
    // Later queries still answer, each in its own process, and none is left waiting.
    assert.deepEqual(await sandbox.run(BETA, 'RETURN 2 AS two', limits), [{ two: 2 }]);
    assert.deepEqual(sandbox.idlePids, []);
    for (const pid of pids) assert.ok(await gone(pid), `process ${pid} is still there`);
  });
});

describe('CYPHER_SANDBOX_POOL_SIZE', () => {
  const load = (env: Record<string, string>) => loadConfig(env, mkdtempSync(join(tmpdir(), 'engram-config-')));

  it('defaults to 2, takes 0 (a process per query) to 16, and refuses anything else naming the variable', () => {
    assert.equal(load({}).memory.cypherSandboxPoolSize, 2);
    assert.equal(load({ CYPHER_SANDBOX_POOL_SIZE: '0' }).memory.cypherSandboxPoolSize, 0);
    assert.equal(load({ CYPHER_SANDBOX_POOL_SIZE: '16' }).memory.cypherSandboxPoolSize, 16);
    for (const value of ['-1', '17', 'two', '1.5']) {
      assert.throws(
        () => load({ CYPHER_SANDBOX_POOL_SIZE: value }),
        (error: unknown) => error instanceof ConfigError && error.message.startsWith('CYPHER_SANDBOX_POOL_SIZE'),
        value,
      );
    }
  });
});
