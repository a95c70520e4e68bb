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
import { LLMResponseError } from './errors.js';
import {
  GRAPH_EXTRACTION_PROMPT,
  GRAPH_FORMAT_REMINDER,
  INVALID_JSON_RETRY,
  KNOWLEDGE_GRAPH_SCHEMA,
  KNOWLEDGE_GRAPH_SCHEMA_NAME,
  SUMMARY_PROMPT,
  nonEmptyString,
  parseJsonObject,
  sanitizeGraph,
} from './graph-output.js';
import { MAX_PROVIDER_MESSAGE, Transport, positiveInteger, truncate } from './transport.js';
import type { Embedder, ExtractedGraph, LanguageModel } from './types.js';
import { reportUsage } from './usage.js';

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
    reportUsage(this.model, answer);
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
    reportUsage(this.model, answer);
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
