import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import {
  AuthService,
  LocalBus,
  MemoryCounterStore,
  PostgresBus,
  RedisBus,
  RedisCounterStore,
  createMailer,
  resolveSecrets,
  type CounterStore,
  type InvalidationBus,
} from './auth/index.js';
import { ConfigError, loadConfig, type Config, type Env } from './config/index.js';
import { buildApp } from './http/app.js';
import { finishDatasetDeletions } from './http/user-removal.js';
import { createLogger } from './logger.js';
import { guardProcess } from './process-guard.js';
import { AccessService } from './access/index.js';
import { MemoryEngine } from './memory/engine.js';
import { MemoryService } from './memory/index.js';
import { MemorySettings } from './memory/settings.js';
import { LocalJobQueue, PgBossJobQueue, type JobQueue } from './memory/jobs.js';
import { HashingEmbedder, OfflineModel } from './memory/providers/offline.js';
import { OpenAICompatibleEmbedder, OpenAICompatibleModel } from './memory/providers/openai.js';
import type { Embedder, LanguageModel } from './memory/providers/types.js';
import { DatasetDatabases, PostgresRunLock, checkStores, openRelationalStore, type RelationalStore } from './storage/index.js';

export const VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();

export interface Engram {
  readonly config: Config;
  readonly app: FastifyInstance;
  readonly auth: AuthService;
  readonly store: RelationalStore;
  readonly memory: MemoryEngine;
  readonly log: Logger;
  /** The listening address, e.g. http://127.0.0.1:8000. */
  readonly url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly env?: Env;
  readonly cwd?: string;
  readonly logDestination?: DestinationStream;
  /** Listen on this port instead of HTTP_API_PORT (0 = any free port). */
  readonly port?: number;
}

/** Opens the relational store and runs migrations. */
export async function openStore(config: Config, log: Logger): Promise<RelationalStore> {
  const store = openRelationalStore(config);
  const applied = await store.migrate();
  if (applied.length > 0) log.info({ migrations: applied }, 'applied database migrations');
  return store;
}

