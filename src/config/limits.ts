import { ConfigError, int, type Env } from './parse.js';

/**
 * How long and how many connections the HTTP server holds, so a slow or greedy client cannot keep
 * sockets (slowloris): Node's defaults hold a request 300 s and its headers 60 s.
 */
export interface ConnectionLimits {
  /** Time from a request's first byte to the end of its headers (`HTTP_HEADERS_TIMEOUT_MS`). */
  readonly headersTimeoutMs: number;
  /** Time for a whole request, body included (`HTTP_REQUEST_TIMEOUT_MS`): long enough for large uploads. */
  readonly requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this (`HTTP_KEEP_ALIVE_TIMEOUT_MS`). */
  readonly keepAliveTimeoutMs: number;
  /** Open connections at once, all clients together (`HTTP_MAX_CONNECTIONS`). */
  readonly maxConnections: number;
  /** Open connections at once from one address (`HTTP_MAX_CONNECTIONS_PER_ADDRESS`; 0 = no cap). */
  readonly maxConnectionsPerAddress: number;
}

/** What one user may hold and run at once; 0 means no limit where a limit may be off. */
export interface UserQuotas {
  /** Cognify runs of one user at once, blocking and background (`USER_MAX_CONCURRENT_RUNS`). */
  readonly maxConcurrentRuns: number;
  /** Language model and embedding calls of one user at once (`USER_MAX_CONCURRENT_LLM_CALLS`). */
  readonly maxConcurrentModelCalls: number;
  /** Bytes of items one user may keep stored (`USER_MAX_STORAGE_BYTES`; 0 = no limit). */
  readonly maxStorageBytes: number;
  /** Items one user may keep stored (`USER_MAX_ITEMS`; 0 = no limit). */
  readonly maxItems: number;
}

export function loadConnectionLimits(env: Env): ConnectionLimits {
  const headersTimeoutMs = int(env, 'HTTP_HEADERS_TIMEOUT_MS', 20_000, { min: 100, max: 600_000 });
  const requestTimeoutMs = int(env, 'HTTP_REQUEST_TIMEOUT_MS', 600_000, { min: 1000, max: 24 * 3600 * 1000 });
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    maxConnections: int(env, 'HTTP_MAX_CONNECTIONS', 2048, { min: 1, max: 1_000_000 }),
    maxConnectionsPerAddress: int(env, 'HTTP_MAX_CONNECTIONS_PER_ADDRESS', 0, { min: 0, max: 1_000_000 }),
  };
}

export function loadUserQuotas(env: Env): UserQuotas {
  return {
    maxConcurrentRuns: int(env, 'USER_MAX_CONCURRENT_RUNS', 2, { min: 1, max: 1000 }),
    maxConcurrentModelCalls: int(env, 'USER_MAX_CONCURRENT_LLM_CALLS', 16, { min: 1, max: 10_000 }),
    maxStorageBytes: int(env, 'USER_MAX_STORAGE_BYTES', 0, { min: 0 }),
    maxItems: int(env, 'USER_MAX_ITEMS', 0, { min: 0 }),
  };
}
