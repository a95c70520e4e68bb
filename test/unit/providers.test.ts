import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  LLMAPIKeyNotSetError,
  LLMAuthenticationError,
  LLMPaymentRequiredError,
  LLMResponseError,
  LLMUnavailableError,
  ProviderError,
} from '../../src/memory/providers/errors.js';
import { KNOWLEDGE_GRAPH_SCHEMA, parseJsonObject, sanitizeGraph } from '../../src/memory/providers/graph-output.js';
import { OpenAICompatibleEmbedder, OpenAICompatibleModel } from '../../src/memory/providers/openai.js';
import { startOpenAIStub, stubGraph, type OpenAIStub, type StubHandler } from '../helpers/openai-stub.js';

/**
 * The OpenAI-compatible client against the local stub server: chat, structured output, graph
 * extraction, summaries, embeddings, the Authorization header, retries, Retry-After, error mapping
 * (and that the API key never appears in an error), invalid-JSON retry and timeouts.
 */

const KEY = 'sk-test-SECRET-0123456789abcdef';

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i]!;
    na += x * x;
    nb += b[i]! * b[i]!;
  });
  return dot / Math.sqrt(na * nb);
}

/** Runs `work` against a fresh stub with the given handlers and closes it afterwards. */
async function withStub<T>(handlers: { chat?: StubHandler; embeddings?: StubHandler }, work: (stub: OpenAIStub) => Promise<T>): Promise<T> {
  const stub = await startOpenAIStub(handlers);
  try {
    return await work(stub);
  } finally {
    await stub.close();
  }
}

function model(stub: OpenAIStub, extra: Partial<ConstructorParameters<typeof OpenAICompatibleModel>[0]> = {}): OpenAICompatibleModel {
  return new OpenAICompatibleModel({ endpoint: stub.url, apiKey: KEY, model: 'gpt-test', maxRetries: 2, ...extra });
}

function chatReply(content: string): unknown {
  return { choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] };
}

async function assertProviderError<E extends ProviderError>(
  work: Promise<unknown>,
  type: new (...args: never[]) => E,
  check: (error: E) => void = () => {},
): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.name, type.name);
    assert.ok(!error.message.includes(KEY), 'the API key must never appear in an error message');
    assert.ok(!error.message.includes('SECRET'), 'no part of the API key may appear in an error message');
    check(error);
    return true;
  });
}

