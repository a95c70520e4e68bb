import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CypherSandbox, CypherSandboxError, STARTUP_MS, residentBytes, sandboxCommand, sandboxEnv } from '../../../src/storage/cypher-sandbox/sandbox.js';
import { GraphQueryAnswerTooLargeError, GraphQueryMemoryError, GraphQueryTimeoutError } from '../../../src/storage/stores/common.js';
import { openDatasetCopy, runReadOnly } from '../../../src/storage/cypher-sandbox/copy-engine.js';
import type { CopyEdgeRow, CopyNodeRow } from '../../../src/storage/types.js';

/**
 * The Cypher sandbox (D18): user Cypher runs in a child process the server kills past its time,
 * memory or answer size limit, a few at a time, with no secret in its environment.
 *
 * The two hostile queries below only ever run inside a sandbox child with a memory cap.
 */

/** Ignores CYPHER_TIMEOUT_MS in-process (Kuzu interrupts it after 16-28 s) and grows by GBs. */
const RANGE_DOS = 'UNWIND range(1, 30000000) AS x WITH x WHERE x % 7 = 10 RETURN count(x)';
/** Allocates a list of 200 million integers as fast as Kuzu can. */
const ALLOCATE = 'UNWIND range(1, 200000000) AS x RETURN collect(x)';
/** Ten billion rows streamed in little memory: busy for minutes unless it is stopped. */
const SLOW = 'UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x, y WHERE (x + y) % 7 = 10 RETURN count(*) AS c';

const TS = '2024-05-01T10:00:00.000Z';
const node = (id: string, name: string, type: string, properties: Record<string, unknown> = {}): CopyNodeRow => ({
  pk: `ds:${id}`,
  id,
  dataset_id: 'ds',
  name,
  type,
  properties: JSON.stringify(properties),
  created_at: TS,
  updated_at: '2024-05-02T11:30:00.123Z',
});
const edge = (source: string, target: string, relationship: string): CopyEdgeRow => ({
  source: `ds:${source}`,
  target: `ds:${target}`,
  relationship_name: relationship,
  properties: JSON.stringify({ weight: 1 }),
  created_at: TS,
  updated_at: TS,
});
const GRAPH = {
  nodes: [node('ada', 'Ada Lovelace', 'Person', { born: 1815 }), node('charles', 'Charles Babbage', 'Person'), node('engine', 'Analytical Engine', 'Machine')],
  edges: [edge('ada', 'charles', 'worked_with'), edge('charles', 'engine', 'designed')],
};

describe('cypher sandbox: limits', () => {
  it('stops the range query that ignored CYPHER_TIMEOUT_MS within the time limit plus start-up (timeout error)', async () => {
    // A memory cap far above what it reaches in a second, so that time is the limit hit.
    const sandbox = new CypherSandbox({ maxMemoryMb: 4096 });
    const started = Date.now();
    await assert.rejects(sandbox.run(GRAPH, RANGE_DOS, { timeoutMs: 1000, maxRows: 10 }), (error: unknown) => {
      assert.ok(error instanceof GraphQueryTimeoutError, String(error));
      assert.equal(error.limit, 'its time limit of 1000 ms (CYPHER_TIMEOUT_MS)');
      return true;
    });
    const elapsed = Date.now() - started;
    // The limit counts from the query's start; the child's start-up has its own allowance (STARTUP_MS for a small graph).
    assert.ok(elapsed >= 1000 && elapsed < 1000 + STARTUP_MS + 1000, `stopped after ${elapsed} ms`);
    assert.equal(sandbox.active, 0);
  });

  it('kills a query that allocates fast at the memory cap, and the server process does not grow', async () => {
    const pids: number[] = [];
    const sandbox = new CypherSandbox({ maxMemoryMb: 256, onSpawn: (pid) => pids.push(pid) });
    const before = process.memoryUsage().rss;
    const started = Date.now();
    await assert.rejects(sandbox.run(GRAPH, ALLOCATE, { timeoutMs: 30_000, maxRows: 10 }), (error: unknown) => {
      assert.ok(error instanceof GraphQueryMemoryError, String(error));
      assert.equal(error.limit, 'its memory limit of 256 MB (CYPHER_MAX_MEMORY_MB)');
      return true;
    });
    const elapsed = Date.now() - started;
    const after = process.memoryUsage().rss;
    assert.ok(elapsed < 10_000, `killed after ${elapsed} ms`);
    assert.ok(after - before < 100 * 1024 * 1024, `the parent grew by ${Math.round((after - before) / 1e6)} MB`);
    // The child is gone.
    assert.equal(pids.length, 1);
    assert.equal(await residentBytes(pids[0]!), undefined);
    // The range query is stopped by the memory cap too when that comes first.
    await assert.rejects(sandbox.run(GRAPH, RANGE_DOS, { timeoutMs: 30_000, maxRows: 10 }), GraphQueryMemoryError);
  });

  it('refuses an answer larger than the size limit', async () => {
    const sandbox = new CypherSandbox({ maxAnswerBytes: 20_000 });
    const big = `UNWIND range(1, 100) AS x RETURN x, '${'a'.repeat(500)}' AS padding`;
    await assert.rejects(sandbox.run(GRAPH, big, { timeoutMs: 5000, maxRows: 1000 }), (error: unknown) => {
      assert.ok(error instanceof GraphQueryAnswerTooLargeError, String(error));
      assert.equal(error.limit, 'its answer size limit of 20000 bytes');
      return true;
    });
    // Within the limit it is answered.
    assert.equal((await sandbox.run(GRAPH, big, { timeoutMs: 5000, maxRows: 10 })).length, 10);
  });

  it('reads at most maxRows rows', async () => {
    const sandbox = new CypherSandbox();
    const rows = await sandbox.run(GRAPH, 'UNWIND range(1, 5000) AS x RETURN x', { timeoutMs: 5000, maxRows: 7 });
    assert.deepEqual(
      rows,
      [1, 2, 3, 4, 5, 6, 7].map((x) => ({ x })),
    );
    assert.deepEqual(await sandbox.run(GRAPH, 'UNWIND range(1, 5000) AS x RETURN x', { timeoutMs: 5000, maxRows: 0 }), []);
  });
});

