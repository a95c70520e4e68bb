/**
 * Client for OpenAI-compatible chat and embedding APIs (OpenAI itself, and the servers that speak
 * the same protocol: Ollama, vLLM, llama.cpp, LiteLLM, ...). Only global fetch is used.
 *
 * Failures are mapped to named errors that the HTTP layer renders:
 *   - 402, or an error whose code/type mentions insufficient_quota or budget → LLMPaymentRequiredError
 *   - 401 / 403                                                                 → LLMAuthenticationError
 *   - 408, 429, 5xx, network errors and timeouts are retried with exponential back-off (honouring
 *     Retry-After up to 5 s), then                                              → LLMUnavailableError
 *   - any other refusal or a malformed answer                                   → LLMResponseError
 *
 * The API key only ever travels in the `Authorization: Bearer` header; it is never put in an error
 * message (provider messages are scrubbed of it), and request bodies are never quoted in errors.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '../../errors.js';
import type { Embedder, ExtractedGraph, LanguageModel } from './types.js';

// ------------------------------------------------------------------------------------------------
// Errors

/**
 * A failure talking to the model provider; `status` is the HTTP status the server answers with,
 * in the reference's named envelope `{"detail": "<message> [<Name>]"}` of the subclass's name.
 */
export class ProviderError extends DomainError {
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.name = 'ProviderError';
    this.status = status;
  }
}

/** No API key is configured for a provider that needs one. */
export class LLMAPIKeyNotSetError extends ProviderError {
  constructor() {
    super('LLM API key is not set.', 422);
    this.name = 'LLMAPIKeyNotSetError';
  }
}

/** The provider refused for lack of credit, quota or budget. */
export class LLMPaymentRequiredError extends ProviderError {
  constructor(message = 'The language model provider refused the request: the quota or budget of the account is exhausted.') {
    super(message, 402);
    this.name = 'LLMPaymentRequiredError';
  }
}

/** The provider refused the API key (HTTP 401 or 403). */
export class LLMAuthenticationError extends ProviderError {
  constructor() {
    super('The language model provider refused the API key.', 502);
    this.name = 'LLMAuthenticationError';
  }
}

/** The provider could not be reached or kept failing (429, 5xx, network, timeout) after retries. */
export class LLMUnavailableError extends ProviderError {
  constructor(message: string) {
    super(message, 503);
    this.name = 'LLMUnavailableError';
  }
}

/** The provider rejected the request (another 4xx) or answered with something unusable. */
export class LLMResponseError extends ProviderError {
  constructor(message: string) {
    super(message, 502);
    this.name = 'LLMResponseError';
  }
}

// ------------------------------------------------------------------------------------------------
// Transport

const MAX_RETRY_AFTER_MS = 5_000;
const BASE_BACKOFF_MS = 250;
const MAX_PROVIDER_MESSAGE = 300;

interface TransportOptions {
  endpoint: string;
  apiKey?: string | undefined;
  timeoutMs: number;
  maxRetries: number;
  /** "language model" or "embedding": used in error messages. */
  label: string;
}

/** The parts of a provider error body that matter. */
interface ProviderProblem {
  message: string;
  code: string;
  type: string;
}

function readProblem(text: string): ProviderProblem {
  const problem: ProviderProblem = { message: '', code: '', type: '' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    const plain = text.trim();
    // HTML error pages from proxies say nothing useful.
    if (plain !== '' && !plain.startsWith('<')) problem.message = plain;
    return problem;
  }
  if (body === null || typeof body !== 'object') return problem;
  const record = body as Record<string, unknown>;
  const error = record.error;
  const source = error !== null && typeof error === 'object' ? (error as Record<string, unknown>) : record;
  if (typeof error === 'string') problem.message = error;
  else if (typeof source.message === 'string') problem.message = source.message;
  else if (typeof source.detail === 'string') problem.message = source.detail;
  if (typeof source.code === 'string' || typeof source.code === 'number') problem.code = String(source.code);
  if (typeof source.type === 'string') problem.type = source.type;
  return problem;
}

function mentionsQuota(problem: ProviderProblem): boolean {
  const marks = `${problem.code} ${problem.type}`.toLowerCase();
  return marks.includes('insufficient_quota') || marks.includes('budget');
}

