/**
 * A deterministic OpenAI-compatible HTTP server for tests, on 127.0.0.1 and a random port.
 *
 *   POST /v1/embeddings        hashed lexical vectors (HashingEmbedder) of the requested
 *                              `dimensions` (64 when the request names none), in input order
 *   POST /v1/chat/completions  - json_schema requests whose schema name mentions a knowledge graph:
 *                                a graph of the last user message (each distinct capitalised word
 *                                is an Entity node; consecutive ones are linked with related_to)
 *                              - other json_schema requests: {"answer": "ANSWER: <...>"}
 *                              - anything else: "ANSWER: <first 60 chars of the last user message>"
 *   GET  /v1/models            one model
 *
 * `chat` / `embeddings` handlers may override any answer (status, JSON body, headers, delay, hold);
 * returning undefined falls back to the default. Every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HashingEmbedder } from '../../src/memory/providers/offline.js';

export interface StubRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The parsed JSON body (undefined when there was none or it was not JSON). */
  body: any;
}

export interface StubReply {
  /** 200 when omitted. */
  status?: number;
  /** The JSON body; the default answer when omitted and the status is 2xx. */
  json?: unknown;
  /** A raw body, sent instead of `json`. */
  raw?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Answer only once this settles (a test holds calls open to count how many are in flight). */
  hold?: Promise<unknown>;
}

export type StubHandler = (body: any, request: StubRequest) => StubReply | undefined;

export interface OpenAIStubOptions {
  chat?: StubHandler;
  embeddings?: StubHandler;
}

export interface OpenAIStub {
  /** Base URL, ending in /v1. */
  url: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

function lastUserMessage(body: any): string {
  const messages: unknown[] = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role?: unknown; content?: unknown };
    if (message?.role !== 'user') continue;
    if (typeof message.content === 'string') return message.content;
    if (Array.isArray(message.content)) {
      return message.content.map((part: any) => (typeof part?.text === 'string' ? part.text : '')).join('');
    }
  }
  return '';
}

/** The stub's deterministic knowledge graph of a text. */
export function stubGraph(text: string): {
  nodes: Array<{ id: string; name: string; type: string; description: string }>;
  edges: Array<{ source_node_id: string; target_node_id: string; relationship_name: string; description: string }>;
} {
  const names: string[] = [];
  for (const match of text.matchAll(/[\p{Lu}][\p{L}\p{N}]*/gu)) {
    if (!names.includes(match[0])) names.push(match[0]);
  }
  const nodes = names.map((name) => ({ id: name, name, type: 'Entity', description: `${name} is mentioned in the text.` }));
  const edges = names.slice(1).map((name, i) => ({
    source_node_id: names[i]!,
    target_node_id: name,
    relationship_name: 'related_to',
    description: `${names[i]!} is related to ${name}.`,
  }));
  return { nodes, edges };
}

function chatCompletion(body: any, content: string, counter: number): unknown {
  return {
    id: `chatcmpl-stub-${counter}`,
    object: 'chat.completion',
    created: 0,
    model: typeof body?.model === 'string' ? body.model : 'stub',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
}

function defaultChat(body: any, counter: number): unknown {
  const text = lastUserMessage(body);
  const format = body?.response_format;
  if (format?.type === 'json_schema') {
    const name = String(format.json_schema?.name ?? '');
    if (/knowledge.?graph/i.test(name)) return chatCompletion(body, JSON.stringify(stubGraph(text)), counter);
    return chatCompletion(body, JSON.stringify({ answer: `ANSWER: ${text.slice(0, 60)}` }), counter);
  }
  return chatCompletion(body, `ANSWER: ${text.slice(0, 60)}`, counter);
}

async function defaultEmbeddings(body: any): Promise<unknown> {
  const input: unknown = body?.input;
  const texts = (Array.isArray(input) ? input : [input]).map((text) => String(text ?? ''));
  const dimensions = typeof body?.dimensions === 'number' && body.dimensions > 0 ? body.dimensions : 64;
  const vectors = await new HashingEmbedder(dimensions).embed(texts);
  return {
    object: 'list',
    data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    model: typeof body?.model === 'string' ? body.model : 'stub',
    usage: { prompt_tokens: 0, total_tokens: 0 },
  };
}

export async function startOpenAIStub(options: OpenAIStubOptions = {}): Promise<OpenAIStub> {
  const requests: StubRequest[] = [];
  let counter = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: any;
        try {
          body = rawBody === '' ? undefined : JSON.parse(rawBody);
        } catch {
          body = undefined;
        }
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        const path = (req.url ?? '/').split('?')[0]!;
        const request: StubRequest = { method: req.method ?? 'GET', path, headers, body };
        requests.push(request);
        counter++;

        let reply: StubReply | undefined;
        let fallback: () => Promise<unknown> | unknown;
        if (req.method === 'POST' && path === '/v1/chat/completions') {
          reply = options.chat?.(body, request);
          const n = counter;
          fallback = () => defaultChat(body, n);
        } else if (req.method === 'POST' && path === '/v1/embeddings') {
          reply = options.embeddings?.(body, request);
          fallback = () => defaultEmbeddings(body);
        } else if (req.method === 'GET' && path === '/v1/models') {
          fallback = () => ({ object: 'list', data: [{ id: 'stub-model', object: 'model', created: 0, owned_by: 'engram-tests' }] });
        } else {
          reply = { status: 404, json: { error: { message: `Unknown path ${path}`, type: 'invalid_request_error', code: 'not_found' } } };
          fallback = () => undefined;
        }

        if (reply?.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, reply!.delayMs));
        if (reply?.hold !== undefined) await reply.hold.catch(() => undefined);
        if (res.destroyed) return;
        const status = reply?.status ?? 200;
        let payload: string;
        if (reply?.raw !== undefined) payload = reply.raw;
        else if (reply?.json !== undefined) payload = JSON.stringify(reply.json);
        else if (status >= 200 && status < 300) payload = JSON.stringify(await fallback());
        else payload = JSON.stringify({ error: { message: `stub error ${status}`, type: 'server_error', code: null } });
        res.writeHead(status, { 'content-type': 'application/json', ...(reply?.headers ?? {}) });
        res.end(payload);
      })().catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(error) } }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
