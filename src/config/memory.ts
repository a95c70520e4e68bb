import { availableParallelism } from 'node:os';
import { delimiter, resolve } from 'node:path';
import { ConfigError, bool, int, oneOf, raw, str, type Env } from './parse.js';

/**
 * Settings of the memory engine: language model and embeddings, graph and vector stores, and the
 * data security controls (D17 local files, D18 Cypher, D19 outbound requests, D20 encryption).
 */
export type GraphProvider = 'kuzu' | 'neo4j';
export type VectorProvider = 'lancedb' | 'pgvector';

export interface LlmConfig {
  /** 'offline' is the built-in deterministic mode (no key, lexical not semantic). */
  readonly provider: string;
  readonly model: string;
  readonly endpoint?: string;
  readonly apiKey?: string;
  readonly temperature: number;
  readonly maxCompletionTokens: number;
  readonly timeoutMs: number;
}

export interface EmbeddingConfig {
  readonly provider: string;
  readonly model: string;
  readonly endpoint?: string;
  readonly apiKey?: string;
  readonly dimensions: number;
  /** True when EMBEDDING_DIMENSIONS was set: the value is then sent to the provider. */
  readonly dimensionsExplicit: boolean;
  readonly batchSize: number;
}

export interface PgvectorConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly username: string;
  readonly password?: string;
}

/** The shared Neo4j of single-user mode (GRAPH_DATABASE_PROVIDER=neo4j). */
export interface Neo4jConnection {
  /** bolt://, bolt+s://, bolt+ssc://, neo4j://, neo4j+s:// or neo4j+ssc:// */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The database; the server's default database when unset. */
  readonly database?: string;
}

export interface MemoryConfig {
  readonly llm: LlmConfig;
  readonly embedding: EmbeddingConfig;
  readonly graphProvider: GraphProvider;
  readonly vectorProvider: VectorProvider;
  readonly graphHandler: string;
  readonly vectorHandler: string;
  /** Where pgvector lives; undefined = the relational PostgreSQL database. */
  readonly pgvector?: PgvectorConnection;
  /** The shared Neo4j (single-user mode with GRAPH_DATABASE_PROVIDER=neo4j); undefined otherwise. */
  readonly neo4j?: Neo4jConnection;
  /** Datasets whose stores are open at once (multi-tenant mode); further datasets wait for a place. */
  readonly maxOpenDatasets: number;
  /** The buffer pool of each Kuzu database (bytes): the memory it may use, reserved when it opens. */
  readonly kuzuBufferPoolBytes: number;
  /** The largest a Kuzu database may grow (bytes, a power of 2): the address space it reserves when it opens. */
  readonly kuzuMaxDbBytes: number;
  /** Datasets one search request searches at once (the others wait their turn). */
  readonly searchMaxConcurrentDatasets: number;
  readonly chunkSize: number;
  readonly dataPerBatch: number;
  /** Chunks the language model works on at once within a cognify run. */
  readonly chunksPerBatch: number;
  readonly uploadMaxBytes: number;
  /** What one add, add_text or remember request may bring in all: files, fetched pages and local files. */
  readonly uploadMaxRequestBytes: number;
  readonly acceptLocalFilePath: boolean;
  readonly acceptLocalFilePathSource: 'explicit' | 'multi-tenant default';
  /** COGNEE_ALLOWED_LOCAL_FILE_ROOTS, absolute; empty (no local file readable) when unset. */
  readonly allowedLocalRoots: readonly string[];
  readonly allowHttpRequests: boolean;
  readonly urlMaxBytes: number;
  readonly allowCypherQuery: boolean;
  readonly allowCypherQuerySource: 'explicit' | 'multi-tenant default';
  readonly cypherTimeoutMs: number;
  readonly cypherMaxRows: number;
  /** Resident memory a Cypher query's sandbox process may use before it is killed (MB). */
  readonly cypherMaxMemoryMb: number;
  /** Cypher sandbox processes running at once; further queries wait (the wait counts in their time limit). */
  readonly cypherMaxConcurrent: number;
  /** Cypher sandbox processes started ahead of the queries and kept waiting, each for one query (0: each query starts its own). */
  readonly cypherSandboxPoolSize: number;
  /** Comma-separated NEO4J_ENCRYPTION_KEY entries; the first encrypts, all decrypt (D20). */
  readonly encryptionKeys: readonly string[];
  readonly encryptionKeyIsDefault: boolean;
  readonly aura: {
    readonly clientId?: string;
    readonly clientSecret?: string;
    readonly tenantId?: string;
    readonly apiUrl: string;
    readonly pollIntervalMs: number;
    readonly pollAttempts: number;
  };
  readonly recallWarmup: boolean;
  /** Background work (cognify runs) and its queue. */
  readonly jobs: JobsConfig;
  /** The document parsers' worker threads and their limits. */
  readonly parsers: ParsersConfig;
  /** How often an instance looks for settings changed by a superuser on another instance. */
  readonly settingsRefreshSeconds: number;
}

