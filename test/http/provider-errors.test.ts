import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenAIStub, type OpenAIStub } from '../helpers/openai-stub.js';
import { asActor, signUpActor, startTestServer, type TestServer } from '../helpers/harness.js';

/**
 * A language model provider's refusal during a search reaches the client with the status the
 * provider error carries, in the reference's named envelope `{"detail": "<message> [<Name>]"}`,
 * not as a 500.
 */

const DOC = 'Ada Lovelace worked with Charles Babbage in London in 1843.\n\nBabbage designed the Analytical Engine.';

describe('LLM provider errors over HTTP', () => {
  let stub: OpenAIStub;
  let server: TestServer;
  /** While set, every plain chat completion (no JSON schema) is refused with 402. */
  let refuseCompletions = false;

  before(async () => {
    stub = await startOpenAIStub({
      chat: (body) =>
        refuseCompletions && body?.response_format?.type !== 'json_schema'
          ? { status: 402, json: { error: { message: 'You exceeded your current quota.', type: 'insufficient_quota', code: 'insufficient_quota' } } }
          : undefined,
    });
    server = await startTestServer({
      env: {
        LLM_ENDPOINT: stub.url,
        LLM_API_KEY: 'stub-key',
        LLM_MODEL: 'stub-model',
        EMBEDDING_DIMENSIONS: '64',
      },
    });
  });

  after(async () => {
    await server?.close();
    await stub?.close();
  });

  it('a 402 from the LLM during a completion search answers 402 LLMPaymentRequiredError', async () => {
    const user = await signUpActor(server, 'llm-402');
    const added = await user.c.post('/api/v1/add_text', { json: { textData: [DOC], datasetName: 'quota' }, ...asActor(user) });
    assert.equal(added.status, 200, added.text);
    const datasetId = added.body.dataset_id as string;
    const cognified = await user.c.post('/api/v1/cognify', { json: { datasetIds: [datasetId] }, ...asActor(user) });
    assert.equal(cognified.status, 200, cognified.text);

    // The model answers while it has credit.
    const answered = await user.c.post('/api/v1/search', {
      json: { searchType: 'RAG_COMPLETION', query: 'Who worked with Babbage?', datasetIds: [datasetId] },
      ...asActor(user),
    });
    assert.equal(answered.status, 200, answered.text);
    assert.match(answered.text, /ANSWER: /);

    refuseCompletions = true;
    try {
      for (const searchType of ['RAG_COMPLETION', 'GRAPH_COMPLETION']) {
        const refused = await user.c.post('/api/v1/search', {
          json: { searchType, query: 'Who worked with Babbage?', datasetIds: [datasetId] },
          ...asActor(user),
        });
        assert.equal(refused.status, 402, `${searchType}: ${refused.text}`);
        assert.deepEqual(refused.body, {
          detail:
            'The language model provider refused the request: the quota or budget of the account is exhausted (HTTP 402: You exceeded your current quota.). [LLMPaymentRequiredError]',
        });
        assert.ok(!refused.text.includes('stub-key'), 'the API key is never quoted');
      }
    } finally {
      refuseCompletions = false;
    }
  });
});
