import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * `POST /api/v1/remember` honours what the reference's clients send: per-file `labels` and
 * `external_metadata`, every `node_set`, `chunks_per_batch`, and answers with the reference's
 * `items` (id, name, content hash) and `content_hash`, which the agent plugins match their files by.
 * What it cannot honour is refused, never dropped: labels with a session, an unparsable
 * `graph_model`, an ontology key this server does not hold. On SQLite and PostgreSQL.
 */

describe('remember', () => {
  let server: TestServer;
  let a: Actor;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true' } });
    a = await signUpActor(server, 'remember');
  });
  after(async () => {
    await server.close();
  });

  const files = [
    { name: 'alpha.txt', text: 'Alpha notes: the pump station opens at nine.' },
    { name: 'beta.txt', text: 'Beta notes: the archive closes at five.' },
  ];

  it('stores labels, metadata and node sets, and answers with the items', async () => {
    const form = new FormData();
    for (const [k, v] of [
      ['datasetName', 'remembered'],
      ['labels', JSON.stringify(['ops', null])],
      ['external_metadata', JSON.stringify([{ source: 'crm', ticket: 42 }, null])],
      ['node_set', 'project-x'],
      ['node_set', 'agent-7'],
      ['chunks_per_batch', '4'],
    ])
      form.append(k!, v!);
    for (const f of files) form.append('data', new Blob([f.text], { type: 'text/plain' }), f.name);
    const res = await fetch(`${server.url}/api/v1/remember`, { method: 'POST', body: form, headers: { authorization: `Bearer ${a.token}` } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'completed');
    assert.equal(body.items.length, 2);
    assert.deepEqual(body.items.map((i: any) => i.name).sort(), ['alpha', 'beta']);
    for (const item of body.items) assert.match(item.content_hash, /^[0-9a-f]{32,64}$/);
    assert.equal(body.content_hash, body.items[0].content_hash);

    const listed = await a.c.get(`/api/v1/datasets/${body.dataset_id}/data`, asActor(a));
    const byName = Object.fromEntries(listed.body.map((d: any) => [d.name, d]));
    assert.equal(byName.alpha.label, 'ops');
    assert.deepEqual(byName.alpha.externalMetadata, { source: 'crm', ticket: 42 });
    assert.equal(byName.beta.label, null);
    assert.deepEqual(new Set(body.items.map((i: any) => i.id)), new Set(listed.body.map((d: any) => d.id)));
  });

  it('refuses what it cannot honour, before anything is stored', async () => {
    const cases: [Record<string, string>, number, RegExp][] = [
      [{ datasetName: 'refused', session_id: 's1', labels: '["x","y"]' }, 400, /only supported for normal ingestion/],
      [{ datasetName: 'refused', graph_model: '{not json' }, 400, /graph_model is not valid JSON/],
      [{ datasetName: 'refused', graph_model: '{"properties":{}}' }, 400, /title/],
      [{ datasetName: 'refused', ontology_key: 'maritime' }, 409, /Ontology key not found: maritime/],
      [{ datasetName: 'refused', chunks_per_batch: '0' }, 400, /chunks_per_batch/],
      [{ datasetName: 'refused', labels: '["only-one"]' }, 400, /label/i],
    ];
    for (const [fields, status, message] of cases) {
      const res = await upload(server, a, fields, files, '/api/v1/remember');
      assert.equal(res.status, status, `${JSON.stringify(fields)}: ${JSON.stringify(res.body)}`);
      assert.match(JSON.stringify(res.body), message);
    }
    const datasets = await a.c.get('/api/v1/datasets', asActor(a));
    assert.equal(
      datasets.body.find((d: any) => d.name === 'refused'),
      undefined,
      'no dataset was made, no item stored',
    );
  });
});
