/**
 * JSON over HTTP to an OpenAI-compatible provider: retries with exponential back-off (Retry-After
 * honoured up to 5 s), per-attempt timeouts, no redirects, and every failure mapped to a
 * `ProviderError` whose message never holds the API key or the request body.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LLMAuthenticationError, LLMPaymentRequiredError, LLMResponseError, LLMUnavailableError, ProviderError } from './errors.js';

const MAX_RETRY_AFTER_MS = 5_000;
const BASE_BACKOFF_MS = 250;
export const MAX_PROVIDER_MESSAGE = 300;

export interface TransportOptions {
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

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** POSTs JSON with retries and maps every failure to a ProviderError. */
export class Transport {
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

export function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer`);
  return value;
}