describe('OpenAICompatibleModel', () => {
  let stub: OpenAIStub;
  before(async () => {
    stub = await startOpenAIStub();
  });
  after(async () => {
    await stub.close();
  });

  it('answer() asks the model with the retrieved context before the question', async () => {
    const llm = model(stub);
    await llm.answer('You are terse.', 'Where?', 'Ada worked in London.');
    assert.deepEqual(stub.requests.at(-1)!.body.messages, [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Context:\nAda worked in London.\n\nQuestion: Where?' },
    ]);
  });

  it('complete() posts to /chat/completions and returns the message content', async () => {
    const llm = model(stub, { temperature: 0.3, maxCompletionTokens: 77 });
    assert.equal(llm.name, 'gpt-test');
    const answer = await llm.complete('You are terse.', 'What is the capital of France?');
    assert.equal(answer, 'ANSWER: What is the capital of France?');
    const request = stub.requests.at(-1)!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/v1/chat/completions');
    assert.equal(request.headers.authorization, `Bearer ${KEY}`);
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.body.model, 'gpt-test');
    assert.equal(request.body.temperature, 0.3);
    assert.equal(request.body.max_completion_tokens, 77);
    assert.equal(request.body.response_format, undefined);
    assert.deepEqual(request.body.messages, [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is the capital of France?' },
    ]);
  });

  it('defaults to temperature 0 and sends no max_completion_tokens', async () => {
    await model(stub).complete('s', 'u');
    const request = stub.requests.at(-1)!;
    assert.equal(request.body.temperature, 0);
    assert.equal('max_completion_tokens' in request.body, false);
  });

  it('omits the Authorization header when no key is configured', async () => {
    const llm = new OpenAICompatibleModel({ endpoint: `${stub.url}/`, model: 'llama3' });
    assert.equal(await llm.complete('s', 'hello'), 'ANSWER: hello');
    const request = stub.requests.at(-1)!;
    assert.equal(request.path, '/v1/chat/completions', 'a trailing slash on the endpoint is tolerated');
    assert.equal(request.headers.authorization, undefined);
  });

  it('summarize() asks for a summary of the text and returns plain text', async () => {
    const text = 'Alpha beta gamma. '.repeat(20);
    const summary = await model(stub).summarize(text);
    assert.equal(summary, `ANSWER: ${text.slice(0, 60)}`.trim());
    const request = stub.requests.at(-1)!;
    assert.match(request.body.messages[0].content, /summar/i);
    assert.equal(request.body.messages[1].content, text);
  });

  it('extractGraph() uses strict json_schema output and returns the graph', async () => {
    const text = 'Ada Lovelace worked with Charles Babbage in London.';
    const graph = await model(stub).extractGraph(text);
    const request = stub.requests.at(-1)!;
    assert.equal(request.body.response_format.type, 'json_schema');
    assert.equal(request.body.response_format.json_schema.name, 'KnowledgeGraph');
    assert.equal(request.body.response_format.json_schema.strict, true);
    assert.deepEqual(request.body.response_format.json_schema.schema, KNOWLEDGE_GRAPH_SCHEMA);
    assert.match(request.body.messages[0].content, /knowledge graph/i);
    assert.match(request.body.messages[0].content, /snake_case/);
    assert.equal(request.body.messages[1].content, text);
    assert.deepEqual(graph, stubGraph(text));
    assert.deepEqual(
      graph.nodes.map((node) => node.id),
      ['Ada', 'Lovelace', 'Charles', 'Babbage', 'London'],
    );
    assert.deepEqual(graph.edges[0], {
      source_node_id: 'Ada',
      target_node_id: 'Lovelace',
      relationship_name: 'related_to',
      description: 'Ada is related to Lovelace.',
    });
  });

  it('extractGraph() puts a custom prompt in the system message', async () => {
    await model(stub).extractGraph('Some Text', 'Extract only programming languages.');
    const request = stub.requests.at(-1)!;
    assert.match(request.body.messages[0].content, /^Extract only programming languages\./);
    assert.match(request.body.messages[0].content, /"nodes"/);
  });

  it('extractGraph() drops malformed nodes and edges to unknown nodes', async () => {
    const raw = {
      nodes: [
        { id: 'Ada', name: 'Ada', type: 'person', description: 'A mathematician.' },
        { id: '', name: 'x', type: 'person', description: '' },
        { id: 'NoType', name: 'NoType', description: '' },
        { id: 42, name: 'n', type: 'number', description: '' },
        'junk',
        { id: 'London', name: 'London', type: 'place' },
        { id: 'Ada', name: 'Duplicate', type: 'person', description: 'dup' },
      ],
      edges: [
        { source_node_id: 'Ada', target_node_id: 'London', relationship_name: 'lived_in', description: 'Ada lived in London.' },
        { source_node_id: 'ada', target_node_id: 'london', relationship_name: 'visited', description: '' },
        { source_node_id: 'Ada', target_node_id: 'Paris', relationship_name: 'visited', description: '' },
        { source_node_id: 'Ada', target_node_id: 'London', relationship_name: '', description: '' },
        { source_node_id: 'Ada', target_node_id: 'London', relationship_name: 'lived_in', description: 'again' },
        null,
      ],
    };
    const graph = await withStub({ chat: () => ({ json: chatReply(JSON.stringify(raw)) }) }, (s) => model(s).extractGraph('text'));
    assert.deepEqual(graph, {
      nodes: [
        { id: 'Ada', name: 'Ada', type: 'person', description: 'A mathematician.' },
        { id: 'London', name: 'London', type: 'place', description: '' },
      ],
      edges: [
        { source_node_id: 'Ada', target_node_id: 'London', relationship_name: 'lived_in', description: 'Ada lived in London.' },
        { source_node_id: 'Ada', target_node_id: 'London', relationship_name: 'visited', description: '' },
      ],
    });
    assert.deepEqual(sanitizeGraph(null), { nodes: [], edges: [] });
    assert.deepEqual(sanitizeGraph({ nodes: 'no', edges: 5 }), { nodes: [], edges: [] });
  });

  it('structured() parses fenced JSON and sends the schema', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
    const value = await withStub({ chat: () => ({ json: chatReply('```json\n{"ok": true}\n```') }) }, async (s) => {
      const result = await model(s).structured<{ ok: boolean }>('sys', 'user', 'Verdict', schema);
      assert.equal(s.requests.length, 1);
      assert.deepEqual(s.requests[0]!.body.response_format, { type: 'json_schema', json_schema: { name: 'Verdict', schema, strict: true } });
      return result;
    });
    assert.deepEqual(value, { ok: true });
  });

  it('structured() retries once with a correction when the reply is not valid JSON', async () => {
    let calls = 0;
    await withStub(
      {
        chat: () => {
          calls++;
          return { json: chatReply(calls === 1 ? 'Sure! Here it is: {"ok": tru' : '{"ok": true}') };
        },
      },
      async (s) => {
        const result = await model(s).structured<{ ok: boolean }>('sys', 'user', 'Verdict', {});
        assert.deepEqual(result, { ok: true });
        assert.equal(s.requests.length, 2);
        const messages = s.requests[1]!.body.messages as Array<{ role: string; content: string }>;
        assert.equal(messages.length, 4);
        assert.equal(messages[2]!.role, 'assistant');
        assert.equal(messages[3]!.role, 'user');
        assert.match(messages[3]!.content, /not valid JSON/);
      },
    );
  });

  it('structured() gives up after the second invalid reply', async () => {
    await withStub({ chat: () => ({ json: chatReply('[1, 2, 3]') }) }, async (s) => {
      await assertProviderError(model(s).structured('sys', 'user', 'Verdict', {}), LLMResponseError, (error) => {
        assert.equal(error.status, 502);
      });
      assert.equal(s.requests.length, 2);
    });
  });

  it('retries a 500 and then succeeds', async () => {
    let calls = 0;
    await withStub(
      {
        chat: () => {
          calls++;
          return calls === 1 ? { status: 500, json: { error: { message: 'boom', type: 'server_error' } } } : undefined;
        },
      },
      async (s) => {
        assert.equal(await model(s).complete('s', 'retry me'), 'ANSWER: retry me');
        assert.equal(s.requests.length, 2);
        assert.deepEqual(s.requests[0]!.body, s.requests[1]!.body);
      },
    );
  });

  it('honours a short Retry-After on 429', async () => {
    const times: number[] = [];
    await withStub(
      {
        chat: () => {
          times.push(Date.now());
          return times.length === 1
            ? { status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down', type: 'rate_limit' } } }
            : undefined;
        },
      },
      async (s) => {
        assert.equal(await model(s).complete('s', 'x'), 'ANSWER: x');
        assert.equal(s.requests.length, 2);
        // The default back-off is 250 ms; Retry-After asked for a full second.
        assert.ok(times[1]! - times[0]! >= 900, `waited ${times[1]! - times[0]!} ms`);
      },
    );
  });

  it('gives up after maxRetries with LLMUnavailableError naming the provider status', async () => {
    await withStub({ chat: () => ({ status: 503, json: { error: { message: `overloaded (key ${KEY})` } } }) }, async (s) => {
      await assertProviderError(model(s, { maxRetries: 1 }).complete('s', 'u'), LLMUnavailableError, (error) => {
        assert.equal(error.status, 503);
        assert.match(error.message, /HTTP 503/);
        assert.match(error.message, /overloaded/);
        assert.ok(!error.message.includes('"messages"'), 'the request body is not quoted');
      });
      assert.equal(s.requests.length, 2);
    });
  });

  it('maps 402 to LLMPaymentRequiredError without retrying', async () => {
    await withStub({ chat: () => ({ status: 402, json: { error: { message: 'pay up' } } }) }, async (s) => {
      await assertProviderError(model(s).complete('s', 'u'), LLMPaymentRequiredError, (error) => assert.equal(error.status, 402));
      assert.equal(s.requests.length, 1);
    });
  });

  it('maps a 429 insufficient_quota or budget error to LLMPaymentRequiredError', async () => {
    await withStub(
      {
        chat: () => ({ status: 429, json: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } } }),
      },
      async (s) => {
        await assertProviderError(model(s).complete('s', 'u'), LLMPaymentRequiredError);
        assert.equal(s.requests.length, 1);
      },
    );
    await withStub({ chat: () => ({ status: 400, json: { error: { message: 'Budget has been exceeded', type: 'budget_exceeded' } } }) }, async (s) => {
      await assertProviderError(model(s).complete('s', 'u'), LLMPaymentRequiredError);
    });
  });

  it('maps 401 and 403 to LLMAuthenticationError without the key in the message', async () => {
    for (const status of [401, 403]) {
      await withStub(
        {
          chat: () => ({ status, json: { error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } } }),
        },
        async (s) => {
          await assertProviderError(model(s).complete('s', 'u'), LLMAuthenticationError, (error) => {
            assert.equal(error.status, 502);
            assert.equal(error.message, 'The language model provider refused the API key.');
          });
          assert.equal(s.requests.length, 1, 'authentication failures are not retried');
        },
      );
    }
  });

  it('maps another 4xx to LLMResponseError without retrying and scrubs the key', async () => {
    await withStub({ chat: () => ({ status: 400, json: { error: { message: `bad model for key ${KEY}` } } }) }, async (s) => {
      await assertProviderError(model(s).complete('s', 'u'), LLMResponseError, (error) => {
        assert.match(error.message, /HTTP 400/);
        assert.match(error.message, /bad model/);
      });
      assert.equal(s.requests.length, 1);
    });
  });

  it('times out a silent provider and retries the timeout', async () => {
    await withStub({ chat: () => ({ delayMs: 1_000 }) }, async (s) => {
      await assertProviderError(model(s, { timeoutMs: 100, maxRetries: 1 }).complete('s', 'u'), LLMUnavailableError, (error) => {
        assert.match(error.message, /no answer within 100 ms/);
      });
      assert.equal(s.requests.length, 2);
    });
  });

  it('maps a refused connection to LLMUnavailableError', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const llm = new OpenAICompatibleModel({ endpoint: `http://127.0.0.1:${port}/v1`, apiKey: KEY, model: 'm', maxRetries: 0 });
    await assertProviderError(llm.complete('s', 'u'), LLMUnavailableError, (error) => assert.match(error.message, /network error/));
  });

  it('refuses an answer without content', async () => {
    await withStub({ chat: () => ({ json: { choices: [] } }) }, async (s) => {
      await assertProviderError(model(s).complete('s', 'u'), LLMResponseError);
    });
  });
});

