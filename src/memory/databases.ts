import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { ConfigError, type Config } from '../config/index.js';
import type { Database } from '../storage/index.js';
import { FernetKeyring } from '../security/fernet.js';
import { auraHandler } from './aura.js';
import { KuzuGraphStore } from './stores/kuzu.js';
import { LanceVectorStore } from './stores/lancedb.js';
import { Neo4jGraphStore } from './stores/neo4j.js';
import { PgVectorStore, dropSchema } from './stores/pgvector.js';
import type { GraphStore, VectorStore } from './stores/types.js';

/**
 * Where each dataset's graph and vectors live.
 *
 * Multi-tenant mode: every dataset gets its own databases through dataset database handlers, and a
 * `dataset_database` row recording them (created lazily on first use, as the reference does).
 * Single-user mode: one shared graph and one shared vector store; every store call still names its
 * dataset, so content never crosses datasets (D16).
 */

export type DatasetDatabaseRow = Database['dataset_database'];

export interface DatasetRef {
  readonly id: string;
  readonly ownerId: string;
}

export interface DatasetDatabaseHandler {
  readonly name: string;
  readonly kind: 'graph' | 'vector';
  /** Providers this handler can serve. */
  readonly providers: readonly string[];
  /** Provisions storage; returns the row's columns for this kind. Never returns a plaintext secret. */
  createDataset(dataset: DatasetRef): Promise<Partial<DatasetDatabaseRow>>;
  /** Called before every connection; may decrypt or inject credentials into an in-memory copy. */
  resolve(row: DatasetDatabaseRow): Promise<DatasetDatabaseRow>;
  /** Deprovisions the storage. */
  deleteDataset(row: DatasetDatabaseRow): Promise<void>;
}

export interface StorePair {
  readonly graph: GraphStore;
  readonly vector: VectorStore;
}

function ownerDir(config: Config, ownerId: string): string {
  return join(config.systemRoot, 'databases', ownerId);
}

export function kuzuHandler(config: Config): DatasetDatabaseHandler {
  return {
    name: 'kuzu',
    kind: 'graph',
    providers: ['kuzu'],
    async createDataset(dataset) {
      return {
        graph_database_name: `${dataset.id}.kuzu`,
        graph_database_url: null,
        graph_database_provider: 'kuzu',
        graph_database_key: null,
        graph_dataset_database_handler: 'kuzu',
        graph_database_connection_info: '{}',
      };
    },
    async resolve(row) {
      return row;
    },
    async deleteDataset(row) {
      if (!row.graph_database_name) return;
      const file = join(ownerDir(config, row.owner_id), row.graph_database_name);
      for (const suffix of ['', '.wal', '.lock', '.shadow']) await rm(file + suffix, { recursive: true, force: true });
    },
  };
}

export function lancedbHandler(config: Config): DatasetDatabaseHandler {
  return {
    name: 'lancedb',
    kind: 'vector',
    providers: ['lancedb'],
    async createDataset(dataset) {
      return {
        vector_database_name: `${dataset.id}.lance.db`,
        vector_database_url: join(ownerDir(config, dataset.ownerId), `${dataset.id}.lance.db`),
        vector_database_provider: 'lancedb',
        vector_database_key: null,
        vector_dataset_database_handler: 'lancedb',
        vector_database_connection_info: '{}',
      };
    },
    async resolve(row) {
      return row;
    },
    async deleteDataset(row) {
      if (row.vector_database_url) await rm(row.vector_database_url, { recursive: true, force: true });
    },
  };
}

