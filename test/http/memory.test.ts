import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOpenAIStub } from '../helpers/openai-stub.js';
import { startPglite, type PgliteServer } from '../helpers/pglite.js';
import { asActor, signUpActor, startTestServer, upload, type TestServer } from '../helpers/harness.js';

/**
 * The memory engine over HTTP with the offline providers: add (multipart and add_text) → cognify →
 * search → data views → delete, the permission checks in front of each route (D14), and two users
 * holding the same document never seeing each other's content (D16), in multi-tenant mode and in
 * single-user mode with authentication forced on.
 */

const DOC = 'Ada Lovelace worked with Charles Babbage in London in 1843.\n\nBabbage designed the Analytical Engine.';

const ADMIN_PASSWORD = 'Admin-settings-pass-4711!';

const VARIANTS = [
  { multiTenant: true, vectors: 'lancedb' },
  { multiTenant: false, vectors: 'lancedb' },
  { multiTenant: true, vectors: 'pgvector' },
  { multiTenant: false, vectors: 'pgvector' },
] as const;

for (const { multiTenant, vectors } of VARIANTS) {
  describe(`memory engine over HTTP (${multiTenant ? 'multi-tenant' : 'single-user, auth forced on'}, Kuzu + ${vectors})`, () => {
    let server: TestServer;
    let pglite: PgliteServer | undefined;
    before(async () => {
      // pgvector: a real PostgreSQL with the vector extension (PGlite) over its socket, used through pg.
      pglite = vectors === 'pgvector' ? await startPglite() : undefined;
      server = await startTestServer({
        env: {
          ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant),
          REQUIRE_AUTHENTICATION: 'true',
          ALLOW_CYPHER_QUERY: 'true',
          DEFAULT_USER_PASSWORD: ADMIN_PASSWORD,
          ...(pglite
            ? {
                VECTOR_DB_PROVIDER: 'pgvector',
                VECTOR_DB_HOST: pglite.host,
                VECTOR_DB_PORT: String(pglite.port),
                VECTOR_DB_NAME: 'postgres',
                VECTOR_DB_USERNAME: 'postgres',
              }
            : {}),
        },
      });
    });
    after(async () => {
      await server.close();
      await pglite?.stop();
    });

    const actor = (prefix: string) => signUpActor(server, prefix);

    it('add → cognify → search → views → delete, isolated between two users with the same document', async () => {
      const a = await actor('mem-a');
      const b = await actor('mem-b');

      const addedA = await upload(server, a, { datasetName: 'notes' }, [{ name: 'ada.txt', text: DOC }]);
      assert.equal(addedA.status, 200, JSON.stringify(addedA.body));
      assert.equal(addedA.body.status, 'PipelineRunCompleted');
      assert.deepEqual(Object.keys(addedA.body).sort(), ['data_ingestion_info', 'dataset_id', 'dataset_name', 'payload', 'pipeline_run_id', 'status']);
      const dsA = addedA.body.dataset_id as string;
      const dataIdA = addedA.body.data_ingestion_info[0].data_id as string;

      const addedB = await b.c.post('/api/v1/add_text', { json: { textData: [DOC, 'Cats purr when they are content.'], datasetName: 'notes' }, ...asActor(b) });
      assert.equal(addedB.status, 200, addedB.text);
      const dsB = addedB.body.dataset_id as string;
      assert.notEqual(dsA, dsB);

      const cogA = await a.c.post('/api/v1/cognify', { json: { datasetIds: [dsA] }, ...asActor(a) });
      assert.equal(cogA.status, 200, cogA.text);
      assert.equal(cogA.body[dsA].status, 'PipelineRunCompleted');
      const cogB = await b.c.post('/api/v1/cognify', { json: { datasets: ['notes'], runInBackground: true }, ...asActor(b) });
      assert.equal(cogB.status, 200, cogB.text);
      assert.equal(cogB.body[dsB].status, 'PipelineRunStarted');
      assert.deepEqual(cogB.body[dsB].payload, []);
      await server.engram.memory.idle();
      const status = await b.c.get(`/api/v1/datasets/status?dataset=${dsB}`, asActor(b));
      assert.deepEqual(status.body, { [dsB]: 'DATASET_PROCESSING_COMPLETED' });

      // Multi-tenant mode: each dataset got its own databases, recorded in dataset_database.
      const rows = await server.engram.store.db.selectFrom('dataset_database').selectAll().where('dataset_id', 'in', [dsA, dsB]).execute();
      if (multiTenant) {
        assert.equal(rows.length, 2);
        for (const row of rows) {
          assert.equal(row.graph_dataset_database_handler, 'kuzu');
          assert.equal(row.vector_dataset_database_handler, vectors);
          if (vectors === 'pgvector') assert.equal(row.vector_database_name, `ds_${row.dataset_id.replace(/-/g, '')}`);
          assert.ok(!JSON.stringify(row).includes('password'), 'no credential in the row');
        }
      } else {
        assert.equal(rows.length, 0, 'single-user mode uses the shared stores');
      }

      // Search: A's chunks are A's; B's cat sentence never reaches A.
      const chunks = await a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'cats purr', topK: 10 }, ...asActor(a) });
      assert.equal(chunks.status, 200, chunks.text);
      const text = JSON.stringify(chunks.body);
      assert.ok(!text.includes('purr'), 'no content of another user');
      if (multiTenant) {
        assert.equal(chunks.body.length, 1);
        assert.deepEqual(Object.keys(chunks.body[0]).sort(), ['dataset_id', 'dataset_name', 'dataset_tenant_id', 'search_result']);
        assert.equal(chunks.body[0].dataset_id, dsA);
      }
      for (const searchType of [
        'GRAPH_COMPLETION',
        'RAG_COMPLETION',
        'HYBRID_COMPLETION',
        'GRAPH_SUMMARY_COMPLETION',
        'SUMMARIES',
        'CHUNKS_LEXICAL',
        'FEELING_LUCKY',
      ]) {
        const r = await a.c.post('/api/v1/search', { json: { searchType, query: 'Who worked with Babbage?', datasetIds: [dsA] }, ...asActor(a) });
        assert.equal(r.status, 200, `${searchType}: ${r.text}`);
        assert.ok(!JSON.stringify(r.body).includes('purr'), `${searchType} stays in A's dataset`);
      }
      const cypher = await a.c.post('/api/v1/search', {
        json: { searchType: 'CYPHER', query: 'MATCH (n:Node) RETURN count(n) AS c', datasetIds: [dsA] },
        ...asActor(a),
      });
      assert.equal(cypher.status, 200, cypher.text);
      const refused = await a.c.post('/api/v1/search', {
        json: { searchType: 'CYPHER', query: 'MATCH (n) DETACH DELETE n', datasetIds: [dsA] },
        ...asActor(a),
      });
      assert.equal(refused.status, 400);
      assert.match(refused.body.detail, /\[CypherSearchError\]$/);
      const badType = await a.c.post('/api/v1/search', { json: { searchType: 'NOPE', query: 'x' }, ...asActor(a) });
      assert.equal(badType.status, 400);
      const badTopK = await a.c.post('/api/v1/search', { json: { query: 'x', topK: 0 }, ...asActor(a) });
      assert.deepEqual([badTopK.status, badTopK.body], [422, { detail: 'top_k must be a positive integer. [QueryValidationError]' }]);

      // B may not read, write or delete A's dataset (D14: 403, not 500).
      for (const r of [
        await b.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'x', datasetIds: [dsA] }, ...asActor(b) }),
        await b.c.post('/api/v1/cognify', { json: { datasetIds: [dsA] }, ...asActor(b) }),
        await b.c.post('/api/v1/add_text', { json: { textData: ['x'], datasetId: dsA }, ...asActor(b) }),
        await b.c.get(`/api/v1/datasets/${dsA}/data`, asActor(b)),
        await b.c.get(`/api/v1/datasets/${dsA}/graph`, asActor(b)),
        await b.c.get(`/api/v1/datasets/${dsA}/data/${dataIdA}/raw`, asActor(b)),
      ]) {
        assert.equal(r.status, 403, r.text);
      }
      assert.equal((await b.c.delete(`/api/v1/datasets/${dsA}/data/${dataIdA}`, asActor(b))).status, 401);
      assert.equal((await b.c.get(`/api/v1/datasets/status?dataset=${dsA}`, asActor(b))).status, 409);

      // Views of A's own dataset.
      const data = await a.c.get(`/api/v1/datasets/${dsA}/data`, asActor(a));
      assert.equal(data.body.length, 1);
      assert.equal(data.body[0].id, dataIdA);
      const raw = await a.c.get(`/api/v1/datasets/${dsA}/data/${dataIdA}/raw`, asActor(a));
      assert.equal(raw.text, DOC);
      const graph = await a.c.get(`/api/v1/datasets/${dsA}/graph`, asActor(a));
      assert.ok(graph.body.nodes.some((n: { type: string }) => n.type === 'DocumentChunk'));
      assert.ok(graph.body.nodes.some((n: { label: string }) => n.label === 'ada lovelace'));
      const summary = await a.c.get(`/api/v1/datasets/graph-summary?dataset_ids=${dsA}`, asActor(a));
      assert.equal(summary.body[0].numNodes, graph.body.nodes.length);

      const history = await a.c.get('/api/v1/search', asActor(a));
      assert.ok(history.body.some((h: { user: string; text: string }) => h.user === 'user' && h.text === 'Who worked with Babbage?'));

      // Deleting the item, then the dataset, removes their content; B's copy is untouched.
      assert.equal((await a.c.delete(`/api/v1/datasets/${dsA}/data/${dataIdA}`, asActor(a))).status, 200);
      assert.deepEqual((await a.c.get(`/api/v1/datasets/${dsA}/data`, asActor(a))).body, []);
      assert.equal((await a.c.delete(`/api/v1/datasets/${dsA}`, asActor(a))).status, 200);
      const bStill = await b.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'Analytical Engine', datasetIds: [dsB] }, ...asActor(b) });
      assert.ok(JSON.stringify(bStill.body).includes('Analytical'));
    });

    it('remember, recall and forget', async () => {
      const a = await actor('mem-r');
      const b = await actor('mem-rb');
      const form = new FormData();
      form.append('datasetName', 'diary');
      form.append('data', new Blob([DOC], { type: 'text/plain' }), 'ada.txt');
      const remembered = await fetch(`${server.url}/api/v1/remember`, { method: 'POST', body: form, headers: { authorization: `Bearer ${a.token}` } });
      const r = (await remembered.json()) as any;
      assert.equal(remembered.status, 200, JSON.stringify(r));
      assert.equal(r.status, 'completed');
      assert.equal(r.items_processed, 1);
      const ds = r.dataset_id as string;

      const recalled = await a.c.post('/api/v1/recall', { json: { query: 'Who designed the Analytical Engine?', datasetIds: [ds] }, ...asActor(a) });
      assert.equal(recalled.status, 200, recalled.text);
      assert.equal(recalled.body[0].source, 'graph');
      assert.equal(recalled.body[0].dataset_id, ds);
      const routed = await a.c.post('/api/v1/recall', {
        json: { query: 'MATCH (n:Node) RETURN n.name LIMIT 3', searchType: null, datasetIds: [ds] },
        ...asActor(a),
      });
      assert.equal(routed.status, 200, routed.text);
      assert.equal(routed.body[0].search_type, 'CYPHER');
      assert.equal((await a.c.post('/api/v1/recall', { json: { query: 'x', scope: 'galaxy' }, ...asActor(a) })).status, 422);
      assert.equal((await b.c.post('/api/v1/recall', { json: { query: 'x', datasetIds: [ds] }, ...asActor(b) })).status, 403);
      const warming = await b.c.post('/api/v1/recall', { json: { query: 'anything' }, ...asActor(b) });
      assert.deepEqual([warming.status, warming.body[0]?.source, warming.body[0]?.status], [200, 'system', 'memory_warming_up'], 'nothing cognified yet');

      // forget: refused for another user, then memory only, then the dataset.
      assert.equal((await b.c.post('/api/v1/forget', { json: { dataset_id: ds }, ...asActor(b) })).status, 403);
      assert.equal((await a.c.post('/api/v1/forget', { json: { dataset: 'diary', dataset_id: ds }, ...asActor(a) })).status, 422);
      const memoryOnly = await a.c.post('/api/v1/forget', { json: { dataset_id: ds, memory_only: true }, ...asActor(a) });
      assert.deepEqual(memoryOnly.body, { dataset_id: ds, data_records_reset: 1, status: 'success' });
      assert.deepEqual((await a.c.get(`/api/v1/datasets/${ds}/graph`, asActor(a))).body, { nodes: [], edges: [] });
      assert.equal((await a.c.get(`/api/v1/datasets/${ds}/data`, asActor(a))).body.length, 1, 'raw data is kept');
      const gone = await a.c.post('/api/v1/forget', { json: { dataset: 'diary' }, ...asActor(a) });
      assert.deepEqual(gone.body, { dataset_id: ds, status: 'success' });
      assert.equal((await a.c.get(`/api/v1/datasets/${ds}/data`, asActor(a))).status, 403);
    });

    it('settings: masked keys, superuser-only changes, encrypted at rest, applied to completions', async () => {
      const stub = await startOpenAIStub();
      try {
        const user = await actor('mem-s');
        const admin = server.client();
        const adminToken = await admin.login('default_user@example.com', ADMIN_PASSWORD);
        const shown = await user.c.get('/api/v1/settings', asActor(user));
        assert.equal(shown.status, 200);
        assert.equal(shown.body.llm.provider, 'offline');
        assert.deepEqual(Object.keys(shown.body).sort(), ['llm', 'vectorDb']);
        const secret = 'sk-test-0123456789abcdefghij';
        const change = { llm: { provider: 'openai', model: 'stub-model', endpoint: stub.url, apiKey: secret } };
        const refused = await user.c.post('/api/v1/settings', { json: change, ...asActor(user) });
        assert.deepEqual([refused.status, refused.body], [403, { error: 'Superuser privileges required to modify settings' }]);
        const done = await admin.post('/api/v1/settings', { json: change, bearer: adminToken, cookies: false });
        assert.equal(done.status, 200, done.text);
        // A superuser sees the key's first characters and the endpoint; anyone else only that a key is set.
        const adminView = (await admin.get('/api/v1/settings', { bearer: adminToken, cookies: false })).body.llm;
        const masked = adminView.apiKey as string;
        assert.equal(masked, `${secret.slice(0, 10)}${'*'.repeat(secret.length - 10)}`);
        assert.equal(adminView.endpoint, stub.url.replace(/\/+$/, ''));
        const userView = (await user.c.get('/api/v1/settings', asActor(user))).body;
        assert.deepEqual([userView.llm.apiKey, userView.llm.endpoint, userView.vectorDb.url], ['**********', null, '']);
        assert.ok(!JSON.stringify(userView).includes(secret.slice(0, 4)), 'no part of the key reaches a user');
        const row = await server.engram.store.db.selectFrom('settings').select('value').executeTakeFirstOrThrow();
        assert.ok(!row.value.includes(secret), 'the key is not stored in plaintext');
        assert.match(row.value, /gAAAAA/, 'the key is stored as a Fernet token');
        // Sending the masked key back keeps the stored key.
        await admin.post('/api/v1/settings', { json: { llm: { ...change.llm, apiKey: masked } }, bearer: adminToken, cookies: false });
        // Completions now go to the configured model.
        const r = await user.c.post('/api/v1/add_text', { json: { textData: [DOC], datasetName: 'set' }, ...asActor(user) });
        await user.c.post('/api/v1/cognify', { json: { datasetIds: [r.body.dataset_id] }, ...asActor(user) });
        const answer = await user.c.post('/api/v1/search', {
          json: { searchType: 'RAG_COMPLETION', query: 'Who?', datasetIds: [r.body.dataset_id] },
          ...asActor(user),
        });
        assert.match(JSON.stringify(answer.body), /ANSWER: /, answer.text);
        assert.ok(
          stub.requests.some((q) => q.headers.authorization === `Bearer ${secret}`),
          'the decrypted key is used',
        );

        // The stored key never follows a change of endpoint (or provider): it must be entered again.
        const other = await startOpenAIStub();
        try {
          const moved = { llm: { ...change.llm, endpoint: other.url, apiKey: masked } };
          const needsKey = await admin.post('/api/v1/settings', { json: moved, bearer: adminToken, cookies: false });
          assert.deepEqual(
            [needsKey.status, needsKey.body],
            [400, { error: 'Changing the language model provider or endpoint needs the API key again: send apiKey with it.' }],
          );
          const blank = await admin.post('/api/v1/settings', { json: { llm: { ...moved.llm, apiKey: '' } }, bearer: adminToken, cookies: false });
          assert.equal(blank.status, 400, blank.text);
          const unchanged = (await admin.get('/api/v1/settings', { bearer: adminToken, cookies: false })).body.llm;
          assert.deepEqual([unchanged.endpoint, unchanged.apiKey], [stub.url.replace(/\/+$/, ''), masked], 'a refused change changes nothing');
          const otherSecret = 'sk-other-9876543210zyxwvuts';
          const rekeyed = await admin.post('/api/v1/settings', { json: { llm: { ...moved.llm, apiKey: otherSecret } }, bearer: adminToken, cookies: false });
          assert.equal(rekeyed.status, 200, rekeyed.text);
          await user.c.post('/api/v1/search', { json: { searchType: 'RAG_COMPLETION', query: 'Who?', datasetIds: [r.body.dataset_id] }, ...asActor(user) });
          assert.ok(other.requests.length > 0, 'the new endpoint is used');
          assert.ok(
            other.requests.every((q) => q.headers.authorization === `Bearer ${otherSecret}`),
            'the new endpoint only ever gets its own key',
          );
        } finally {
          await other.close();
        }
      } finally {
        await stub.close();
      }
    });

    it('validates add input with the reference errors', async () => {
      const a = await actor('mem-v');
      const none = await upload(server, a, {}, [{ name: 'x.txt', text: 'x' }]);
      assert.deepEqual([none.status, none.body], [400, { error: 'Either datasetId or datasetName must be provided.', detail: null }]);
      const empty = await upload(server, a, { datasetName: 'never_created' }, []);
      assert.equal(empty.status, 400);
      const names = ((await a.c.get('/api/v1/datasets', asActor(a))).body as { name: string }[]).map((d) => d.name);
      assert.ok(!names.includes('never_created'), 'an add without files creates no dataset');
      const dotted = await a.c.post('/api/v1/add_text', { json: { textData: ['x'], datasetName: 'a.b' }, ...asActor(a) });
      assert.equal(dotted.status, 400);
      const labels = await upload(server, a, { datasetName: 'v', labels: '["one","two"]' }, [{ name: 'x.txt', text: 'x' }]);
      assert.deepEqual(
        [labels.status, labels.body],
        [400, { detail: 'Provide one label per uploaded file: got 2 labels for 1 files. [LabelCountMismatchError]' }],
      );
      const ssrf = await a.c.post('/api/v1/add_text', { json: { textData: ['http://127.0.0.1:1/secret'], datasetName: 'v' }, ...asActor(a) });
      assert.deepEqual(
        [ssrf.status, ssrf.body],
        [403, { detail: "URL host '127.0.0.1' points to a non-public address and is blocked. [SSRFProtectionError]" }],
      );
      const noDatasets = await a.c.post('/api/v1/cognify', { json: {}, ...asActor(a) });
      assert.deepEqual([noDatasets.status, noDatasets.body], [400, { error: 'No datasets or dataset_ids provided', detail: null }]);
    });
  });
}