describe('OpenAICompatibleEmbedder', () => {
  let stub: OpenAIStub;
  before(async () => {
    stub = await startOpenAIStub();
  });
  after(async () => {
    await stub.close();
  });

  it('embeds in batches, sends dimensions only when asked, keeps the input order', async () => {
    const embedder = new OpenAICompatibleEmbedder({ endpoint: stub.url, apiKey: KEY, model: 'embed-test', dimensions: 32, sendDimensions: true, batchSize: 2 });
    assert.equal(embedder.dimensions, 32);
    assert.equal(embedder.name, 'embed-test');
    const before = stub.requests.length;
    const texts = ['cats purr', 'cars honk', 'cats sleep', 'trucks', 'cat naps'];
    const vectors = await embedder.embed(texts);
    const sent = stub.requests.slice(before);
    assert.equal(sent.length, 3);
    assert.deepEqual(
      sent.map((r) => r.body.input),
      [['cats purr', 'cars honk'], ['cats sleep', 'trucks'], ['cat naps']],
    );
    for (const request of sent) {
      assert.equal(request.path, '/v1/embeddings');
      assert.equal(request.body.model, 'embed-test');
      assert.equal(request.body.dimensions, 32);
      assert.equal(request.headers.authorization, `Bearer ${KEY}`);
    }
    assert.equal(vectors.length, 5);
    for (const vector of vectors) assert.equal(vector.length, 32);
    assert.ok(cosine(vectors[0]!, vectors[2]!) > cosine(vectors[0]!, vectors[1]!));
    assert.deepEqual(await embedder.embed([]), []);
  });

  it('omits dimensions by default and the Authorization header without a key', async () => {
    const embedder = new OpenAICompatibleEmbedder({ endpoint: stub.url, model: 'nomic-embed-text', dimensions: 64 });
    const [vector] = await embedder.embed(['hello']);
    assert.equal(vector!.length, 64);
    const request = stub.requests.at(-1)!;
    assert.equal('dimensions' in request.body, false);
    assert.equal(request.headers.authorization, undefined);
  });

  it('orders results by index', async () => {
    const reversed: StubHandler = (body) => ({
      json: {
        data: (body.input as string[]).map((text, index) => ({ index, embedding: [text.length, index, 0] })).reverse(),
      },
    });
    await withStub({ embeddings: reversed }, async (s) => {
      const embedder = new OpenAICompatibleEmbedder({ endpoint: s.url, model: 'm', dimensions: 3 });
      assert.deepEqual(await embedder.embed(['a', 'bbb', 'cc']), [
        [1, 0, 0],
        [3, 1, 0],
        [2, 2, 0],
      ]);
    });
  });

  it('refuses vectors of the wrong dimension', async () => {
    const embedder = new OpenAICompatibleEmbedder({ endpoint: stub.url, model: 'm', dimensions: 48 });
    // The stub answers 64 dimensions when none are requested.
    await assertProviderError(embedder.embed(['x']), LLMResponseError, (error) => assert.match(error.message, /64 dimensions; 48/));
  });

  it('refuses a wrong number of vectors or broken indices', async () => {
    await withStub({ embeddings: () => ({ json: { data: [{ index: 0, embedding: [1] }] } }) }, async (s) => {
      const embedder = new OpenAICompatibleEmbedder({ endpoint: s.url, model: 'm', dimensions: 1 });
      await assertProviderError(embedder.embed(['a', 'b']), LLMResponseError);
    });
    await withStub(
      {
        embeddings: () => ({
          json: {
            data: [
              { index: 1, embedding: [1] },
              { index: 1, embedding: [2] },
            ],
          },
        }),
      },
      async (s) => {
        const embedder = new OpenAICompatibleEmbedder({ endpoint: s.url, model: 'm', dimensions: 1 });
        await assertProviderError(embedder.embed(['a', 'b']), LLMResponseError);
      },
    );
  });

  it('shares the retry and error mapping of the chat client', async () => {
    let calls = 0;
    await withStub(
      {
        embeddings: () => {
          calls++;
          return calls === 1 ? { status: 502 } : undefined;
        },
      },
      async (s) => {
        const embedder = new OpenAICompatibleEmbedder({ endpoint: s.url, apiKey: KEY, model: 'm', dimensions: 64 });
        assert.equal((await embedder.embed(['x']))[0]!.length, 64);
        assert.equal(s.requests.length, 2);
      },
    );
    await withStub({ embeddings: () => ({ status: 401, json: { error: { message: KEY } } }) }, async (s) => {
      const embedder = new OpenAICompatibleEmbedder({ endpoint: s.url, apiKey: KEY, model: 'm', dimensions: 64 });
      await assertProviderError(embedder.embed(['x']), LLMAuthenticationError);
    });
  });
});

