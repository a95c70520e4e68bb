import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOpenAIStub, type OpenAIStub } from '../helpers/openai-stub.js';
import { asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Token and cost accounting of sessions: a recall in a session adds the tokens the model provider
 * reports in its answers (`usage`) to that session, priced by the model's entry in the price table
 * (MODEL_PRICES overrides the built-in one); the dashboard's totals and per-model view add them up.
 * The model is a loopback stand-in speaking OpenAI's chat protocol. On SQLite and PostgreSQL.
 */

describe('session token and cost accounting', () => {
  let stub: OpenAIStub;
  let server: TestServer;
  let a: Actor;
  let b: Actor;
  before(async () => {
    stub = await startOpenAIStub({
      chat: (body) =>
        body?.response_format
          ? undefined
          : {
              json: {
                id: 'chatcmpl-usage',
                object: 'chat.completion',
                created: 0,
                model: 'priced-model',
                choices: [{ index: 0, message: { role: 'assistant', content: 'The keeper is Quillon.' }, finish_reason: 'stop' }],
                usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 },
              },
            },
    });
    server = await startTestServer({
      env: {
        ENABLE_BACKEND_ACCESS_CONTROL: 'true',
        LLM_PROVIDER: 'openai',
        LLM_ENDPOINT: stub.url,
        LLM_API_KEY: 'stub-key',
        LLM_MODEL: 'stub-model',
        EMBEDDING_DIMENSIONS: '64',
        MODEL_PRICES: JSON.stringify({ 'priced-model': { input: 2, output: 10 } }),
      },
    });
    a = await signUpActor(server, 'costs-a');
    b = await signUpActor(server, 'costs-b');
  });
  after(async () => {
    await server.close();
    await stub.close();
  });

  it('a recall in a session adds the provider’s reported tokens and their price to that session only', async () => {
    const added = await a.c.post('/api/v1/add_text', {
      json: { textData: ['Quillon Abernethy keeps the Skerrymore light.'], datasetName: 'lights' },
      ...asActor(a),
    });
    assert.equal(added.status, 200, added.text);
    const ds = added.body.dataset_id;
    assert.equal((await a.c.post('/api/v1/cognify', { json: { datasetIds: [ds] }, ...asActor(a) })).status, 200);
    const sid = 'claude-code-costs';
    assert.equal(
      (await a.c.post('/api/v1/remember/entry', { json: { entry: { type: 'qa', question: 'q', answer: 'a' }, session_id: sid }, ...asActor(a) })).status,
      200,
    );

    for (let i = 0; i < 2; i++) {
      const r = await a.c.post('/api/v1/recall', {
        json: { query: 'Who keeps the light?', search_type: 'GRAPH_COMPLETION', dataset_ids: [ds], session_id: sid, scope: 'graph' },
        ...asActor(a),
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body[0].text, 'The keeper is Quillon.');
    }
    // A recall without a session is not charged to any.
    await a.c.post('/api/v1/recall', {
      json: { query: 'Who keeps the light?', search_type: 'GRAPH_COMPLETION', dataset_ids: [ds], scope: 'graph' },
      ...asActor(a),
    });

    const detail = await a.c.get(`/api/v1/sessions/${sid}`, asActor(a));
    assert.equal(detail.status, 200, detail.text);
    assert.deepEqual([detail.body.tokens_in, detail.body.tokens_out, detail.body.last_model], [2000, 400, 'priced-model']);
    // 2 × (1000 × $2 + 200 × $10) per million tokens.
    assert.ok(Math.abs(detail.body.cost_usd - 0.008) < 1e-9, String(detail.body.cost_usd));

    const byModel = await a.c.get('/api/v1/sessions/cost-by-model?range=all', asActor(a));
    assert.deepEqual(byModel.body, [{ model: 'priced-model', session_count: 1, cost_usd: byModel.body[0]!.cost_usd, tokens_in: 2000, tokens_out: 400 }]);
    assert.ok(Math.abs(byModel.body[0]!.cost_usd - 0.008) < 1e-9);
    const stats = await a.c.get('/api/v1/sessions/stats', asActor(a));
    assert.deepEqual([stats.body.tokens_in, stats.body.tokens_out, stats.body.tokens_total], [2000, 400, 2400]);

    // Another user's views hold none of it.
    assert.deepEqual((await b.c.get('/api/v1/sessions/cost-by-model?range=all', asActor(b))).body, []);
    assert.equal((await b.c.get('/api/v1/sessions/stats', asActor(b))).body.tokens_total, 0);
  });
});