export interface ParsersConfig {
  /** Parser processes parsing documents at once; further documents wait. */
  readonly workers: number;
  /** Time one document's parse may take before its process is killed. */
  readonly timeoutMs: number;
  /** V8 heap of one parser process (MB). */
  readonly maxMemoryMb: number;
  /** Pages of a PDF document; a longer one fails. */
  readonly maxPages: number;
  /** Largest document parsed, in bytes. */
  readonly maxInputBytes: number;
  /** Longest text a document may give, in characters. */
  readonly maxOutputChars: number;
}

export interface JobsConfig {
  /** 'auto': pg-boss on PostgreSQL, the in-process queue over the `jobs` table on SQLite. */
  readonly queue: 'auto' | 'pg-boss' | 'local';
  /** Background runs one instance works on at once. */
  readonly concurrency: number;
  /** How often a job interrupted by a shutdown, a crash or an error is tried again. */
  readonly retryLimit: number;
  readonly retryDelaySeconds: number;
  /** Every so many seconds, runs whose worker is gone are handed back to the queue. */
  readonly orphanScanSeconds: number;
  /** A job taken less than this long ago is never called orphaned (its worker may be starting). */
  readonly orphanGraceSeconds: number;
  /** A job still active after this long is failed by the queue (and retried). */
  readonly expireSeconds: number;
  /** How often waiting jobs are looked for when no notification arrives. */
  readonly pollSeconds: number;
}

const DEFAULT_ENDPOINTS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  ollama: 'http://localhost:11434/v1',
  llama_cpp: 'http://localhost:8080/v1',
  vllm: 'http://localhost:8000/v1',
};

const OPENAI_COMPATIBLE = ['openai', 'ollama', 'custom', 'llama_cpp', 'vllm', 'offline'] as const;

/** `openai/gpt-5-mini` and `gpt-5-mini` name the same model for an OpenAI-compatible endpoint. */
function bareModel(model: string): string {
  const slash = model.indexOf('/');
  const prefix = slash > 0 ? model.slice(0, slash).toLowerCase() : '';
  return ['openai', 'ollama', 'hosted_vllm', 'custom'].includes(prefix) ? model.slice(slash + 1) : model;
}

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/**
 * The address space all open Kuzu databases may reserve together: half of the 128 TiB a 64-bit
 * Linux process has (each database reserves its buffer pool and its maximum size when it opens).
 */
const KUZU_ADDRESS_BUDGET = 64 * 1024 * GIB;

/**
 * How many datasets' stores are open at once, and what each Kuzu database reserves. Kuzu's own
 * defaults (a buffer pool of 80% of the machine's memory and 8 TiB of address space per database)
 * let about ten databases open in one process; these bound every database, and their product is
 * checked against the address space at startup.
 */