describe('cypher sandbox: answers', () => {
  it('answers a legitimate query with the same rows as the in-process dataset copy', async () => {
    const queries = [
      'MATCH (a:Node)-[e:EDGE]->(b:Node) RETURN a.name AS src, e.relationship_name AS r, b.name AS dst, e.properties AS p ORDER BY src',
      'MATCH (n:Node) RETURN n ORDER BY n.id',
      "MATCH (n:Node {id: 'ada'}) RETURN n.created_at AS c, n.updated_at AS u, n.pk AS pk, n.dataset_id AS d",
      'MATCH p = (a:Node)-[:EDGE*1..2]->(b:Node) RETURN length(p) AS hops, b.id AS dst ORDER BY hops, dst',
      "RETURN [1, 2] AS list, {k: 'v'} AS struct, 2.5 AS f, 9007199254740993 AS big, 'ü' AS s",
      'CALL show_tables() RETURN name ORDER BY name',
    ];
    const sandbox = new CypherSandbox();
    const { db, conn } = await openDatasetCopy(GRAPH.nodes, GRAPH.edges);
    try {
      for (const query of queries) {
        const expected = await runReadOnly(conn, query, 5000, 100);
        assert.ok(expected.length > 0, query);
        assert.deepEqual(await sandbox.run(GRAPH, query, { timeoutMs: 5000, maxRows: 100 }), expected, query);
      }
    } finally {
      await conn.close();
      await db.close();
    }
  });

  it('passes Kuzu errors on (a failed query is not a limit), and stays read-only', async () => {
    const sandbox = new CypherSandbox();
    await assert.rejects(sandbox.run(GRAPH, 'MATCH (n) RETURN nonsense(', { timeoutMs: 5000, maxRows: 10 }), (error: unknown) => {
      assert.ok(error instanceof CypherSandboxError, String(error));
      assert.match(error.message, /parser/i);
      return true;
    });
    await assert.rejects(sandbox.run(GRAPH, "CREATE (:Node {pk: 'x', id: 'x'})", { timeoutMs: 5000, maxRows: 10 }), /read-only/i);
    await assert.rejects(sandbox.run(GRAPH, 'RETURN 1 AS a; RETURN 2 AS b', { timeoutMs: 5000, maxRows: 10 }), /multiple statements/);
  });

  it('an empty dataset answers too', async () => {
    const sandbox = new CypherSandbox();
    assert.deepEqual(await sandbox.run({ nodes: [], edges: [] }, 'MATCH (n) RETURN count(n) AS c', { timeoutMs: 5000, maxRows: 10 }), [{ c: 0 }]);
  });
});