/** One schema per dataset in one PostgreSQL database; credentials come from configuration, never the row. */
export function pgvectorHandler(pool: () => pg.Pool): DatasetDatabaseHandler {
  return {
    name: 'pgvector',
    kind: 'vector',
    providers: ['pgvector'],
    async createDataset(dataset) {
      const schema = `ds_${dataset.id.replace(/-/g, '')}`;
      return {
        vector_database_name: schema,
        vector_database_url: null,
        vector_database_provider: 'pgvector',
        vector_database_key: null,
        vector_dataset_database_handler: 'pgvector',
        vector_database_connection_info: JSON.stringify({ schema }),
      };
    },
    async resolve(row) {
      return row;
    },
    async deleteDataset(row) {
      if (row.vector_database_name) await dropSchema(pool(), row.vector_database_name);
    },
  };
}

/** Registry of handlers by name; a wrong provider/handler pair is a startup error. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, DatasetDatabaseHandler>();

  register(handler: DatasetDatabaseHandler): void {
    this.handlers.set(handler.name, handler);
  }

  get(name: string): DatasetDatabaseHandler | undefined {
    return this.handlers.get(name);
  }

  /** Checks that the configured handlers exist, have the right kind and serve the configured providers. */
  validate(config: Config): void {
    const checks = [
      ['GRAPH_DATASET_DATABASE_HANDLER', config.memory.graphHandler, 'graph', config.memory.graphProvider, 'GRAPH_DATABASE_PROVIDER'],
      ['VECTOR_DATASET_DATABASE_HANDLER', config.memory.vectorHandler, 'vector', config.memory.vectorProvider, 'VECTOR_DB_PROVIDER'],
    ] as const;
    for (const [variable, name, kind, provider, providerVariable] of checks) {
      const handler = this.handlers.get(name);
      if (!handler || handler.kind !== kind) {
        const known = [...this.handlers.values()].filter((h) => h.kind === kind).map((h) => h.name);
        throw new ConfigError(variable, `unknown ${kind} dataset database handler ${JSON.stringify(name)}; registered: ${known.join(', ')}`);
      }
      if (!handler.providers.includes(provider)) {
        throw new ConfigError(
          variable,
          `handler ${JSON.stringify(name)} cannot serve ${providerVariable}=${provider} (it serves ${handler.providers.join(', ')})`,
        );
      }
    }
  }
}

interface CacheEntry {
  readonly stores: Promise<StorePair>;
  users: number;
  lastUsed: number;
}

/** Opens, caches (LRU, never closing a store in use) and deletes the stores of datasets. */
export class DatasetDatabases {
  private readonly cache = new Map<string, CacheEntry>();
  private shared: Promise<StorePair> | undefined;
  private pgPool: pg.Pool | undefined;

  constructor(
    private readonly config: Config,
    private readonly db: Kysely<Database>,
    readonly registry: HandlerRegistry,
    private readonly pgConnection: pg.ClientConfig | undefined,
  ) {}

  static create(config: Config, db: Kysely<Database>, pgConnection: pg.ClientConfig | undefined): DatasetDatabases {
    const registry = new HandlerRegistry();
    let self: DatasetDatabases | undefined;
    registry.register(kuzuHandler(config));
    registry.register(lancedbHandler(config));
    registry.register(pgvectorHandler(() => self!.pool()));
    registry.register(auraHandler(config, FernetKeyring.fromSecrets(config.memory.encryptionKeys.join(','))));
    registry.validate(config);
    if (config.memory.graphProvider === 'neo4j' && !config.posture.multiTenant && !config.memory.neo4j) {
      throw new ConfigError('GRAPH_DATABASE_URL', 'GRAPH_DATABASE_PROVIDER=neo4j in single-user mode needs the URL of the shared Neo4j');
    }
    self = new DatasetDatabases(config, db, registry, pgConnection);
    return self;
  }

  get multiTenant(): boolean {
    return this.config.posture.multiTenant;
  }

  /** The PostgreSQL pool for pgvector (VECTOR_DB_* or the relational database). */
  pool(): pg.Pool {
    if (!this.pgPool) {
      const c = this.config.memory.pgvector;
      const connection: pg.PoolConfig = c
        ? { host: c.host, port: c.port, database: c.database, user: c.username, ...(c.password !== undefined ? { password: c.password } : {}) }
        : { ...(this.pgConnection ?? {}) };
      this.pgPool = new pg.Pool({ ...connection, max: 5 });
      this.pgPool.on('error', () => undefined);
    }
    return this.pgPool;
  }

