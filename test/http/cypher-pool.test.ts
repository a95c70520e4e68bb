import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, eventually, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';
import { sandboxProcesses } from '../helpers/processes.js';

/**
 * The Cypher sandbox's warm processes over real HTTP (CYPHER_SANDBOX_POOL_SIZE, D18): two users'
 * consecutive Cypher queries each see their own dataset only, the server keeps the configured
 * number of sandbox processes waiting (each serves one query), and closing the server leaves no
 * sandbox process behind; with size 0 each query starts its own and none waits.
 *
 * Multi-tenant mode (a Kuzu file per dataset); SQLite and PostgreSQL (ENGRAM_TEST_DB).
 */

const posture = { ENABLE_BACKEND_ACCESS_CONTROL: 'true', REQUIRE_AUTHENTICATION: 'true', ALLOW_CYPHER_QUERY: 'true' };
const NAMES = 'MATCH (n:Node) RETURN n.name AS name ORDER BY name';

/** The pids of this process's Cypher sandbox children. */
const sandboxChildren = (): number[] => sandboxProcesses(process.pid);

async function cognified(a: Actor, text: string, datasetName: string): Promise<string> {
  const added = await a.c.post('/api/v1/add_text', { json: { textData: [text], datasetName }, ...asActor(a) });
  assert.equal(added.status, 200, added.text);
  const ds = added.body.dataset_id as string;
  const run = await a.c.post('/api/v1/cognify', { json: { datasetIds: [ds] }, ...asActor(a) });
  assert.equal(run.status, 200, run.text);
  return ds;
}

async function names(a: Actor, ds: string): Promise<string[]> {
  const r = await a.c.post('/api/v1/search', { json: { search_type: 'CYPHER', query: NAMES, datasetIds: [ds] }, ...asActor(a) });
  assert.equal(r.status, 200, r.text);
  return (r.body[0].search_result as Array<{ name: string }>).map((row) => row.name);
}

describe('Cypher sandbox pool over HTTP (CYPHER_SANDBOX_POOL_SIZE default 2)', () => {
  let server: TestServer;
  let alice: Actor;
  let bob: Actor;
  let dsAlice: string;
  let dsBob: string;
  let closed = false;
  before(async () => {
    assert.deepEqual(sandboxChildren(), [], 'no sandbox process before the server');
    server = await startTestServer({ env: posture });
    alice = await signUpActor(server, 'pool-alice');
    bob = await signUpActor(server, 'pool-bob');
    dsAlice = await cognified(alice, 'Ada Lovelace worked with Charles Babbage in London.', 'alice-graph');
    dsBob = await cognified(bob, 'Grace Hopper visited Boston with Alan Turing.', 'bob-graph');
  });
  after(async () => {
    if (!closed) await server?.close();
  });

  it('D18: consecutive queries of two users each see their own graph only; two processes wait; close leaves none', async () => {
    assert.deepEqual(sandboxChildren(), [], 'no sandbox process before the first Cypher query');
    const aliceNames = await names(alice, dsAlice);
    assert.ok(
      aliceNames.some((n) => /ada/i.test(n)),
      aliceNames.join(', '),
    );
    for (let round = 0; round < 2; round++) {
      const bobNames = await names(bob, dsBob);
      assert.ok(
        bobNames.some((n) => /grace/i.test(n)),
        bobNames.join(', '),
      );
      for (const name of bobNames) assert.ok(!/ada|lovelace|babbage|london/i.test(name), `bob sees ${name}`);
      const again = await names(alice, dsAlice);
      assert.deepEqual(again, aliceNames);
      for (const name of again) assert.ok(!/grace|hopper|turing|boston/i.test(name), `alice sees ${name}`);
    }
    // The pool is full again once the replacements have started: two processes wait, none more.
    await eventually(async () => sandboxChildren().length === 2, 60_000, 100);
    const waiting = sandboxChildren();
    closed = true;
    await server.close();
    assert.deepEqual(sandboxChildren(), [], `sandbox processes left after close (were ${waiting.join(', ')})`);
  });
});

describe('Cypher sandbox pool over HTTP (CYPHER_SANDBOX_POOL_SIZE=0)', () => {
  let server: TestServer;
  let owner: Actor;
  let ds: string;
  before(async () => {
    server = await startTestServer({ env: { ...posture, CYPHER_SANDBOX_POOL_SIZE: '0' } });
    owner = await signUpActor(server, 'pool-zero');
    ds = await cognified(owner, 'Ada Lovelace worked with Charles Babbage in London.', 'zero-graph');
  });
  after(async () => {
    await server.close();
  });

  it('D18: each query starts its own sandbox process and none waits afterwards', async () => {
    const first = await names(owner, ds);
    assert.ok(first.length > 0);
    assert.deepEqual(await names(owner, ds), first);
    // The processes that answered are killed; none is started to wait.
    await eventually(async () => sandboxChildren().length === 0, 60_000, 50);
    await new Promise((done) => setTimeout(done, 500));
    assert.deepEqual(sandboxChildren(), []);
  });
});
