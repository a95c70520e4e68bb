import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Every route that deletes removes exactly what it names, and nothing else: the other items of the
 * dataset, the caller's other datasets and another user's dataset of the same name keep their
 * records, their stored files, their graph nodes and their vectors (checked through the API: item
 * listings, raw downloads, the graph view and CHUNKS search).
 *
 *   - POST /api/v1/forget takes the reference's camelCase fields (`dataId`, `datasetId`,
 *     `memoryOnly`) as well as snake_case ones; `dataId` + `memoryOnly` forgets one item's memory
 *     only, as the reference does;
 *   - a field a deleting route does not know is refused with 422 in the validation envelope
 *     (`extra_forbidden`), the two spellings of one field with different values with 400, and
 *     `everything` with a dataset or an item with 422: nothing is deleted;
 *   - DELETE /api/v1/datasets/{id} and DELETE /api/v1/datasets/{id}/data/{data_id} refuse any query
 *     or body field (422) and delete nothing then.
 *
 * In multi-tenant mode (a database per dataset) and in single-user mode with authentication forced
 * on (one shared graph and vector store, partitioned by dataset).
 */

const TEXT = {
  t1: 'Tangerine Harbor ships amber lanterns to Quillport every winter.',
  t2: 'Violet Orchard grows silver pears beside Zephyr Lake.',
  k1: 'Kestrel Mill grinds copper wheat for Yarrow Town.',
};
const MARKER = { t1: 'Tangerine', t2: 'Violet', k1: 'Kestrel' } as const;

interface World {
  a: Actor;
  b: Actor;
  /** A's dataset `target` (items t1, t2), A's dataset `keep` (k1), B's dataset `target` (t1's text). */
  target: string;
  keep: string;
  other: string;
  t1: string;
  t2: string;
  k1: string;
  b1: string;
}

/** What a dataset holds, as its owner sees it through the API. */
interface Holding {
  items: string[];
  raw: Record<string, number>;
  graphIds: Set<string>;
  chunks: string;
}