/** Milliseconds to wait as asked by Retry-After / retry-after-ms, or undefined. */
function retryAfterMs(headers: Headers): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Number(ms.trim());
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - Date.now());
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

function networkProblem(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === 'string' ? code : cause.message;
    }
    return error.message;
  }
  return String(error);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** POSTs JSON with retries and maps every failure to a ProviderError. */
class Transport {
  private readonly base: string;

  constructor(private readonly options: TransportOptions) {
    const url = new URL(options.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('The provider endpoint must be an http(s) URL.');
    this.base = options.endpoint.replace(/\/+$/, '');
  }

  /** Removes the API key (and anything looking like one) from provider text. */
  private scrub(text: string): string {
    let clean = text;
    const key = this.options.apiKey;
    if (key !== undefined && key.length > 0) clean = clean.split(key).join('***');
    clean = clean.replace(/\b(sk|key|api)[-_][A-Za-z0-9_*-]{8,}/g, '***');
    return truncate(clean.replace(/\s+/g, ' ').trim(), MAX_PROVIDER_MESSAGE);
  }

  async post(path: string, body: unknown): Promise<unknown> {
    const payload = JSON.stringify(body);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.options.apiKey !== undefined && this.options.apiKey !== '') headers.authorization = `Bearer ${this.options.apiKey}`;
    const label = this.options.label;
    for (let attempt = 0; ; attempt++) {
      let problem: string;
      let wait: number | undefined;
      try {
        const signal = AbortSignal.timeout(this.options.timeoutMs);
        const response = await fetch(`${this.base}${path}`, { method: 'POST', headers, body: payload, signal, redirect: 'manual' });
        const text = await response.text();
        if (response.status >= 200 && response.status < 300) {
          try {
            return JSON.parse(text) as unknown;
          } catch {
            throw new LLMResponseError(`The ${label} provider answered with a body that is not JSON (HTTP ${response.status}).`);
          }
        }
        const found = readProblem(text);
        const detail = found.message === '' ? '' : `: ${this.scrub(found.message)}`;
        if (response.status === 402 || mentionsQuota(found)) {
          throw new LLMPaymentRequiredError(
            `The ${label} provider refused the request: the quota or budget of the account is exhausted (HTTP ${response.status}${detail}).`,
          );
        }
        if (response.status === 401 || response.status === 403) throw new LLMAuthenticationError();
        if (response.status !== 408 && response.status !== 429 && response.status < 500) {
          throw new LLMResponseError(`The ${label} provider rejected the request (HTTP ${response.status}${detail}).`);
        }
        problem = `HTTP ${response.status}${detail}`;
        wait = retryAfterMs(response.headers);
      } catch (error) {
        if (error instanceof ProviderError) throw error;
        problem = isTimeout(error) ? `no answer within ${this.options.timeoutMs} ms` : `network error: ${this.scrub(networkProblem(error))}`;
      }
      if (attempt >= this.options.maxRetries) {
        const tries = attempt + 1;
        throw new LLMUnavailableError(`The ${label} provider is unavailable (${problem}; ${tries} attempt${tries === 1 ? '' : 's'}).`);
      }
      const backoff = BASE_BACKOFF_MS * 2 ** attempt;
      await sleep(wait === undefined ? backoff : Math.min(wait, MAX_RETRY_AFTER_MS));
    }
  }
}

function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer`);
  return value;
}

// ------------------------------------------------------------------------------------------------
// Chat

export interface OpenAICompatibleModelOptions {
  /** Base URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1. */
  endpoint: string;
  apiKey?: string;
  model: string;
  /** Sampling temperature; 0 when omitted. */
  temperature?: number;
  /** Sent as max_completion_tokens when set. */
  maxCompletionTokens?: number;
  /** Per-attempt timeout; 120000 ms when omitted. */
  timeoutMs?: number;
  /** Retries after a transient failure; 2 when omitted. */
  maxRetries?: number;
}

type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

/** The JSON schema of an extracted knowledge graph (strict structured output). */
export const KNOWLEDGE_GRAPH_SCHEMA: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['nodes', 'edges'],
  properties: {
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'type', 'description'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          type: { type: 'string' },
          description: { type: 'string' },
        },
      },
    },
    edges: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source_node_id', 'target_node_id', 'relationship_name', 'description'],
        properties: {
          source_node_id: { type: 'string' },
          target_node_id: { type: 'string' },
          relationship_name: { type: 'string' },
          description: { type: 'string' },
        },
      },
    },
  },
};

export const KNOWLEDGE_GRAPH_SCHEMA_NAME = 'KnowledgeGraph';

/** The default system prompt for knowledge-graph extraction. */
export const GRAPH_EXTRACTION_PROMPT = `You build knowledge graphs from text.