function kuzuLimits(env: Env): { maxOpenDatasets: number; kuzuBufferPoolBytes: number; kuzuMaxDbBytes: number } {
  const maxOpenDatasets = int(env, 'DATABASE_MAX_LRU_CACHE_SIZE', 6, { min: 1, max: 1000 });
  const kuzuBufferPoolBytes = int(env, 'KUZU_BUFFER_POOL_SIZE', GIB, { min: 16 * MIB, max: 1024 * GIB });
  const kuzuMaxDbBytes = int(env, 'KUZU_MAX_DB_SIZE', 32 * GIB, { min: 16 * MIB, max: 8 * 1024 * GIB });
  if (2 ** Math.round(Math.log2(kuzuMaxDbBytes)) !== kuzuMaxDbBytes) {
    throw new ConfigError('KUZU_MAX_DB_SIZE', `must be a power of 2 (Kuzu refuses anything else), got ${kuzuMaxDbBytes}`);
  }
  // The shared graph of single-user mode is one more database.
  const reserved = (maxOpenDatasets + 1) * (kuzuBufferPoolBytes + kuzuMaxDbBytes);
  if (reserved > KUZU_ADDRESS_BUDGET) {
    throw new ConfigError(
      'KUZU_MAX_DB_SIZE',
      `(DATABASE_MAX_LRU_CACHE_SIZE + 1) x (KUZU_BUFFER_POOL_SIZE + KUZU_MAX_DB_SIZE) must stay within 64 TiB of address space, got ${Math.ceil(reserved / GIB)} GiB`,
    );
  }
  return { maxOpenDatasets, kuzuBufferPoolBytes, kuzuMaxDbBytes };
}