for (const multiTenant of [true, false]) {
  describe(`deleting routes delete what they name and nothing else (${multiTenant ? 'multi-tenant' : 'single-user, auth forced on'})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant), REQUIRE_AUTHENTICATION: 'true' } });
    });
    after(async () => server.close());

    const addTo = async (who: Actor, dataset: string, files: { name: string; text: string }[]) => {
      const added = await upload(server, who, { datasetName: dataset }, files);
      assert.equal(added.status, 200, JSON.stringify(added.body));
      return { id: added.body.dataset_id as string, dataIds: (added.body.data_ingestion_info as { data_id: string }[]).map((i) => i.data_id) };
    };

    const cognify = async (who: Actor, ids: string[]) => {
      const res = await who.c.post('/api/v1/cognify', { json: { datasetIds: ids }, ...asActor(who) });
      assert.equal(res.status, 200, res.text);
    };

    /** Two users; A holds `target` (two items) and `keep`, B holds a `target` of its own; all cognified. */
    const world = async (): Promise<World> => {
      const a = await signUpActor(server, 'del-a');
      const b = await signUpActor(server, 'del-b');
      const target = await addTo(a, 'target', [
        { name: 't1.txt', text: TEXT.t1 },
        { name: 't2.txt', text: TEXT.t2 },
      ]);
      const keep = await addTo(a, 'keep', [{ name: 'k1.txt', text: TEXT.k1 }]);
      const other = await addTo(b, 'target', [{ name: 't1.txt', text: TEXT.t1 }]);
      await cognify(a, [target.id, keep.id]);
      await cognify(b, [other.id]);
      const w = {
        a,
        b,
        target: target.id,
        keep: keep.id,
        other: other.id,
        t1: target.dataIds[0]!,
        t2: target.dataIds[1]!,
        k1: keep.dataIds[0]!,
        b1: other.dataIds[0]!,
      };
      // The checks below can only fail if everything starts out present.
      await expectItems(w.a, w.target, { t1: w.t1, t2: w.t2 }, { memory: true });
      await expectItems(w.a, w.keep, { k1: w.k1 }, { memory: true });
      await expectItems(w.b, w.other, { t1: w.b1 }, { memory: true });
      return w;
    };

    const holding = async (who: Actor, datasetId: string, dataIds: string[]): Promise<Holding> => {
      const list = await who.c.get(`/api/v1/datasets/${datasetId}/data`, asActor(who));
      assert.equal(list.status, 200, list.text);
      const raw: Record<string, number> = {};
      for (const id of dataIds) raw[id] = (await who.c.get(`/api/v1/datasets/${datasetId}/data/${id}/raw`, asActor(who))).status;
      const graph = await who.c.get(`/api/v1/datasets/${datasetId}/graph`, asActor(who));
      assert.equal(graph.status, 200, graph.text);
      const chunks = await who.c.post('/api/v1/search', {
        json: { searchType: 'CHUNKS', query: 'what is here', datasetIds: [datasetId], topK: 50 },
        ...asActor(who),
      });
      assert.equal(chunks.status, 200, chunks.text);
      return {
        items: (list.body as { id: string }[]).map((i) => i.id).sort(),
        raw,
        graphIds: new Set((graph.body.nodes as { id: string }[]).map((n) => n.id)),
        chunks: JSON.stringify(chunks.body),
      };
    };

    /**
     * The named items are in the dataset: record and stored file; with `memory`, also the document
     * node of the graph and chunk vectors holding its text; with `memory: false`, neither.
     */
    async function expectItems(who: Actor, datasetId: string, items: Partial<Record<keyof typeof MARKER, string>>, opts: { memory: boolean }) {
      const ids = Object.values(items);
      const h = await holding(who, datasetId, ids);
      for (const [key, id] of Object.entries(items) as [keyof typeof MARKER, string][]) {
        assert.ok(h.items.includes(id), `${key}: its record is listed`);
        assert.equal(h.raw[id], 200, `${key}: its stored file downloads`);
        assert.equal(h.graphIds.has(id), opts.memory, `${key}: its document is ${opts.memory ? '' : 'not '}in the graph`);
        assert.equal(h.chunks.includes(MARKER[key]), opts.memory, `${key}: its chunks are ${opts.memory ? '' : 'not '}found by vector search`);
      }
      return h;
    }

    /** The item is gone: no record, no file, no graph document, no chunk. */
    async function expectGone(who: Actor, datasetId: string, key: keyof typeof MARKER, id: string) {
      const h = await holding(who, datasetId, [id]);
      assert.ok(!h.items.includes(id), `${key}: no record`);
      assert.equal(h.raw[id], 404, `${key}: no stored file`);
      assert.ok(!h.graphIds.has(id), `${key}: no graph document`);
      assert.ok(!h.chunks.includes(MARKER[key]), `${key}: no chunk`);
    }

    async function expectDatasetGone(who: Actor, datasetId: string) {
      const list = await who.c.get('/api/v1/datasets', asActor(who));
      assert.ok(!(list.body as { id: string }[]).some((d) => d.id === datasetId), 'the dataset is gone');
    }

    /** A's `keep` and B's `target` are exactly as they were. */
    async function othersIntact(w: World) {
      await expectItems(w.a, w.keep, { k1: w.k1 }, { memory: true });
      await expectItems(w.b, w.other, { t1: w.b1 }, { memory: true });
    }

    const forget = (who: Actor, json: unknown) => who.c.post('/api/v1/forget', { json, ...asActor(who) });

    for (const [spelling, field] of [
      ['camelCase', 'dataId'],
      ['snake_case', 'data_id'],
    ] as const) {
      it(`forget {dataset, ${field}} (${spelling}) removes that item only`, async () => {
        const w = await world();
        const res = await forget(w.a, { dataset: 'target', [field]: w.t1 });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body, { data_id: w.t1, dataset_id: w.target, status: 'success' });
        await expectGone(w.a, w.target, 't1', w.t1);
        await expectItems(w.a, w.target, { t2: w.t2 }, { memory: true });
        await othersIntact(w);
      });
    }

    for (const [spelling, field] of [
      ['camelCase', 'memoryOnly'],
      ['snake_case', 'memory_only'],
    ] as const) {
      it(`forget {dataset, ${field}: true} (${spelling}) removes the dataset's memory and keeps its records and files`, async () => {
        const w = await world();
        const res = await forget(w.a, { dataset: 'target', [field]: true });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body, { dataset_id: w.target, data_records_reset: 2, status: 'success' });
        await expectItems(w.a, w.target, { t1: w.t1, t2: w.t2 }, { memory: false });
        await othersIntact(w);
        // The kept items are cognified again by the next run.
        await cognify(w.a, [w.target]);
        await expectItems(w.a, w.target, { t1: w.t1, t2: w.t2 }, { memory: true });
      });
    }

    it("forget {datasetId, dataId, memoryOnly} removes one item's memory and keeps its record and file", async () => {
      const w = await world();
      const res = await forget(w.a, { datasetId: w.target, dataId: w.t1, memoryOnly: true });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { data_id: w.t1, dataset_id: w.target, status: 'success' });
      await expectItems(w.a, w.target, { t1: w.t1 }, { memory: false });
      await expectItems(w.a, w.target, { t2: w.t2 }, { memory: true });
      await othersIntact(w);
      await cognify(w.a, [w.target]);
      await expectItems(w.a, w.target, { t1: w.t1, t2: w.t2 }, { memory: true });
    });

    for (const field of ['datasetId', 'dataset_id'] as const) {
      it(`forget {${field}} removes that dataset only`, async () => {
        const w = await world();
        const res = await forget(w.a, { [field]: w.target });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body, { dataset_id: w.target, status: 'success' });
        await expectDatasetGone(w.a, w.target);
        await othersIntact(w);
      });
    }

    it('forget with a field it does not know is 422 extra_forbidden and deletes nothing', async () => {
      const w = await world();
      for (const body of [
        { dataset: 'target', data_ids: [w.t1] },
        { dataset: 'target', dataID: w.t1 },
        { dataset: 'target', memoryonly: true },
        { dataset: 'target', item: w.t1, everything: false },
      ]) {
        const res = await forget(w.a, body);
        assert.equal(res.status, 422, `${JSON.stringify(body)}: ${res.text}`);
        const unknown = Object.keys(body).filter((k) => !['dataset', 'everything'].includes(k));
        assert.deepEqual(res.body.detail, [{ type: 'extra_forbidden', loc: ['body', unknown[0]], msg: 'Extra inputs are not permitted' }]);
        assert.deepEqual(res.body.body, body, 'the validation envelope echoes the body');
      }
      const conflict = await forget(w.a, { dataset: 'target', dataId: w.t1, data_id: w.t2 });
      assert.equal(conflict.status, 400, conflict.text);
      assert.deepEqual(conflict.body.detail[0].loc, ['body', 'dataId']);
      for (const body of [
        { everything: true, dataset: 'target' },
        { everything: true, dataId: w.t1 },
      ]) {
        const res = await forget(w.a, body);
        assert.equal(res.status, 422, `${JSON.stringify(body)}: ${res.text}`);
        assert.deepEqual(res.body, { error: 'Invalid request parameters. Specify dataset or dataset_id, data_id+dataset, or everything=True.' });
      }
      await expectItems(w.a, w.target, { t1: w.t1, t2: w.t2 }, { memory: true });
      await othersIntact(w);
    });

    it('DELETE /datasets/{id}/data/{data_id} removes that item only; any query or body field is 422 and deletes nothing', async () => {
      const w = await world();
      const withQuery = await w.a.c.delete(`/api/v1/datasets/${w.target}/data/${w.t1}?memory_only=true`, asActor(w.a));
      assert.equal(withQuery.status, 422, withQuery.text);
      assert.deepEqual(withQuery.body.detail, [{ type: 'extra_forbidden', loc: ['query', 'memory_only'], msg: 'Extra inputs are not permitted' }]);
      const withBody = await w.a.c.delete(`/api/v1/datasets/${w.target}/data/${w.t1}`, { json: { memoryOnly: true }, ...asActor(w.a) });
      assert.equal(withBody.status, 422, withBody.text);
      assert.deepEqual(withBody.body.detail, [{ type: 'extra_forbidden', loc: ['body', 'memoryOnly'], msg: 'Extra inputs are not permitted' }]);
      await expectItems(w.a, w.target, { t1: w.t1, t2: w.t2 }, { memory: true });

      const res = await w.a.c.delete(`/api/v1/datasets/${w.target}/data/${w.t1}`, asActor(w.a));
      assert.equal(res.status, 200, res.text);
      await expectGone(w.a, w.target, 't1', w.t1);
      await expectItems(w.a, w.target, { t2: w.t2 }, { memory: true });
      await othersIntact(w);
    });

    it('DELETE /datasets/{id} removes that dataset only; any query or body field is 422 and deletes nothing', async () => {
      const w = await world();
      const withQuery = await w.a.c.delete(`/api/v1/datasets/${w.target}?data_id=${w.t1}`, asActor(w.a));
      assert.equal(withQuery.status, 422, withQuery.text);
      assert.deepEqual(withQuery.body.detail, [{ type: 'extra_forbidden', loc: ['query', 'data_id'], msg: 'Extra inputs are not permitted' }]);
      const withBody = await w.a.c.delete(`/api/v1/datasets/${w.target}`, { json: { dataId: w.t1 }, ...asActor(w.a) });
      assert.equal(withBody.status, 422, withBody.text);
      await expectItems(w.a, w.target, { t1: w.t1, t2: w.t2 }, { memory: true });
      // An empty JSON object names nothing more than the path: accepted.
      const res = await w.a.c.delete(`/api/v1/datasets/${w.target}`, { json: {}, ...asActor(w.a) });
      assert.equal(res.status, 200, res.text);
      await expectDatasetGone(w.a, w.target);
      await othersIntact(w);
    });
  });
}
