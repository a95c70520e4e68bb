import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * `GET /api/v1/validate?dataset=<name>`: the reference's read-only cross-check of a dataset's graph
 * and vector stores. A freshly cognified dataset is healthy; an entity or chunk with no vector point
 * is an error (503 unhealthy); an entity type whose id is not the one its name derives is a warning
 * (200 degraded); a name that is not one of the caller's readable datasets is 404.
 */

describe('GET /api/v1/validate', () => {
  let server: TestServer;
  let a: Actor;
  let dataset: { id: string; name: string };
  const info = () => ({ id: dataset.id, ownerId: a.id, name: dataset.name, tenantId: null });
  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true', ENABLE_BACKEND_ACCESS_CONTROL: 'true' } });
    a = await signUpActor(server, 'validate');
    const added = await upload(server, a, { datasetName: 'checked' }, [
      { name: 'v.txt', text: 'Tangerine Harbor ships amber lanterns to Quillport every winter.' },
    ]);
    assert.equal(added.status, 200);
    dataset = { id: added.body.dataset_id, name: 'checked' };
    assert.equal((await a.c.post('/api/v1/cognify', { json: { datasetIds: [dataset.id] }, ...asActor(a) })).status, 200);
  });
  after(async () => server.close());

  const validate = (query = '?dataset=checked', who: Actor = a) => who.c.get(`/api/v1/validate${query}`, asActor(who));

  it('a cognified dataset is healthy: its summary counts the graph, no issues', async () => {
    const res = await validate();
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'healthy');
    assert.deepEqual(res.body.issues, []);
    assert.ok(res.body.summary.graph_nodes > 0 && res.body.summary.graph_edges > 0);
    assert.ok(res.body.summary.node_type_distribution.Entity > 0);
    assert.ok(res.body.summary.node_type_distribution.DocumentChunk > 0);
  });

  it("names that are not the caller's readable datasets are 404 DatasetNotFoundError (no dataset named: main_dataset)", async () => {
    const b = await signUpActor(server, 'validate-b');
    for (const [query, who] of [
      ['?dataset=nope', a],
      ['?dataset=checked&dataset=nope', a],
      ['', a],
      ['?dataset=checked', b],
    ] as const) {
      const res = await validate(query, who);
      assert.deepEqual([res.status, res.body], [404, { detail: 'Dataset not found or not readable. [DatasetNotFoundError]' }], query);
    }
  });

  it('an entity type whose id its name does not derive is a warning (200 degraded); an entity without its vector point an error (503 unhealthy)', async () => {
    await server.engram.memory.databases.with(info(), async ({ graph }) => {
      await graph.upsertNodes(dataset.id, [{ id: crypto.randomUUID(), name: 'stray type', type: 'EntityType', properties: {} }]);
    });
    const degraded = await validate();
    assert.equal(degraded.status, 200, degraded.text);
    assert.equal(degraded.body.status, 'degraded');
    assert.deepEqual(
      degraded.body.issues.map((i: { severity: string; type: string }) => [i.severity, i.type]),
      [['warning', 'identity_id_mismatch']],
    );

    const entity = await server.engram.memory.databases.with(info(), async ({ graph, vector }) => {
      const [first] = await graph.nodesOfType(dataset.id, ['Entity']);
      await vector.deleteIds(dataset.id, 'Entity_name', [first!.id]);
      return first!;
    });
    const unhealthy = await validate();
    assert.equal(unhealthy.status, 503, unhealthy.text);
    assert.equal(unhealthy.body.status, 'unhealthy');
    const missing = unhealthy.body.issues.filter((i: { type: string }) => i.type === 'missing_vector_entry');
    assert.equal(missing.length, 1);
    assert.equal(missing[0].severity, 'error');
    assert.match(missing[0].detail, new RegExp(`Entity node '${entity.id}' has no matching point in vector collection 'Entity_name'`));
  });
});