  /** Runs `fn` with the dataset's stores open; they stay open (cached) for later calls. */
  async with<T>(dataset: DatasetRef, fn: (stores: StorePair) => Promise<T>): Promise<T> {
    if (!this.multiTenant) {
      if (!this.shared) {
        const opening = this.openShared();
        this.shared = opening;
        // A store that failed to open (a server down, refused credentials) is tried again next time.
        opening.catch(() => {
          if (this.shared === opening) this.shared = undefined;
        });
      }
      return fn(await this.shared);
    }
    let entry = this.cache.get(dataset.id);
    if (!entry) {
      entry = { stores: this.openForDataset(dataset), users: 0, lastUsed: Date.now() };
      this.cache.set(dataset.id, entry);
      entry.stores.catch(() => this.cache.delete(dataset.id));
    }
    entry.users += 1;
    entry.lastUsed = Date.now();
    try {
      return await fn(await entry.stores);
    } finally {
      entry.users -= 1;
      await this.evict();
    }
  }

  /** The dataset's `dataset_database` row, created on first use (multi-tenant mode only). */
  async rowFor(dataset: DatasetRef): Promise<DatasetDatabaseRow> {
    const existing = await this.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', dataset.id).executeTakeFirst();
    if (existing) return existing;
    const graph = this.registry.get(this.config.memory.graphHandler)!;
    const vector = this.registry.get(this.config.memory.vectorHandler)!;
    const now = new Date().toISOString();
    const row: DatasetDatabaseRow = {
      dataset_id: dataset.id,
      owner_id: dataset.ownerId,
      vector_database_name: null,
      vector_database_url: null,
      vector_database_provider: null,
      vector_database_key: null,
      vector_dataset_database_handler: null,
      vector_database_connection_info: '{}',
      graph_database_name: null,
      graph_database_url: null,
      graph_database_provider: null,
      graph_database_key: null,
      graph_dataset_database_handler: null,
      graph_database_connection_info: '{}',
      created_at: now,
      updated_at: now,
      ...(await graph.createDataset(dataset)),
      ...(await vector.createDataset(dataset)),
    };
    await this.db.insertInto('dataset_database').values(row).onConflict((oc) => oc.column('dataset_id').doNothing()).execute();
    return (await this.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', dataset.id).executeTakeFirstOrThrow());
  }

  private async openForDataset(dataset: DatasetRef): Promise<StorePair> {
    let row = await this.rowFor(dataset);
    const graphHandler = this.registry.get(row.graph_dataset_database_handler ?? '');
    const vectorHandler = this.registry.get(row.vector_dataset_database_handler ?? '');
    if (!graphHandler || !vectorHandler) {
      throw new Error(`dataset ${dataset.id} uses a handler that is not registered on this server`);
    }
    row = await vectorHandler.resolve(row);
    row = await graphHandler.resolve(row);
    const graph = await this.openGraph(row);
    try {
      const vector = await this.openVector(row);
      return { graph, vector };
    } catch (error) {
      await graph.close();
      throw error;
    }
  }

  /** The dataset's own graph: its Neo4j (e.g. an Aura instance) or its Kuzu file. */
  private async openGraph(row: DatasetDatabaseRow): Promise<GraphStore> {
    if (row.graph_database_provider === 'neo4j') {
      if (!row.graph_database_url) throw new Error(`dataset ${row.dataset_id} has no Neo4j URL in its dataset database row`);
      // The handler's resolve() decrypted the password into this in-memory copy of the row only.
      const info = JSON.parse(row.graph_database_connection_info || '{}') as Record<string, unknown>;
      return Neo4jGraphStore.open({
        url: row.graph_database_url,
        username: typeof info.graph_database_username === 'string' ? info.graph_database_username : 'neo4j',
        password: typeof info.graph_database_password === 'string' ? info.graph_database_password : '',
        ...(row.graph_database_name ? { database: row.graph_database_name } : {}),
        singleDataset: true,
      });
    }
    return KuzuGraphStore.open(join(ownerDir(this.config, row.owner_id), row.graph_database_name!), { singleDataset: true });
  }

  private async openVector(row: DatasetDatabaseRow | undefined): Promise<VectorStore> {
    const dims = this.config.memory.embedding.dimensions;
    if (this.config.memory.vectorProvider === 'pgvector') {
      const schema = row?.vector_database_name ?? 'engram_vectors';
      return PgVectorStore.open({ pool: this.pool(), schema, dimensions: dims });
    }
    const dir = row?.vector_database_url ?? join(this.config.systemRoot, 'databases', 'engram.lancedb');
    return LanceVectorStore.open(dir, dims);
  }

  private async openShared(): Promise<StorePair> {
    const neo4j = this.config.memory.neo4j;
    const graph: GraphStore =
      this.config.memory.graphProvider === 'neo4j' && neo4j
        ? await Neo4jGraphStore.open({
            url: neo4j.url,
            username: neo4j.username,
            password: neo4j.password,
            ...(neo4j.database !== undefined ? { database: neo4j.database } : {}),
          })
        : await KuzuGraphStore.open(join(this.config.systemRoot, 'databases', 'engram_graph.kuzu'));
    try {
      const vector = await this.openVector(undefined);
      return { graph, vector };
    } catch (error) {
      await graph.close();
      throw error;
    }
  }

  private async evict(): Promise<void> {
    const max = this.config.memory.maxOpenDatasets;
    if (this.cache.size <= max) return;
    const idle = [...this.cache.entries()].filter(([, e]) => e.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id, entry] of idle) {
      if (this.cache.size <= max) break;
      this.cache.delete(id);
      await closePair(entry.stores);
    }
  }