Read the text the user sends and extract the entities it talks about and the relationships between them.

Nodes (entities):
- Extract people, organisations, places, concepts, events, products, works and dates that the text states something about.
- "id" and "name" are both the entity's name exactly as it is best written (e.g. "Ada Lovelace", "University of Oxford", "1843"). Use the most complete name for an entity and the same id every time it is mentioned; never create two nodes for one entity.
- "type" is a short, general category in lower case and singular: person, organisation, place, concept, event, date, product, work, ...
- "description" is one sentence, taken from the text, saying what the text tells about the entity.
- Dates and years are nodes of type date, written as in the text (prefer ISO form such as 1843 or 1843-07-10 when unambiguous).

Edges (relationships):
- "source_node_id" and "target_node_id" are ids of nodes you extracted.
- "relationship_name" is a short verb phrase in lower snake_case (e.g. works_for, born_in, founded, located_in, part_of, wrote).
- "description" is one sentence stating the fact.
- Only state facts the text supports; do not invent entities or relationships, and do not link an entity to itself.

Answer with a JSON object {"nodes": [...], "edges": [...]} only. If the text contains no entities, answer {"nodes": [], "edges": []}.`;

const GRAPH_FORMAT_REMINDER =
  'Answer with a JSON object {"nodes": [{"id", "name", "type", "description"}], "edges": [{"source_node_id", "target_node_id", "relationship_name", "description"}]} only; node ids are the entity names.';

const SUMMARY_PROMPT =
  'You summarise text. Write a concise summary of the text the user sends, in the language of the text: keep the key facts, names, numbers and conclusions, leave out details. Answer with the summary only, as plain text, without a preamble or markdown.';

const INVALID_JSON_RETRY =
  'Your previous reply was not valid JSON. Reply again with only a JSON object that matches the requested schema, with no other text and no markdown.';

/** Parses a model's reply as a JSON object (tolerating ```json fences and surrounding prose). */
export function parseJsonObject(content: string): Record<string, unknown> | undefined {
  let text = content.trim();
  if (text.startsWith('```')) {
    const newline = text.indexOf('\n');
    text = newline === -1 ? text.slice(3) : text.slice(newline + 1);
    if (text.trimEnd().endsWith('```')) text = text.trimEnd().slice(0, -3);
    text = text.trim();
  }
  const attempt = (candidate: string): Record<string, unknown> | undefined => {
    try {
      const value: unknown = JSON.parse(candidate);
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const direct = attempt(text);
  if (direct !== undefined) return direct;
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  return open !== -1 && close > open ? attempt(text.slice(open, close + 1)) : undefined;
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** Keeps the well-formed nodes and the edges between known nodes of a model's graph. */
export function sanitizeGraph(value: unknown): ExtractedGraph {
  const record = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const nodes: Array<{ id: string; name: string; type: string; description: string }> = [];
  const ids = new Map<string, string>();
  const byLowerCase = new Map<string, string>();
  for (const raw of Array.isArray(record.nodes) ? record.nodes : []) {
    if (raw === null || typeof raw !== 'object') continue;
    const node = raw as Record<string, unknown>;
    if (!nonEmptyString(node.id) || !nonEmptyString(node.type)) continue;
    const id = node.id.trim();
    if (ids.has(id)) continue;
    const name = nonEmptyString(node.name) ? node.name.trim() : id;
    ids.set(id, id);
    if (!byLowerCase.has(id.toLowerCase())) byLowerCase.set(id.toLowerCase(), id);
    if (!byLowerCase.has(name.toLowerCase())) byLowerCase.set(name.toLowerCase(), id);
    nodes.push({ id, name, type: node.type.trim(), description: typeof node.description === 'string' ? node.description.trim() : '' });
  }
  const resolve = (ref: unknown): string | undefined => {
    if (!nonEmptyString(ref)) return undefined;
    const trimmed = ref.trim();
    return ids.get(trimmed) ?? byLowerCase.get(trimmed.toLowerCase());
  };
  const edges: Array<{ source_node_id: string; target_node_id: string; relationship_name: string; description: string }> = [];
  const seen = new Set<string>();
  for (const raw of Array.isArray(record.edges) ? record.edges : []) {
    if (raw === null || typeof raw !== 'object') continue;
    const edge = raw as Record<string, unknown>;
    const source = resolve(edge.source_node_id);
    const target = resolve(edge.target_node_id);
    if (source === undefined || target === undefined || !nonEmptyString(edge.relationship_name)) continue;
    const relationship = edge.relationship_name.trim();
    const key = `${source}\u0000${target}\u0000${relationship}`;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({
      source_node_id: source,
      target_node_id: target,
      relationship_name: relationship,
      description: typeof edge.description === 'string' ? edge.description.trim() : '',
    });
  }
  return { nodes, edges };
}

/** OpenAI's json_schema names allow [a-zA-Z0-9_-]{1,64}. */
function schemaName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return clean === '' ? 'Response' : clean;
}

/** A chat model behind an OpenAI-compatible /chat/completions endpoint. */
export class OpenAICompatibleModel implements LanguageModel {
  readonly name: string;
  private readonly transport: Transport;
  private readonly model: string;
  private readonly temperature: number;
  private readonly maxCompletionTokens: number | undefined;

  constructor(options: OpenAICompatibleModelOptions) {
    if (!nonEmptyString(options.model)) throw new TypeError('A model name is required.');
    this.model = options.model;
    this.name = options.model;
    this.temperature = options.temperature ?? 0;
    this.maxCompletionTokens = options.maxCompletionTokens;
    this.transport = new Transport({
      endpoint: options.endpoint,
      apiKey: options.apiKey,
      timeoutMs: positiveInteger(options.timeoutMs, 120_000, 'timeoutMs'),
      maxRetries: positiveInteger(options.maxRetries, 2, 'maxRetries'),
      label: 'language model',
    });
  }

  private async chat(messages: readonly ChatMessage[], responseFormat?: Record<string, unknown>): Promise<string> {
    const body: Record<string, unknown> = { model: this.model, messages, temperature: this.temperature };
    if (this.maxCompletionTokens !== undefined) body.max_completion_tokens = this.maxCompletionTokens;
    if (responseFormat !== undefined) body.response_format = responseFormat;
    const answer = await this.transport.post('/chat/completions', body);
    const choices = (answer as { choices?: unknown } | null)?.choices;
    const message = Array.isArray(choices) ? (choices[0] as { message?: Record<string, unknown> } | undefined)?.message : undefined;
    const content = message?.content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      // Some servers answer with content parts.
      return content
        .map((part: unknown) =>
          part !== null && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : '',
        )
        .join('');
    }
    if (typeof message?.refusal === 'string')
      throw new LLMResponseError(`The language model refused to answer: ${truncate(message.refusal, MAX_PROVIDER_MESSAGE)}`);
    throw new LLMResponseError('The language model returned no content.');
  }

  async complete(systemPrompt: string, userPrompt: string): Promise<string> {
    return this.chat([
      { role: 'system', content: systemPrompt },
      { role: 'user', content: userPrompt },
    ]);
  }

  async answer(systemPrompt: string, question: string, context: string): Promise<string> {
    return this.complete(systemPrompt, `Context:\n${context}\n\nQuestion: ${question}`);
  }

  async summarize(text: string): Promise<string> {
    return (await this.complete(SUMMARY_PROMPT, text)).trim();
  }

  async structured<T>(systemPrompt: string, userPrompt: string, name: string, schema: Record<string, unknown>): Promise<T> {
    const responseFormat = { type: 'json_schema', json_schema: { name: schemaName(name), schema, strict: true } };
    const messages: ChatMessage[] = [
      { role: 'system', content: systemPrompt },
      { role: 'user', content: userPrompt },
    ];
    const first = await this.chat(messages, responseFormat);
    const parsed = parseJsonObject(first);
    if (parsed !== undefined) return parsed as T;
    messages.push({ role: 'assistant', content: truncate(first, 4000) }, { role: 'user', content: INVALID_JSON_RETRY });
    const second = parseJsonObject(await this.chat(messages, responseFormat));
    if (second !== undefined) return second as T;
    throw new LLMResponseError('The language model did not answer with valid JSON.');
  }

  async extractGraph(text: string, customPrompt?: string): Promise<ExtractedGraph> {
    const system = customPrompt !== undefined && customPrompt.trim() !== '' ? `${customPrompt.trim()}\n\n${GRAPH_FORMAT_REMINDER}` : GRAPH_EXTRACTION_PROMPT;
    const graph = await this.structured<unknown>(system, text, KNOWLEDGE_GRAPH_SCHEMA_NAME, KNOWLEDGE_GRAPH_SCHEMA);
    return sanitizeGraph(graph);
  }
}

// ------------------------------------------------------------------------------------------------
// Embeddings

export interface OpenAICompatibleEmbedderOptions {
  /** Base URL, e.g. https://api.openai.com/v1. */
  endpoint: string;
  apiKey?: string;
  model: string;
  /** Length of every vector; answers of another length are refused. */
  dimensions: number;
  /**
   * Send `dimensions` in the request (models such as text-embedding-3-* can shorten their
   * vectors). Only set it when the dimension was configured explicitly: many servers reject it.
   */
  sendDimensions?: boolean;
  /** Texts per request; 100 when omitted. */
  batchSize?: number;
  /** Per-attempt timeout; 120000 ms when omitted. */
  timeoutMs?: number;
  /** Retries after a transient failure; 2 when omitted. */
  maxRetries?: number;
}

/** An embedding model behind an OpenAI-compatible /embeddings endpoint. */
export class OpenAICompatibleEmbedder implements Embedder {
  readonly name: string;
  readonly dimensions: number;
  private readonly model: string;
  private readonly sendDimensions: boolean;
  private readonly batchSize: number;
  private readonly transport: Transport;

  constructor(options: OpenAICompatibleEmbedderOptions) {
    if (!nonEmptyString(options.model)) throw new TypeError('A model name is required.');
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) throw new RangeError('dimensions must be a positive integer');
    this.model = options.model;
    this.name = options.model;
    this.dimensions = options.dimensions;
    this.sendDimensions = options.sendDimensions ?? false;
    this.batchSize = Math.max(1, positiveInteger(options.batchSize, 100, 'batchSize'));
    this.transport = new Transport({
      endpoint: options.endpoint,
      apiKey: options.apiKey,
      timeoutMs: positiveInteger(options.timeoutMs, 120_000, 'timeoutMs'),
      maxRetries: positiveInteger(options.maxRetries, 2, 'maxRetries'),
      label: 'embedding',
    });
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      vectors.push(...(await this.embedBatch(texts.slice(start, start + this.batchSize))));
    }
    return vectors;
  }

  private async embedBatch(batch: readonly string[]): Promise<number[][]> {
    // Most providers refuse empty inputs.
    const body: Record<string, unknown> = { model: this.model, input: batch.map((text) => (text === '' ? ' ' : text)) };
    if (this.sendDimensions) body.dimensions = this.dimensions;
    const answer = await this.transport.post('/embeddings', body);
    const data = (answer as { data?: unknown } | null)?.data;
    if (!Array.isArray(data) || data.length !== batch.length) {
      throw new LLMResponseError(`The embedding provider answered with ${Array.isArray(data) ? data.length : 'no'} vectors for ${batch.length} texts.`);
    }
    const vectors: Array<number[] | undefined> = new Array<number[] | undefined>(batch.length);
    data.forEach((item: unknown, position: number) => {
      const entry = (item ?? {}) as { index?: unknown; embedding?: unknown };
      const index = entry.index === undefined ? position : entry.index;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= batch.length || vectors[index] !== undefined) {
        throw new LLMResponseError('The embedding provider answered with inconsistent vector indices.');
      }
      const embedding = entry.embedding;
      if (!Array.isArray(embedding) || !embedding.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new LLMResponseError('The embedding provider answered with a malformed vector.');
      }
      if (embedding.length !== this.dimensions) {
        throw new LLMResponseError(`The embedding model answered with vectors of ${embedding.length} dimensions; ${this.dimensions} are configured.`);
      }
      vectors[index] = embedding as number[];
    });
    return vectors as number[][];
  }
}
