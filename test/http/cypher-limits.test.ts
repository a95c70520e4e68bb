import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STARTUP_MS } from '../../src/storage/cypher-sandbox/sandbox.js';
import { asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * D18 over real HTTP: user Cypher runs in a sandbox process the server kills at its limits, so a
 * hostile read-only query is stopped on time and the server keeps answering meanwhile.
 *
 *   - the range query that ignored CYPHER_TIMEOUT_MS in-process (and grew the server by GBs)
 *     answers 400 CypherSearchError naming the time limit, no sooner than the limit and within the
 *     limit plus the sandbox's start-up allowance, while GET /api/v1/datasets/{id}/graph on the same
 *     dataset keeps answering and another Cypher query on it answers before the first is stopped;
 *   - an answer above the size limit is refused with 400 naming that limit;
 *   - a query allocating fast is killed at CYPHER_MAX_MEMORY_MB with 400 naming that limit, and the
 *     server process does not grow.
 *
 * Each test runs on a server whose other limits its query cannot reach, so a slow (busy) machine
 * changes how long a test takes, never which limit stops the query.
 *
 * In multi-tenant mode (each dataset in its own Kuzu file) and single-user mode (one shared Kuzu
 * file); on SQLite and on PostgreSQL (ENGRAM_TEST_DB). The hostile queries only ever run in the
 * server's sandbox children, under a memory cap.
 */

const DOC = 'Ada Lovelace worked with Charles Babbage in London in 1843.\n\nBabbage designed the Analytical Engine.';
const RANGE_DOS = 'UNWIND range(1, 30000000) AS x WITH x WHERE x % 7 = 10 RETURN count(x)';
const ALLOCATE = 'UNWIND range(1, 200000000) AS x RETURN collect(x)';
const detail = (limit: string) => ({ detail: `An error occurred during the execution of the Cypher query: it exceeded ${limit}. [CypherSearchError]` });

const actor = (server: TestServer) => signUpActor(server, 'cypher-limits');

async function dataset(a: Actor): Promise<string> {
  const added = await a.c.post('/api/v1/add_text', { json: { textData: [DOC], datasetName: 'limits' }, ...asActor(a) });
  assert.equal(added.status, 200, added.text);
  const ds = added.body.dataset_id as string;
  const cognified = await a.c.post('/api/v1/cognify', { json: { datasetIds: [ds] }, ...asActor(a) });
  assert.equal(cognified.status, 200, cognified.text);
  return ds;
}

function cypher(a: Actor, ds: string, query: string) {
  return a.c.post('/api/v1/search', { json: { search_type: 'CYPHER', query, datasetIds: [ds] }, ...asActor(a) });
}

/** A graph answer in a stable order (the route does not order nodes and edges). */
function sorted(graph: { nodes: unknown[]; edges: unknown[] }) {
  const key = (x: unknown) => JSON.stringify(x);
  const order = (items: unknown[]) => [...items].sort((x, y) => key(x).localeCompare(key(y)));
  return { nodes: order(graph.nodes), edges: order(graph.edges) };
}

function rowsOf(body: any, multiTenant: boolean): any[] {
  return multiTenant ? body[0].search_result : body;
}

/** Within a describe: a server started on `env` before its tests, a signed-up owner and their cognified dataset. */
function limitsServer(env: Record<string, string>): { readonly owner: Actor; readonly ds: string } {
  const s = {} as { server: TestServer; owner: Actor; ds: string };
  before(async () => {
    s.server = await startTestServer({ env });
    s.owner = await actor(s.server);
    s.ds = await dataset(s.owner);
  });
  after(async () => {
    await s.server.close();
  });
  return s;
}

for (const multiTenant of [true, false]) {
  const mode = multiTenant ? 'multi-tenant, a Kuzu file per dataset' : 'single-user, one shared Kuzu file';
  const posture = { ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant), REQUIRE_AUTHENTICATION: 'true', ALLOW_CYPHER_QUERY: 'true' };

  describe(`Cypher time limit over HTTP (${mode})`, () => {
    // Long enough for a second sandbox to start and answer on a busy machine while the first runs;
    // the range query needs far longer (and GBs) to finish, and cannot reach the memory or row limits.
    const timeoutMs = 4000;
    const s = limitsServer({ ...posture, CYPHER_TIMEOUT_MS: String(timeoutMs), CYPHER_MAX_MEMORY_MB: '4096', CYPHER_MAX_ROWS: '200000' });

    it('D18: the range query is stopped at CYPHER_TIMEOUT_MS while the dataset keeps answering', async () => {
      const { owner, ds } = s;
      const graph = await owner.c.get(`/api/v1/datasets/${ds}/graph`, asActor(owner));
      assert.equal(graph.status, 200, graph.text);
      assert.ok(graph.body.nodes.length > 0);

      const started = Date.now();
      let finished = 0;
      const dos = cypher(owner, ds, RANGE_DOS).then((r) => {
        finished = Date.now();
        return r;
      });
      // While it runs: the graph of the same dataset, several times, each answered before it is stopped.
      await new Promise((done) => setTimeout(done, 200));
      const reads: number[] = [];
      for (let i = 0; i < 4 && finished === 0; i++) {
        const again = await owner.c.get(`/api/v1/datasets/${ds}/graph`, asActor(owner));
        if (finished === 0) reads.push(Date.now());
        assert.equal(again.status, 200, again.text);
        assert.deepEqual(sorted(again.body), sorted(graph.body));
        await new Promise((done) => setTimeout(done, 100));
      }
      // And another Cypher query on it (a second sandbox) answers before the first is stopped.
      const count = await cypher(owner, ds, 'MATCH (n:Node) RETURN count(n) AS c');
      const countedAt = Date.now();
      const stopped = await dos;
      const elapsed = finished - started;

      assert.deepEqual([stopped.status, stopped.body], [400, detail(`its time limit of ${timeoutMs} ms (CYPHER_TIMEOUT_MS)`)]);
      assert.ok(elapsed >= timeoutMs && elapsed < timeoutMs + STARTUP_MS + 3000, `stopped after ${elapsed} ms`);
      assert.ok(reads.length >= 2, `only ${reads.length} graph reads answered while the query ran`);
      assert.equal(count.status, 200, count.text);
      assert.deepEqual(rowsOf(count.body, multiTenant), [{ c: graph.body.nodes.length }]);
      assert.ok(countedAt < finished, 'the second query answered while the first ran');
    });
  });

  describe(`Cypher answer size limit over HTTP (${mode})`, () => {
    // No time limit a slow machine could reach first, and memory far above what 150,000 rows need.
    const s = limitsServer({ ...posture, CYPHER_TIMEOUT_MS: '600000', CYPHER_MAX_MEMORY_MB: '4096', CYPHER_MAX_ROWS: '200000' });

    it('D18: an answer above the size limit is refused; rows within it are answered', async () => {
      const { owner, ds } = s;
      const padding = 'p'.repeat(100);
      const big = await cypher(owner, ds, `UNWIND range(1, 150000) AS x RETURN x, '${padding}' AS padding`);
      assert.deepEqual([big.status, big.body], [400, detail('its answer size limit of 8 MB')]);
      const fine = await cypher(owner, ds, `UNWIND range(1, 1000) AS x RETURN x, '${padding}' AS padding`);
      assert.equal(fine.status, 200, fine.text);
      assert.equal(rowsOf(fine.body, multiTenant).length, 1000);
    });
  });
}

describe('Cypher limits over HTTP (multi-tenant, CYPHER_MAX_MEMORY_MB=256)', () => {
  const s = limitsServer({
    ENABLE_BACKEND_ACCESS_CONTROL: 'true',
    ALLOW_CYPHER_QUERY: 'true',
    CYPHER_TIMEOUT_MS: '30000',
    CYPHER_MAX_MEMORY_MB: '256',
  });

  it('D18: a query allocating fast is killed at the memory limit and the server does not grow', async () => {
    const { owner, ds } = s;
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const killed = await cypher(owner, ds, ALLOCATE);
    const elapsed = Date.now() - started;
    assert.deepEqual([killed.status, killed.body], [400, detail('its memory limit of 256 MB (CYPHER_MAX_MEMORY_MB)')]);
    assert.ok(elapsed < 10_000, `killed after ${elapsed} ms`);
    assert.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024, 'the server process grew');
    const after = await cypher(owner, ds, 'MATCH (n:Node) RETURN count(n) AS c');
    assert.equal(after.status, 200, after.text);
  });
});