function float(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new ConfigError(name, `expected a number between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

function httpUrl(env: Env, name: string): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(name, `expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

export function loadMemoryConfig(
  env: Env,
  opts: { multiTenant: boolean; systemRoot: string; dataRoot: string; cwd: string; relationalIsPostgres: boolean },
): MemoryConfig {
  // Language model: offline unless a provider can actually be reached.
  const llmKey = raw(env, 'LLM_API_KEY');
  const llmEndpoint = httpUrl(env, 'LLM_ENDPOINT');
  const requested = raw(env, 'LLM_PROVIDER')?.toLowerCase();
  if (requested !== undefined && !(OPENAI_COMPATIBLE as readonly string[]).includes(requested)) {
    throw new ConfigError(
      'LLM_PROVIDER',
      `expected one of ${OPENAI_COMPATIBLE.join(', ')} (every OpenAI-compatible server: set LLM_ENDPOINT), got ${JSON.stringify(requested)}`,
    );
  }
  let provider = requested ?? 'openai';
  if (provider !== 'offline' && llmKey === undefined && llmEndpoint === undefined && provider !== 'ollama') {
    provider = 'offline';
  }
  const endpoint = provider === 'offline' ? undefined : (llmEndpoint ?? DEFAULT_ENDPOINTS[provider]);
  if (provider === 'custom' && endpoint === undefined) {
    throw new ConfigError('LLM_ENDPOINT', 'LLM_PROVIDER=custom needs the base URL of an OpenAI-compatible server');
  }
  const llm: LlmConfig = {
    provider,
    model: provider === 'offline' ? 'offline' : bareModel(str(env, 'LLM_MODEL', 'gpt-5-mini')),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(llmKey !== undefined && provider !== 'offline' ? { apiKey: llmKey } : {}),
    temperature: float(env, 'LLM_TEMPERATURE', 0, 0, 2),
    maxCompletionTokens: int(env, 'LLM_MAX_COMPLETION_TOKENS', 16384, { min: 16, max: 1_000_000 }),
    timeoutMs: int(env, 'LLM_TIMEOUT_MS', 120_000, { min: 100, max: 3_600_000 }),
  };

  // Embeddings: the key falls back to LLM_API_KEY except for a custom LLM provider (as the reference).
  const embeddingEndpoint = httpUrl(env, 'EMBEDDING_ENDPOINT');
  const embeddingKey = raw(env, 'EMBEDDING_API_KEY') ?? (provider === 'custom' ? undefined : llmKey);
  let embeddingProvider = raw(env, 'EMBEDDING_PROVIDER')?.toLowerCase() ?? (provider === 'offline' ? 'offline' : provider);
  if (!['offline', 'openai', 'ollama', 'openai_compatible', 'custom', 'llama_cpp', 'vllm'].includes(embeddingProvider)) {
    throw new ConfigError('EMBEDDING_PROVIDER', `expected offline or an OpenAI-compatible provider, got ${JSON.stringify(embeddingProvider)}`);
  }
  const embeddingReachable = embeddingEndpoint !== undefined || embeddingKey !== undefined || embeddingProvider === 'ollama';
  if (embeddingProvider !== 'offline' && !embeddingReachable) embeddingProvider = 'offline';
  const embeddingOffline = embeddingProvider === 'offline';
  const explicitDims = raw(env, 'EMBEDDING_DIMENSIONS');
  const embedding: EmbeddingConfig = {
    provider: embeddingProvider,
    model: embeddingOffline ? 'hashing' : bareModel(str(env, 'EMBEDDING_MODEL', 'text-embedding-3-large')),
    ...(!embeddingOffline ? { endpoint: embeddingEndpoint ?? llm.endpoint ?? DEFAULT_ENDPOINTS[embeddingProvider] ?? DEFAULT_ENDPOINTS.openai! } : {}),
    ...(!embeddingOffline && embeddingKey !== undefined ? { apiKey: embeddingKey } : {}),
    dimensions: int(env, 'EMBEDDING_DIMENSIONS', embeddingOffline ? 256 : 3072, { min: 2, max: 16_000 }),
    dimensionsExplicit: explicitDims !== undefined,
    batchSize: int(env, 'EMBEDDING_BATCH_SIZE', 100, { min: 1, max: 2048 }),
  };

  const graphProvider = oneOf<GraphProvider | 'ladybug'>(env, 'GRAPH_DATABASE_PROVIDER', ['kuzu', 'ladybug', 'neo4j'], 'kuzu');
  const vectorProvider = oneOf<VectorProvider>(env, 'VECTOR_DB_PROVIDER', ['lancedb', 'pgvector'], 'lancedb');
  const normalisedGraph: GraphProvider = graphProvider === 'ladybug' ? 'kuzu' : graphProvider;
  // Handlers default from the provider, as the reference's auto-mapping does.
  const graphHandler = str(env, 'GRAPH_DATASET_DATABASE_HANDLER', normalisedGraph === 'neo4j' ? 'neo4j_aura_dev' : 'kuzu').toLowerCase();
  const vectorHandler = str(env, 'VECTOR_DATASET_DATABASE_HANDLER', vectorProvider).toLowerCase();

  let pgvector: PgvectorConnection | undefined;
  if (vectorProvider === 'pgvector') {
    const host = raw(env, 'VECTOR_DB_HOST');
    if (host !== undefined) {
      const password = raw(env, 'VECTOR_DB_PASSWORD');
      pgvector = {
        host,
        port: int(env, 'VECTOR_DB_PORT', 5432, { min: 1, max: 65535 }),
        database: str(env, 'VECTOR_DB_NAME', 'postgres'),
        username: str(env, 'VECTOR_DB_USERNAME', 'postgres'),
        ...(password !== undefined ? { password } : {}),
      };
    } else if (!opts.relationalIsPostgres) {
      throw new ConfigError('VECTOR_DB_HOST', 'VECTOR_DB_PROVIDER=pgvector needs VECTOR_DB_HOST (or DB_PROVIDER=postgres to use the relational database)');
    }
  }

  // Multi-tenant mode opens each dataset's own Neo4j from its dataset_database row instead.
  let neo4j: Neo4jConnection | undefined;
  if (normalisedGraph === 'neo4j' && !opts.multiTenant) {
    const url = raw(env, 'GRAPH_DATABASE_URL');
    if (url === undefined) {
      throw new ConfigError(
        'GRAPH_DATABASE_URL',
        'GRAPH_DATABASE_PROVIDER=neo4j in single-user mode needs the URL of the shared Neo4j (e.g. bolt://localhost:7687)',
      );
    }
    if (!/^(bolt|neo4j)(\+s|\+ssc)?:\/\/[^/?#\s]+/i.test(url)) {
      throw new ConfigError('GRAPH_DATABASE_URL', 'expected a bolt://, bolt+s://, bolt+ssc://, neo4j://, neo4j+s:// or neo4j+ssc:// URL');
    }
    const database = raw(env, 'GRAPH_DATABASE_NAME');
    neo4j = {
      url,
      username: str(env, 'GRAPH_DATABASE_USERNAME', 'neo4j'),
      password: raw(env, 'GRAPH_DATABASE_PASSWORD') ?? '',
      ...(database !== undefined ? { database } : {}),
    };
  }

  const explicitLocal = raw(env, 'ACCEPT_LOCAL_FILE_PATH');
  const explicitCypher = raw(env, 'ALLOW_CYPHER_QUERY');
  const rootsValue = raw(env, 'COGNEE_ALLOWED_LOCAL_FILE_ROOTS');
  // D17: only the roots an operator names. Unset means none (the reference's default of the working
  // and temp directories would expose the .env and .engram/ of a working directory, and whatever
  // other programs leave in the temp directory). Server state is refused whatever the roots.
  const allowedLocalRoots = (rootsValue ?? '')
    .split(delimiter)
    .map((r) => r.trim())
    .filter(Boolean)
    .map((r) => resolve(opts.cwd, r));

  const keys = (raw(env, 'NEO4J_ENCRYPTION_KEY') ?? 'test_key')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length === 0) throw new ConfigError('NEO4J_ENCRYPTION_KEY', 'must name at least one key');

  const { maxOpenDatasets, kuzuBufferPoolBytes, kuzuMaxDbBytes } = kuzuLimits(env);

  const auraClientId = raw(env, 'NEO4J_CLIENT_ID');
  const auraClientSecret = raw(env, 'NEO4J_CLIENT_SECRET');
  const auraTenantId = raw(env, 'NEO4J_TENANT_ID');

  const uploadMaxBytes = int(env, 'UPLOAD_MAX_BYTES', 50 * 1024 * 1024, { min: 1024 });

  return {
    llm,
    embedding,
    graphProvider: normalisedGraph,
    vectorProvider,
    graphHandler,
    vectorHandler,
    ...(pgvector !== undefined ? { pgvector } : {}),
    ...(neo4j !== undefined ? { neo4j } : {}),
    maxOpenDatasets,
    kuzuBufferPoolBytes,
    kuzuMaxDbBytes,
    searchMaxConcurrentDatasets: int(env, 'SEARCH_MAX_CONCURRENT_DATASETS', 4, { min: 1, max: 64 }),
    chunkSize: int(env, 'CHUNK_SIZE', 512, { min: 16, max: 100_000 }),
    dataPerBatch: int(env, 'DATA_PER_BATCH', 20, { min: 1, max: 1000 }),
    chunksPerBatch: int(env, 'CHUNKS_PER_BATCH', 8, { min: 1, max: 1000 }),
    uploadMaxBytes,
    uploadMaxRequestBytes: int(env, 'UPLOAD_MAX_REQUEST_BYTES', 200 * 1024 * 1024, { min: 1024 }),
    acceptLocalFilePath: bool(env, 'ACCEPT_LOCAL_FILE_PATH', !opts.multiTenant),
    acceptLocalFilePathSource: explicitLocal !== undefined ? 'explicit' : 'multi-tenant default',
    allowedLocalRoots,
    allowHttpRequests: bool(env, 'ALLOW_HTTP_REQUESTS', true),
    urlMaxBytes: int(env, 'URL_MAX_BYTES', 10 * 1024 * 1024, { min: 1024 }),
    allowCypherQuery: bool(env, 'ALLOW_CYPHER_QUERY', !opts.multiTenant),
    allowCypherQuerySource: explicitCypher !== undefined ? 'explicit' : 'multi-tenant default',
    cypherTimeoutMs: int(env, 'CYPHER_TIMEOUT_MS', 5000, { min: 10, max: 600_000 }),
    cypherMaxRows: int(env, 'CYPHER_MAX_ROWS', 1000, { min: 1, max: 1_000_000 }),
    cypherMaxMemoryMb: int(env, 'CYPHER_MAX_MEMORY_MB', 512, { min: 128, max: 1_048_576 }),
    cypherMaxConcurrent: int(env, 'CYPHER_MAX_CONCURRENT', 2, { min: 1, max: 64 }),
    cypherSandboxPoolSize: int(env, 'CYPHER_SANDBOX_POOL_SIZE', 2, { min: 0, max: 16 }),
    encryptionKeys: keys,
    encryptionKeyIsDefault: keys.includes('test_key'),
    aura: {
      ...(auraClientId !== undefined ? { clientId: auraClientId } : {}),
      ...(auraClientSecret !== undefined ? { clientSecret: auraClientSecret } : {}),
      ...(auraTenantId !== undefined ? { tenantId: auraTenantId } : {}),
      apiUrl: httpUrl(env, 'NEO4J_AURA_API_URL') ?? 'https://api.neo4j.io',
      pollIntervalMs: int(env, 'NEO4J_AURA_POLL_INTERVAL_MS', 10_000, { min: 1, max: 600_000 }),
      pollAttempts: int(env, 'NEO4J_AURA_POLL_ATTEMPTS', 30, { min: 1, max: 1000 }),
    },
    recallWarmup: bool(env, 'RECALL_WARMUP_SHORTCIRCUIT', true),
    jobs: {
      queue: oneOf(env, 'JOB_QUEUE', ['auto', 'pg-boss', 'local'] as const, 'auto'),
      concurrency: int(env, 'JOB_CONCURRENCY', 1, { min: 1, max: 64 }),
      retryLimit: int(env, 'JOB_RETRY_LIMIT', 5, { min: 0, max: 100 }),
      retryDelaySeconds: int(env, 'JOB_RETRY_DELAY_SECONDS', 5, { min: 0, max: 3600 }),
      orphanScanSeconds: int(env, 'JOB_ORPHAN_SCAN_SECONDS', 30, { min: 1, max: 3600 }),
      orphanGraceSeconds: int(env, 'JOB_ORPHAN_GRACE_SECONDS', 10, { min: 0, max: 3600 }),
      expireSeconds: int(env, 'JOB_EXPIRE_SECONDS', 6 * 3600, { min: 60, max: 23 * 3600 }),
      pollSeconds: int(env, 'JOB_POLL_SECONDS', 2, { min: 1, max: 600 }),
    },
    settingsRefreshSeconds: int(env, 'SETTINGS_REFRESH_SECONDS', 10, { min: 1, max: 3600 }),
    parsers: {
      workers: int(env, 'PARSER_WORKERS', Math.max(1, Math.min(2, availableParallelism())), { min: 1, max: 64 }),
      timeoutMs: int(env, 'PARSER_TIMEOUT_MS', 60_000, { min: 100, max: 3_600_000 }),
      maxMemoryMb: int(env, 'PARSER_MAX_MEMORY_MB', 512, { min: 128, max: 1_048_576 }),
      maxPages: int(env, 'PARSER_MAX_PAGES', 1000, { min: 1, max: 1_000_000 }),
      maxInputBytes: int(env, 'PARSER_MAX_INPUT_BYTES', uploadMaxBytes, { min: 1024 }),
      maxOutputChars: int(env, 'PARSER_MAX_OUTPUT_CHARS', 20_000_000, { min: 1024, max: 500_000_000 }),
    },
  };
}
