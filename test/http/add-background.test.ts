import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * `POST /api/v1/add` honours `run_in_background` as the reference does: the answer is the started
 * run (`PipelineRunStarted`, its `pipeline_run_id`, `dataset_id` and `dataset_name`, no payload and
 * no per-item info). The upload is stored before the answer, so the items are listed at once and
 * the add run is complete; a value that is not a boolean is the reference's 400.
 */

describe('POST /api/v1/add with run_in_background', () => {
  let server: TestServer;
  let a: Actor;
  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true' } });
    a = await signUpActor(server, 'add-bg');
  });
  after(async () => server.close());

  it('true (any of the reference spellings): the started run; the item is stored and listed at once', async () => {
    for (const [flag, name] of [
      ['true', 'bg1'],
      ['True', 'bg2'],
      ['1', 'bg3'],
    ] as const) {
      const res = await upload(server, a, { datasetName: name, run_in_background: flag }, [{ name: `${name}.txt`, text: `Background item ${name}.` }]);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'PipelineRunStarted', flag);
      assert.equal(res.body.dataset_name, name);
      assert.deepEqual([res.body.payload, res.body.data_ingestion_info], [[], null]);
      assert.match(res.body.pipeline_run_id, /^[0-9a-f-]{36}$/);
      const items = await a.c.get(`/api/v1/datasets/${res.body.dataset_id}/data`, asActor(a));
      assert.equal(items.body.length, 1, 'the upload is stored before the answer');
      const status = await a.c.get(`/api/v1/datasets/status?dataset=${res.body.dataset_id}&pipeline=add_pipeline`, asActor(a));
      assert.deepEqual(status.body, { [res.body.dataset_id]: 'DATASET_PROCESSING_COMPLETED' });
    }
  });

  it('false or absent: the completed run with its items, as before', async () => {
    for (const fields of [{ datasetName: 'fg1', run_in_background: 'false' }, { datasetName: 'fg2' }] as Record<string, string>[]) {
      const res = await upload(server, a, fields, [{ name: 'fg.txt', text: `Foreground item ${fields.datasetName}.` }]);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'PipelineRunCompleted');
      assert.equal(res.body.data_ingestion_info.length, 1);
    }
  });

  it('a value that is not a boolean is 400 naming the field, and nothing is stored', async () => {
    const res = await upload(server, a, { datasetName: 'bgbad', run_in_background: 'later' }, [{ name: 'x.txt', text: 'Never stored.' }]);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.detail[0].loc, ['body', 'run_in_background']);
    const names = ((await a.c.get('/api/v1/datasets', asActor(a))).body as { name: string }[]).map((d) => d.name);
    assert.ok(!names.includes('bgbad'));
  });
});