/** Composes and starts the whole server: config → stores → services → HTTP. */
export async function startEngram(options: StartOptions = {}): Promise<Engram> {
  const config = loadConfig(options.env ?? process.env, options.cwd ?? process.cwd());
  const log = createLogger(config.logLevel, options.logDestination);

  if (config.posture.warning) log.warn(config.posture.warning);
  log.info(config.posture.logLine);

  const store = await openStore(config, log);
  log.info(
    config.db.provider === 'sqlite'
      ? `relational store: sqlite at ${config.db.path}`
      : `relational store: postgres ${config.db.host}:${config.db.port}/${config.db.name}`,
  );

  const secrets = resolveSecrets(config);
  log.info(`jwt secret: ${secrets.sources.jwt}; reset secret: ${secrets.sources.reset}; verification secret: ${secrets.sources.verify}`);
  if (!config.posture.requireAuthentication) {
    for (const [name, value] of [
      ['FASTAPI_USERS_JWT_SECRET', config.auth.jwtSecret],
      ['FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET', config.auth.resetSecret],
      ['FASTAPI_USERS_VERIFICATION_TOKEN_SECRET', config.auth.verifySecret],
    ] as const) {
      if (value !== undefined && (value.length < 32 || value === 'super_secret')) {
        log.warn(`${name} is weak; it would be refused with authentication required`);
      }
    }
  }

  const onBackgroundError = (error: unknown) => log.error({ err: error }, 'background connection error');
  let bus: InvalidationBus;
  let counters: CounterStore;
  /** The per-address limits count here too when set (http/rate-limits.ts). */
  let limitsRedis: Redis | undefined;
  if (config.redisUrl) {
    const redisBus = new RedisBus(config.redisUrl, onBackgroundError);
    await redisBus.start();
    bus = redisBus;
    const redisCounters = new RedisCounterStore(config.redisUrl, onBackgroundError);
    await redisCounters.start();
    counters = redisCounters;
    limitsRedis = redisCounters.client;
    log.info('rate limits, lockout and credential invalidation: shared through Redis');
  } else {
    counters = new MemoryCounterStore();
    if (store.dialect === 'postgres' && store.pgConnection) {
      const pgBus = new PostgresBus(
        store.pgConnection,
        async (channel, payload) => {
          await sql`select pg_notify(${channel}, ${payload})`.execute(store.db);
        },
        onBackgroundError,
      );
      await pgBus.start();
      bus = pgBus;
      log.info('rate limits and lockout: in-process; credential invalidation: PostgreSQL LISTEN/NOTIFY');
    } else {
      bus = new LocalBus();
      log.info('rate limits, lockout and credential invalidation: in-process');
    }
  }

  const mailer = createMailer(config.smtp, log);
  log.info(
    mailer.mode === 'smtp'
      ? `e-mail delivery: SMTP via ${config.smtp!.host}:${config.smtp!.port}`
      : 'e-mail delivery: disabled (SMTP_HOST unset); reset and verification tokens are written to the log',
  );

  const auth = new AuthService({ config, store, secrets, bus, counters, mailer, log });
  await auth.credentials.ensureDefaultUser();

  const memory = createMemoryEngine(config, store, log);
  const access = new AccessService(store.db);
  const memoryService = new MemoryService(config, store.db, memory);
  const app = await buildApp(
    {
      config,
      auth,
      access,
      memory: memoryService,
      version: VERSION,
      startedAt: Date.now(),
      health: () =>
        checkStores({
          config,
          ping: () => store.ping(),
          databases: memory.databases,
          onFailure: (component, error) => log.warn({ component, err: error }, 'health check: a store did not answer'),
        }),
    },
    log,
    { limitsRedis },
  );

  const purge = setInterval(
    () => {
      auth.users.purgeExpiredRevocations().catch((error) => log.warn({ err: error }, 'revocation purge failed'));
    },
    60 * 60 * 1000,
  );
  purge.unref();

  // From here on, an error nothing catches is logged and the process keeps serving (D22).
  const unguard = guardProcess(log);
  try {
    await memory.settings.start();
    // Personal datasets of deleted users whose deletion was interrupted are deleted now.
    await finishDatasetDeletions({ access, memory: memoryService }, log);
    await memory.startJobs();
    await app.listen({ host: config.http.host, port: options.port ?? config.http.port });
  } catch (error) {
    unguard();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ url }, 'Backend server has started');

  let closed = false;
  return {
    config,
    app,
    auth,
    store,
    memory,
    log,
    url,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(purge);
      try {
        await app.close();
        await memory.stopJobs();
        await memory.parsers.close();
        memory.settings.stop();
        await memory.databases.close();
        await bus.close();
        await counters.close();
        mailer.close();
        await store.close();
      } finally {
        unguard();
      }
    },
  };
}

/** pg-boss on PostgreSQL, the in-process queue over the `jobs` table on SQLite (JOB_QUEUE overrides). */
function createJobQueue(config: Config, store: RelationalStore, log: Logger): JobQueue {
  const jobs = config.memory.jobs;
  const kind = jobs.queue === 'auto' ? (store.pgConnection ? 'pg-boss' : 'local') : jobs.queue;
  if (kind === 'pg-boss' && !store.pgConnection) throw new ConfigError('JOB_QUEUE', 'pg-boss needs the relational store on PostgreSQL (DB_PROVIDER=postgres)');
  log.info(
    kind === 'pg-boss'
      ? `background jobs: pg-boss in PostgreSQL (schema pgboss), ${jobs.concurrency} worker(s) here; any instance takes any job`
      : `background jobs: in-process queue over the jobs table, ${jobs.concurrency} worker(s); one instance per database`,
  );
  return kind === 'pg-boss' ? new PgBossJobQueue(store.pgConnection!, jobs, log) : new LocalJobQueue(store.db, jobs, log, config.quotas.maxConcurrentRuns);
}

