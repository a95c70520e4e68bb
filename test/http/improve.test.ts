import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, eventually, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * `POST /api/v1/improve` bridges the caller's sessions into a dataset's graph and vectors: a fact
 * said only in a session is found by a graph search after improve and not before; bridging twice
 * adds nothing twice; another user's session of the same id is never bridged; memify adds `data`
 * and re-indexes. On SQLite and PostgreSQL (ENGRAM_TEST_DB).
 */

const FACT = 'The lighthouse keeper on Skerrymore is named Quillon Abernethy.';

describe('improve and memify', () => {
  let server: TestServer;
  let a: Actor;
  let b: Actor;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true' } });
    a = await signUpActor(server, 'improve-a');
    b = await signUpActor(server, 'improve-b');
  });
  after(async () => {
    await server.close();
  });

  async function dataset(who: Actor, name: string): Promise<string> {
    const added = await who.c.post('/api/v1/add_text', { json: { textData: [`${name} holds notes about harbours.`], datasetName: name }, ...asActor(who) });
    assert.equal(added.status, 200, added.text);
    assert.equal((await who.c.post('/api/v1/cognify', { json: { datasetIds: [added.body.dataset_id] }, ...asActor(who) })).status, 200);
    return added.body.dataset_id;
  }
  const chunks = async (who: Actor, ds: string, query: string): Promise<string> => {
    const res = await who.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query, datasetIds: [ds], topK: 50 }, ...asActor(who) });
    assert.equal(res.status, 200, res.text);
    return JSON.stringify(res.body);
  };
  const items = async (who: Actor, ds: string) => (await who.c.get(`/api/v1/datasets/${ds}/data`, asActor(who))).body as unknown[];

  it('a fact said only in a session is found by graph search after improve, not before', async () => {
    const ds = await dataset(a, 'keepers');
    const sid = 'claude-code-keepers';
    const qa = await a.c.post('/api/v1/remember/entry', {
      json: { entry: { type: 'qa', question: 'Who keeps the Skerrymore light?', answer: FACT }, dataset_name: 'keepers', session_id: sid },
      ...asActor(a),
    });
    assert.equal(qa.status, 200, qa.text);
    assert.doesNotMatch(await chunks(a, ds, 'Skerrymore lighthouse keeper'), /Quillon/, 'not in the graph before improve');

    const improved = await a.c.post('/api/v1/improve', { json: { datasetId: ds, sessionIds: [sid] }, ...asActor(a) });
    assert.equal(improved.status, 200, improved.text);
    assert.equal(improved.body[ds].status, 'PipelineRunCompleted');
    assert.match(await chunks(a, ds, 'Skerrymore lighthouse keeper'), /Quillon Abernethy/);
    const count = (await items(a, ds)).length;

    // Again, with nothing new in the session: nothing is added twice.
    assert.equal((await a.c.post('/api/v1/improve', { json: { dataset_id: ds, session_ids: [sid] }, ...asActor(a) })).status, 200);
    assert.equal((await items(a, ds)).length, count);
  });

  it('only the caller’s own session is bridged, and only into a dataset the caller may write', async () => {
    const dsA = await dataset(a, 'private-a');
    const dsB = await dataset(b, 'private-b');
    const sid = 'same-name';
    await b.c.post('/api/v1/remember/entry', {
      json: { entry: { type: 'qa', question: 'code', answer: 'The safe code is Tangerine-42.' }, session_id: sid },
      ...asActor(b),
    });
    // A names B's session id: A has no session of that id, so nothing of B's reaches A's dataset.
    assert.equal((await a.c.post('/api/v1/improve', { json: { datasetId: dsA, sessionIds: [sid] }, ...asActor(a) })).status, 200);
    assert.doesNotMatch(await chunks(a, dsA, 'safe code Tangerine'), /Tangerine/);
    // A cannot improve B's dataset.
    assert.equal((await a.c.post('/api/v1/improve', { json: { datasetId: dsB, sessionIds: [sid] }, ...asActor(a) })).status, 403);
  });

  it('validates its body as the reference, refusing what it cannot do', async () => {
    const ds = await dataset(a, 'validated');
    const cases: [Record<string, unknown>, number][] = [
      [{}, 400],
      [{ sessionIds: ['x'] }, 400],
      [{ datasetId: ds, extractionTasks: ['extract_subgraph'] }, 422],
      [{ datasetId: ds, sessionz: ['typo'] }, 422],
      [{ datasetName: 'no-such-dataset' }, 404],
    ];
    for (const [body, status] of cases) assert.equal((await a.c.post('/api/v1/improve', { json: body, ...asActor(a) })).status, status, JSON.stringify(body));
    assert.equal((await a.c.post('/api/v1/memify', { json: { datasetId: ds, sessionIds: ['x'] }, ...asActor(a) })).status, 422, 'memify has no session_ids');
  });

  it('memify adds its data and re-indexes; in the background it answers at once and finishes', async () => {
    const ds = await dataset(a, 'memified');
    const res = await a.c.post('/api/v1/memify', { json: { datasetId: ds, data: 'The ferry to Skerrymore sails at dawn from Portnahaven.' }, ...asActor(a) });
    assert.equal(res.status, 200, res.text);
    assert.match(await chunks(a, ds, 'ferry Portnahaven dawn'), /Portnahaven/);

    const sid = 'background-session';
    await a.c.post('/api/v1/remember/entry', {
      json: { entry: { type: 'qa', question: 'tide', answer: 'High tide at Skerrymore is at 06:40.' }, session_id: sid },
      ...asActor(a),
    });
    const bg = await a.c.post('/api/v1/improve', { json: { datasetId: ds, sessionIds: [sid], runInBackground: true }, ...asActor(a) });
    assert.equal(bg.status, 200, bg.text);
    assert.equal(bg.body[ds].status, 'PipelineRunStarted');
    await eventually(async () => /06:40/.test(await chunks(a, ds, 'high tide Skerrymore')), 120_000, 200);
  });
});
