import type { Kysely } from 'kysely';
import pg from 'pg';
import { join } from 'node:path';
import { ConfigError, type Config } from '../../config/index.js';
import { CypherSandbox } from '../cypher-sandbox/sandbox.js';
import { FernetKeyring } from '../fernet.js';
import type { Database } from '../relational/index.js';
import { KuzuGraphStore } from '../stores/kuzu.js';
import { LanceVectorStore } from '../stores/lancedb.js';
import { Neo4jGraphStore } from '../stores/neo4j.js';
import { PgVectorStore } from '../stores/pgvector.js';
import type { CypherRunner, GraphStore, VectorStore } from '../types.js';
import { auraHandler } from './aura.js';
import { kuzuHandler, lancedbHandler, ownerDir, pgvectorHandler } from './handlers.js';
import { HandlerRegistry } from './registry.js';
import type { DatasetDatabaseRow, DatasetRef, StorePair } from './types.js';

/**
 * Where each dataset's graph and vectors live.
 *
 * Multi-tenant mode: every dataset gets its own databases through dataset database handlers, and a
 * `dataset_database` row recording them (created lazily on first use, as the reference does).
 * Single-user mode: one shared graph and one shared vector store; every store call still names its
 * dataset, so content never crosses datasets (D16).
 */

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
    /** Where the graph stores run user Cypher (D18). */
    readonly cypherRunner: CypherRunner,
  ) {}

  static create(config: Config, db: Kysely<Database>, pgConnection: pg.ClientConfig | undefined): DatasetDatabases {
    const registry = new HandlerRegistry();
    // User Cypher runs in killable child processes within CYPHER_MAX_MEMORY_MB and CYPHER_MAX_CONCURRENT.
    const sandbox = new CypherSandbox({ maxMemoryMb: config.memory.cypherMaxMemoryMb, maxConcurrent: config.memory.cypherMaxConcurrent });
    const self = new DatasetDatabases(config, db, registry, pgConnection, sandbox);
    registry.register(kuzuHandler(config));
    registry.register(lancedbHandler(config));
    registry.register(pgvectorHandler(() => self.pool()));
    registry.register(auraHandler(config, FernetKeyring.fromSecrets(config.memory.encryptionKeys.join(','))));
    registry.validate(config);
    if (config.memory.graphProvider === 'neo4j' && !config.posture.multiTenant && !config.memory.neo4j) {
      throw new ConfigError('GRAPH_DATABASE_URL', 'GRAPH_DATABASE_PROVIDER=neo4j in single-user mode needs the URL of the shared Neo4j');
    }
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
    await this.db
      .insertInto('dataset_database')
      .values(row)
      .onConflict((oc) => oc.column('dataset_id').doNothing())
      .execute();
    return await this.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', dataset.id).executeTakeFirstOrThrow();
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
        cypherRunner: this.cypherRunner,
      });
    }
    return KuzuGraphStore.open(join(ownerDir(this.config, row.owner_id), row.graph_database_name!), { singleDataset: true, cypherRunner: this.cypherRunner });
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
            cypherRunner: this.cypherRunner,
          })
        : await KuzuGraphStore.open(join(this.config.systemRoot, 'databases', 'engram_graph.kuzu'), { cypherRunner: this.cypherRunner });
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