describe('provider errors and helpers', () => {
  it('LLMAPIKeyNotSetError is a 422 with the fixed message', () => {
    const error = new LLMAPIKeyNotSetError();
    assert.ok(error instanceof ProviderError);
    assert.equal(error.status, 422);
    assert.equal(error.name, 'LLMAPIKeyNotSetError');
    assert.equal(error.message, 'LLM API key is not set.');
  });

  it('parseJsonObject accepts objects, fenced or wrapped in prose, and nothing else', () => {
    assert.deepEqual(parseJsonObject('{"a":1}'), { a: 1 });
    assert.deepEqual(parseJsonObject('```json\n{"a":1}\n```'), { a: 1 });
    assert.deepEqual(parseJsonObject('```\n{"a":1}```'), { a: 1 });
    assert.deepEqual(parseJsonObject('Here you go: {"a": {"b": 2}} Hope it helps.'), { a: { b: 2 } });
    assert.equal(parseJsonObject('[1]'), undefined);
    assert.equal(parseJsonObject('null'), undefined);
    assert.equal(parseJsonObject('not json'), undefined);
    assert.equal(parseJsonObject(''), undefined);
  });

  it('validates its options', () => {
    assert.throws(() => new OpenAICompatibleModel({ endpoint: 'file:///etc/passwd', model: 'm' }), TypeError);
    assert.throws(() => new OpenAICompatibleEmbedder({ endpoint: 'http://localhost/v1', model: 'm', dimensions: 0 }), RangeError);
  });
});
