import { randomUUID } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { DatasetDatabases } from './datasets/index.js';
import { openDriver } from './stores/neo4j-connection.js';

/**
 * Whether each store the server uses answers (the reference's `GET /health` components): the
 * relational database, the vector store, the graph store and file storage. Embedded stores (Kuzu,
 * LanceDB) and file storage are checked by writing and removing a probe file where they keep their
 * data; servers (PostgreSQL, pgvector, the shared Neo4j) by a round trip. Each check has a time
 * limit. `details` are fixed words, never an error message, a path or a version: the reason is logged.
 */
export type StoreName = 'relational_db' | 'vector_db' | 'graph_db' | 'file_storage';

export interface StoreHealth {
  readonly status: 'healthy' | 'unhealthy';
  readonly provider: string;
  readonly response_time_ms: number;
  readonly details: string;
}

export interface StoreHealthDeps {
  readonly config: Config;
  /** The relational store's `select 1`. */
  readonly ping: () => Promise<void>;
  readonly databases: DatasetDatabases;
  /** Where a failed check's reason goes (never into the answer). */
  readonly onFailure: (store: StoreName, error: unknown) => void;
}

const CHECK_TIMEOUT_MS = 5000;

async function writable(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const probe = join(dir, `.health-${randomUUID()}`);
  await writeFile(probe, 'ok', { mode: 0o600 });
  await unlink(probe);
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function check(name: StoreName, provider: string, probe: () => Promise<void>, deps: StoreHealthDeps, ok: string): Promise<StoreHealth> {
  const started = performance.now();
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS);
    return { status: 'healthy', provider, response_time_ms: Math.round(performance.now() - started), details: ok };
  } catch (error) {
    deps.onFailure(name, error);
    return { status: 'unhealthy', provider, response_time_ms: Math.round(performance.now() - started), details: 'Check failed' };
  }
}

export async function checkStores(deps: StoreHealthDeps): Promise<Record<StoreName, StoreHealth>> {
  const { config, databases } = deps;
  const m = config.memory;
  const storesDir = join(config.systemRoot, 'databases');
  const neo4j = m.neo4j;
  const graphProbe =
    m.graphProvider === 'neo4j' && neo4j
      ? async () => {
          const driver = await openDriver({ url: neo4j.url, username: neo4j.username, password: neo4j.password, maxConnectionPoolSize: 1 });
          await driver.close();
        }
      : // Kuzu files, and in multi-tenant mode each dataset's own database (Neo4j ones answer when used).
        () => writable(storesDir);
  const vectorProbe =
    m.vectorProvider === 'pgvector'
      ? async () => {
          await databases.pool().query('select 1');
        }
      : () => writable(storesDir);
  const [relational, vector, graph, files] = await Promise.all([
    check('relational_db', config.db.provider, deps.ping, deps, 'Connection successful'),
    check('vector_db', m.vectorProvider, vectorProbe, deps, m.vectorProvider === 'pgvector' ? 'Connection successful' : 'Writable'),
    check('graph_db', m.graphProvider, graphProbe, deps, m.graphProvider === 'neo4j' && neo4j ? 'Connection successful' : 'Writable'),
    check('file_storage', 'local', () => writable(config.dataRoot), deps, 'Writable'),
  ]);
  return { relational_db: relational, vector_db: vector, graph_db: graph, file_storage: files };
}