/** The language model, embeddings and stores of the memory engine, announced in the log. */
function createMemoryEngine(config: Config, store: RelationalStore, log: Logger): MemoryEngine {
  const m = config.memory;
  let model: LanguageModel;
  if (m.llm.provider === 'offline') {
    model = new OfflineModel();
    log.warn(
      'language model: offline mode (no LLM configured): entities are extracted by rules and completions answer with the retrieved context; set LLM_API_KEY or LLM_ENDPOINT for a real model',
    );
  } else {
    model = new OpenAICompatibleModel({
      endpoint: m.llm.endpoint!,
      ...(m.llm.apiKey !== undefined ? { apiKey: m.llm.apiKey } : {}),
      model: m.llm.model,
      temperature: m.llm.temperature,
      maxCompletionTokens: m.llm.maxCompletionTokens,
      timeoutMs: m.llm.timeoutMs,
    });
    log.info(`language model: ${m.llm.provider} ${m.llm.model} at ${m.llm.endpoint}`);
  }
  let embedder: Embedder;
  if (m.embedding.provider === 'offline') {
    embedder = new HashingEmbedder({ dimensions: m.embedding.dimensions });
    log.warn(`embeddings: offline hashing embedder (${m.embedding.dimensions} dimensions): search is lexical, not semantic`);
  } else {
    embedder = new OpenAICompatibleEmbedder({
      endpoint: m.embedding.endpoint!,
      ...(m.embedding.apiKey !== undefined ? { apiKey: m.embedding.apiKey } : {}),
      model: m.embedding.model,
      dimensions: m.embedding.dimensions,
      sendDimensions: m.embedding.dimensionsExplicit,
      batchSize: m.embedding.batchSize,
    });
    log.info(`embeddings: ${m.embedding.provider} ${m.embedding.model} (${m.embedding.dimensions} dimensions)`);
  }
  const databases = DatasetDatabases.create(config, store.db, store.pgConnection);
  log.info(
    config.posture.multiTenant
      ? `memory stores: one ${m.graphHandler} graph and one ${m.vectorHandler} vector store per dataset`
      : `memory stores: one shared ${m.graphProvider} graph and one shared ${m.vectorProvider} vector store, partitioned by dataset`,
  );
  log.info(
    `local file paths: ${m.acceptLocalFilePath ? 'accepted within COGNEE_ALLOWED_LOCAL_FILE_ROOTS' : 'refused'} (ACCEPT_LOCAL_FILE_PATH, ${m.acceptLocalFilePathSource})`,
  );
  if (m.acceptLocalFilePath) {
    log.info(
      m.allowedLocalRoots.length > 0
        ? `local file roots: ${m.allowedLocalRoots.join(', ')} (server state, data root and .env files always refused)`
        : 'local file roots: none (COGNEE_ALLOWED_LOCAL_FILE_ROOTS is unset): no local file is read',
    );
  }
  log.info(
    `cypher search: ${m.allowCypherQuery ? 'allowed, read-only and confined to the dataset' : 'disabled'} (ALLOW_CYPHER_QUERY, ${m.allowCypherQuerySource})`,
  );
  if (m.encryptionKeyIsDefault) {
    log.warn('NEO4J_ENCRYPTION_KEY is the well-known default "test_key": stored graph database passwords are not protected; set a random key');
  }
  log.info(
    `document parsers: up to ${m.parsers.workers} parser process(es), each parse within ${m.parsers.timeoutMs} ms, ${m.parsers.maxMemoryMb} MB of heap, ${m.parsers.maxPages} PDF pages, ${m.parsers.maxInputBytes} bytes in and ${m.parsers.maxOutputChars} characters out (PARSER_*)`,
  );
  const settings = new MemorySettings(store.db, config, log, model);
  const engine = new MemoryEngine(config, store.db, log, databases, settings, embedder, {
    ...(store.pgConnection ? { runLock: new PostgresRunLock(store.pgConnection) } : {}),
    queue: createJobQueue(config, store, log),
  });
  log.info(
    store.pgConnection ? 'pipeline runs: one per dataset across instances (PostgreSQL advisory locks)' : 'pipeline runs: one per dataset (in-process lock)',
  );
  const q = config.quotas;
  log.info(
    `per-user limits: ${q.maxConcurrentRuns} cognify run(s) and ${q.maxConcurrentModelCalls} model call(s) at once; storage ${q.maxStorageBytes || 'unlimited'} bytes, ${q.maxItems || 'unlimited'} items (USER_MAX_*)`,
  );
  return engine;
}
