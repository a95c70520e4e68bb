import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acceptPending, asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * The reference's older routes, as its clients still call them, each deleting or replacing exactly
 * what it names and refusing a field it does not know (422, nothing touched):
 *   - DELETE /api/v1/delete?data_id&dataset_id[&mode=soft|hard][&delete_dataset_if_empty]: one item,
 *     `{"status":"success"}`; any failure, a refused dataset included, the reference's 409;
 *     `mode=hard` also removes the entities no remaining chunk mentions;
 *   - PATCH /api/v1/update?data_id&dataset_id with one file: the item keeps its id, its content is
 *     replaced and the dataset cognified again; an unknown item is 404, a refused caller 403;
 *   - DELETE /api/v1/datasets: every dataset the caller may delete, and nothing else.
 */

const TEXT = {
  t1: 'Tangerine Harbor ships amber lanterns to Quillport every winter.',
  t2: 'Violet Orchard grows silver pears beside Zephyr Lake.',
  k1: 'Kestrel Mill grinds copper wheat for Yarrow Town.',
  new: 'Crimson Valley breeds golden horses near Marble Ridge.',
};

describe('legacy routes: DELETE /api/v1/delete, PATCH /api/v1/update, DELETE /api/v1/datasets', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true', ENABLE_BACKEND_ACCESS_CONTROL: 'true' } });
  });
  after(async () => server.close());

  const addTo = async (who: Actor, dataset: string, files: { name: string; text: string }[]) => {
    const added = await upload(server, who, { datasetName: dataset }, files);
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const ids = (added.body.data_ingestion_info as { data_id: string }[]).map((i) => i.data_id);
    const res = await who.c.post('/api/v1/cognify', { json: { datasetIds: [added.body.dataset_id] }, ...asActor(who) });
    assert.equal(res.status, 200, res.text);
    return { id: added.body.dataset_id as string, ids };
  };
  const items = async (who: Actor, dataset: string) => {
    const res = await who.c.get(`/api/v1/datasets/${dataset}/data`, asActor(who));
    return res.status === 200 ? (res.body as { id: string }[]).map((d) => d.id).sort() : res.status;
  };
  const labels = async (who: Actor, dataset: string, type?: string) => {
    const graph = await who.c.get(`/api/v1/datasets/${dataset}/graph`, asActor(who));
    assert.equal(graph.status, 200, graph.text);
    return (graph.body.nodes as { label: string; type: string }[])
      .filter((n) => type === undefined || n.type === type)
      .map((n) => n.label)
      .join(' | ');
  };
  const chunks = async (who: Actor, dataset: string) => {
    const res = await who.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'what is here', datasetIds: [dataset], topK: 50 }, ...asActor(who) });
    assert.equal(res.status, 200, res.text);
    return JSON.stringify(res.body);
  };
  const datasetNames = async (who: Actor) => ((await who.c.get('/api/v1/datasets', asActor(who))).body as { name: string }[]).map((d) => d.name).sort();

  it('DELETE /api/v1/delete removes the one item it names (Content-Type: application/json and no body, as the MCP server sends it)', async () => {
    const a = await signUpActor(server, 'legacy-del');
    const b = await signUpActor(server, 'legacy-del-b');
    const target = await addTo(a, 'target', [
      { name: 't1.txt', text: TEXT.t1 },
      { name: 't2.txt', text: TEXT.t2 },
    ]);
    const other = await addTo(b, 'target', [{ name: 't1.txt', text: TEXT.t1 }]);
    const [t1, t2] = target.ids as [string, string];
    const before = await items(a, target.id);

    const refusals: [string, Actor, number, unknown][] = [
      [`data_id=${t1}&dataset_id=${target.id}&datasetId=${target.id}`, a, 422, undefined],
      [`data_id=${t1}&dataset_id=${target.id}&mode=everything`, a, 400, undefined],
      [`data_id=${t1}`, a, 400, undefined],
      [`data_id=${t1}&dataset_id=${target.id}`, b, 409, { error: 'Unable to delete data.' }],
      [`data_id=${t1}&dataset_id=${crypto.randomUUID()}`, a, 409, { error: 'Unable to delete data.' }],
    ];
    for (const [query, who, status, body] of refusals) {
      const res = await who.c.delete(`/api/v1/delete?${query}`, asActor(who));
      assert.equal(res.status, status, `${query}: ${res.text}`);
      if (body) assert.deepEqual(res.body, body);
    }
    const extra = await a.c.delete(`/api/v1/delete?data_id=${t1}&dataset_id=${target.id}`, { json: { dataset_id: other.id }, ...asActor(a) });
    assert.equal(extra.status, 422, 'a body field is refused too');
    assert.deepEqual(await items(a, target.id), before, 'nothing was deleted by a refused request');

    const res = await a.c.delete(`/api/v1/delete?data_id=${t1}&dataset_id=${target.id}`, {
      headers: { 'content-type': 'application/json' },
      raw: '',
      ...asActor(a),
    });
    assert.deepEqual([res.status, res.body], [200, { status: 'success' }]);
    assert.deepEqual(await items(a, target.id), [t2]);
    assert.equal((await a.c.get(`/api/v1/datasets/${target.id}/data/${t1}/raw`, asActor(a))).status, 404);
    const left = await chunks(a, target.id);
    assert.ok(!left.includes('Tangerine') && left.includes('Violet'), 'only the named item left the vectors');
    assert.ok((await chunks(b, other.id)).includes('Tangerine'), "another user's copy is untouched");
    assert.deepEqual(await items(b, other.id), other.ids);
  });

  it('mode=hard also removes the entities only the deleted item mentioned; soft keeps them; delete_dataset_if_empty removes the emptied dataset', async () => {
    const a = await signUpActor(server, 'legacy-hard');
    const soft = await addTo(a, 'soft', [
      { name: 't1.txt', text: TEXT.t1 },
      { name: 't2.txt', text: TEXT.t2 },
    ]);
    const hard = await addTo(a, 'hard', [
      { name: 't1.txt', text: TEXT.t1 },
      { name: 't2.txt', text: TEXT.t2 },
    ]);
    const entitiesBefore = await labels(a, hard.id, 'Entity');
    assert.match(entitiesBefore, /quillport/);
    assert.match(entitiesBefore, /zephyr/);
    for (const [ds, mode] of [
      [soft, 'soft'],
      [hard, 'hard'],
    ] as const) {
      const res = await a.c.delete(`/api/v1/delete?data_id=${ds.ids[0]}&dataset_id=${ds.id}&mode=${mode}`, asActor(a));
      assert.equal(res.status, 200, res.text);
    }
    assert.match(await labels(a, soft.id, 'Entity'), /quillport/, 'soft: entities stay');
    const hardAfter = await labels(a, hard.id, 'Entity');
    assert.doesNotMatch(hardAfter, /quillport/, 'hard: an entity only the deleted item mentioned is gone');
    assert.match(hardAfter, /zephyr/, "hard: the other item's entities stay");

    const keep = await a.c.delete(`/api/v1/delete?data_id=${soft.ids[1]}&dataset_id=${soft.id}`, asActor(a));
    assert.equal(keep.status, 200);
    assert.ok((await datasetNames(a)).includes('soft'), 'an emptied dataset stays without delete_dataset_if_empty');
    const drop = await a.c.delete(`/api/v1/delete?data_id=${hard.ids[1]}&dataset_id=${hard.id}&delete_dataset_if_empty=true`, asActor(a));
    assert.equal(drop.status, 200, drop.text);
    assert.deepEqual(await datasetNames(a), ['soft']);
  });

  it("PATCH /api/v1/update replaces one item's content under its id and cognifies again; refusals touch nothing", async () => {
    const a = await signUpActor(server, 'legacy-upd');
    const b = await signUpActor(server, 'legacy-upd-b');
    const target = await addTo(a, 'target', [
      { name: 't1.txt', text: TEXT.t1 },
      { name: 't2.txt', text: TEXT.t2 },
    ]);
    const [t1, t2] = target.ids as [string, string];
    const send = async (who: Actor, query: string, files: string[], fields: Record<string, string> = {}) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      for (const text of files) form.append('data', new Blob([text], { type: 'text/plain' }), 'new.txt');
      const response = await fetch(`${server.url}/api/v1/update?${query}`, { method: 'PATCH', body: form, headers: { authorization: `Bearer ${who.token}` } });
      return { status: response.status, body: (await response.json()) as any };
    };
    const q = `data_id=${t2}&dataset_id=${target.id}`;
    const refused: [Actor, string, string[], Record<string, string>, number][] = [
      [a, `${q}&mode=hard`, [TEXT.new], {}, 422],
      [a, q, [TEXT.new], { datasetName: 'elsewhere' }, 422],
      [a, q, [], {}, 422],
      [a, q, [TEXT.new, TEXT.k1], {}, 415],
      [b, q, [TEXT.new], {}, 403],
      [a, `data_id=${crypto.randomUUID()}&dataset_id=${target.id}`, [TEXT.new], {}, 404],
    ];
    for (const [who, query, files, fields, status] of refused) {
      const res = await send(who, query, files, fields);
      assert.equal(res.status, status, `${query} ${JSON.stringify(fields)} (${files.length} files): ${JSON.stringify(res.body)}`);
    }
    assert.match((await send(a, `data_id=${crypto.randomUUID()}&dataset_id=${target.id}`, [TEXT.new])).body.detail, /\[UpdateTargetNotFoundError\]$/);
    assert.equal((await send(a, q, [TEXT.new, TEXT.k1])).body.detail, 'update() replaces exactly one document; got a list of 2 items. [IngestionError]');
    assert.deepEqual(await items(a, target.id), [t1, t2].sort());
    assert.ok((await chunks(a, target.id)).includes('Violet'), 'the item kept its content');

    const res = await send(a, q, [TEXT.new]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body[target.id].status, 'PipelineRunCompleted');
    assert.deepEqual(await items(a, target.id), [t1, t2].sort(), 'the item keeps its id');
    const raw = await a.c.get(`/api/v1/datasets/${target.id}/data/${t2}/raw`, asActor(a));
    assert.equal(raw.text, TEXT.new);
    const now = await chunks(a, target.id);
    assert.ok(
      now.includes('Crimson') && !now.includes('Violet') && now.includes('Tangerine'),
      'the new content is searchable, the old gone, the other item untouched',
    );
  });

  it('DELETE /api/v1/datasets deletes every dataset the caller may delete and nothing else; any field is refused', async () => {
    const a = await signUpActor(server, 'legacy-all');
    const b = await signUpActor(server, 'legacy-all-b');
    await addTo(a, 'one', [{ name: 't1.txt', text: TEXT.t1 }]);
    await addTo(a, 'two', [{ name: 't2.txt', text: TEXT.t2 }]);
    const shared = await addTo(b, 'shared', [{ name: 'k1.txt', text: TEXT.k1 }]);
    const grant = await b.c.post(`/api/v1/permissions/datasets/${a.id}?permission_name=read`, { json: [shared.id], ...asActor(b) });
    assert.equal(grant.status, 200, grant.text);
    await acceptPending(a, grant); // a share of a personal dataset is an offer its recipient accepts (D23)
    assert.deepEqual(await datasetNames(a), ['one', 'shared', 'two']);

    assert.equal((await a.c.delete('/api/v1/datasets?dataset_id=x', asActor(a))).status, 422);
    assert.equal((await a.c.delete('/api/v1/datasets', { json: { datasets: ['one'] }, ...asActor(a) })).status, 422);
    assert.deepEqual(await datasetNames(a), ['one', 'shared', 'two'], 'a refused request deletes nothing');

    const res = await a.c.delete('/api/v1/datasets', asActor(a));
    assert.deepEqual([res.status, res.body], [200, null]);
    assert.deepEqual(await datasetNames(a), ['shared'], 'a dataset the caller may only read stays');
    assert.deepEqual(await items(b, shared.id), shared.ids);
    assert.ok((await chunks(b, shared.id)).includes('Kestrel'));
  });
});