  /** Removes the dataset's graph and vectors, and its per-dataset databases. */
  async deleteDataset(dataset: DatasetRef): Promise<void> {
    if (!this.multiTenant) {
      await this.with(dataset, async ({ graph, vector }) => {
        await graph.deleteDataset(dataset.id);
        await vector.deleteDataset(dataset.id);
      });
      return;
    }
    const row = await this.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', dataset.id).executeTakeFirst();
    const entry = this.cache.get(dataset.id);
    if (entry) {
      this.cache.delete(dataset.id);
      await closePair(entry.stores);
    }
    if (!row) return;
    const graphHandler = this.registry.get(row.graph_dataset_database_handler ?? '');
    const vectorHandler = this.registry.get(row.vector_dataset_database_handler ?? '');
    if (graphHandler) await graphHandler.deleteDataset(await graphHandler.resolve(row));
    if (vectorHandler) await vectorHandler.deleteDataset(await vectorHandler.resolve(row));
    await this.db.deleteFrom('dataset_database').where('dataset_id', '=', dataset.id).execute();
  }

  /** Removes only the dataset's content, keeping its databases (forget with memory_only). */
  async clearDataset(dataset: DatasetRef): Promise<void> {
    await this.with(dataset, async ({ graph, vector }) => {
      await graph.deleteDataset(dataset.id);
      await vector.deleteDataset(dataset.id);
    });
  }

  async close(): Promise<void> {
    const entries = [...this.cache.values()];
    this.cache.clear();
    for (const entry of entries) await closePair(entry.stores);
    if (this.shared) await closePair(this.shared);
    this.shared = undefined;
    await this.pgPool?.end();
    this.pgPool = undefined;
  }
}

async function closePair(pair: Promise<StorePair>): Promise<void> {
  try {
    const { graph, vector } = await pair;
    await graph.close();
    await vector.close();
  } catch {
    // A store that never opened has nothing to close.
  }
}