describe('cypher sandbox: concurrency', () => {
  it('runs at most maxConcurrent children; the others wait and still finish', async () => {
    const sandbox = new CypherSandbox({ maxConcurrent: 2 });
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, sandbox.active)), 5);
    try {
      const runs = [1, 2, 3, 4, 5].map((i) =>
        sandbox.run(GRAPH, `UNWIND range(1, 200000) AS x WITH x WHERE x % 1000 = 0 RETURN count(x) + ${i} AS c`, { timeoutMs: 20_000, maxRows: 10 }),
      );
      assert.deepEqual(
        await Promise.all(runs),
        [1, 2, 3, 4, 5].map((i) => [{ c: 200 + i }]),
      );
    } finally {
      clearInterval(watch);
    }
    assert.equal(peak, 2);
    assert.equal(sandbox.active, 0);
  });

  it('counts the wait for a free sandbox in the time limit', async () => {
    const pids: number[] = [];
    const sandbox = new CypherSandbox({ maxConcurrent: 1, onSpawn: (pid) => pids.push(pid) });
    const slow = sandbox.run(GRAPH, SLOW, { timeoutMs: 2000, maxRows: 10 });
    const started = Date.now();
    // It waits behind the slow query and runs out of time before a sandbox is free.
    await assert.rejects(sandbox.run(GRAPH, 'RETURN 1 AS one', { timeoutMs: 500, maxRows: 10 }), GraphQueryTimeoutError);
    const elapsed = Date.now() - started;
    // Before the slow query's own 2000 ms limit could free the sandbox: it gave up on its own limit.
    assert.ok(elapsed >= 450 && elapsed < 2000, `gave up after ${elapsed} ms`);
    await assert.rejects(slow, GraphQueryTimeoutError);
    assert.equal(pids.length, 1, 'the query that timed out in the queue never started a child');
    // Once free, the next query runs.
    assert.deepEqual(await sandbox.run(GRAPH, 'RETURN 1 AS one', { timeoutMs: 5000, maxRows: 10 }), [{ one: 1 }]);
  });
});

describe('cypher sandbox: environment', () => {
  it('sandboxEnv keeps PATH and TMPDIR only', () => {
    const parent = {
      PATH: '/usr/local/bin:/usr/bin',
      TMPDIR: '/var/tmp',
      HOME: '/home/engram',
      JWT_SECRET: 'jwt-secret',
      LLM_API_KEY: 'sk-live',
      GRAPH_DATABASE_PASSWORD: 'neo4j-pass',
      DB_PASSWORD: 'pg-pass',
      NODE_OPTIONS: '--require /tmp/evil.js',
      NEO4J_ENCRYPTION_KEY: 'fernet',
    };
    assert.deepEqual(sandboxEnv(parent), { PATH: '/usr/local/bin:/usr/bin', TMPDIR: '/var/tmp' });
    assert.deepEqual(sandboxEnv({ JWT_SECRET: 'x' }), {});
    assert.deepEqual(sandboxEnv({ PATH: '', TMPDIR: undefined }), {});
  });

  it('a running child holds no variable of the server but PATH and TMPDIR, and starts through tsx from sources', async () => {
    const secret = 'ENGRAM_SANDBOX_TEST_SECRET';
    process.env[secret] = 'must-not-leak';
    const pids: number[] = [];
    try {
      const sandbox = new CypherSandbox({ onSpawn: (pid) => pids.push(pid) });
      const slow = sandbox.run(GRAPH, SLOW, { timeoutMs: 1500, maxRows: 10 });
      await new Promise((done) => setTimeout(done, 700));
      const pid = pids[0]!;
      const names = readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((entry) => entry.slice(0, entry.indexOf('=')));
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      await assert.rejects(slow, GraphQueryTimeoutError);
      assert.ok(names.length > 0);
      for (const name of names) assert.ok(name === 'PATH' || name === 'TMPDIR', `the child's environment holds ${name}`);
      assert.ok(
        cmdline.some((arg) => arg.endsWith('cypher-sandbox/worker.ts')),
        cmdline.join(' '),
      );
    } finally {
      delete process.env[secret];
    }
    const { args } = sandboxCommand(512);
    assert.ok(args.includes('--import') && args.includes('--max-old-space-size=512'), args.join(' '));
  });
});
