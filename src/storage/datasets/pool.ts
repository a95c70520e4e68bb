import type { Kysely } from 'kysely';
import pg from 'pg';
import { join } from 'node:path';
import { ConfigError, type Config } from '../../config/index.js';
import { DomainError } from '../../errors.js';
import { CypherSandbox } from '../cypher-sandbox/sandbox.js';
import { FernetKeyring } from '../fernet.js';
import type { Database } from '../relational/index.js';
import { KuzuGraphStore } from '../stores/kuzu.js';
import { LanceVectorStore } from '../stores/lancedb.js';
import { Neo4jGraphStore } from '../stores/neo4j.js';
import { PgVectorStore } from '../stores/pgvector.js';
import type { CypherRunner, GraphStore, VectorStore } from '../types.js';
import { auraHandler } from './aura.js';
import { StoreCloser } from './closing.js';
import { emptyStores } from './empty-stores.js';
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

/** One dataset's stores, open (or opening) in a place of the pool. */
interface Slot {
  readonly id: string;
  stores: Promise<StorePair>;
  /** Calls running with these stores. */
  users: number;
  /** When it was last used (a counter): the least recently used idle slot is evicted first. */
  lastUsed: number;
  /** Retired: no new user; closed once the last one leaves. */
  retired: boolean;
  /** Its stores failed to open. */
  failed: boolean;
  /** Resolves the close once the last user leaves. */
  drained?: () => void;
}

/** What the pool has done, for tests and benchmarks. */
export interface PoolStats {
  /** Datasets whose stores are open now (opening and closing ones included). */
  readonly open: number;
  /** The most datasets open at once so far. */
  readonly peakOpen: number;
  readonly opened: number;
  readonly closed: number;
  /** Idle stores closed to make room for another dataset. */
  readonly evicted: number;
  /** Calls waiting for a place. */
  readonly waiting: number;
}

/**
 * Opens, pools and deletes the stores of datasets. In multi-tenant mode at most
 * `DATABASE_MAX_LRU_CACHE_SIZE` datasets have their stores open at once: a call for another
 * dataset waits for a place (in arrival order; it never fails because the pool is full), taking
 * the place of the least recently used idle dataset, whose stores are closed first. Stores in use
 * are never closed under their users; stores that failed (to open, or with an error that is not a
 * client's) are closed once their last user leaves, and opened afresh by the next call.
 */
export class DatasetDatabases {
  /** The usable slot of each dataset (opening or open, not retired). */
  private readonly slots = new Map<string, Slot>();
  /** Datasets whose retired slot is closing (or being deleted): their next call waits for it. */
  private readonly retiring = new Map<string, Promise<void>>();
  /** Places taken: usable slots, and retired ones not yet closed. */
  private held = 0;
  /** Calls waiting for a place, in arrival order. */
  private readonly queue: object[] = [];
  private wakers: Array<() => void> = [];
  private tick = 0;
  private closed = false;
  private counts = { open: 0, peakOpen: 0, opened: 0, closed: 0, evicted: 0 };
  private shared: Promise<StorePair> | undefined;
  /** Closes stores one at a time, off the turn that retired them; a closing slot keeps its place until closed. */
  private readonly closer = new StoreCloser();
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
    // User Cypher runs in killable child processes within CYPHER_MAX_MEMORY_MB and CYPHER_MAX_CONCURRENT,
    // CYPHER_SANDBOX_POOL_SIZE of them started ahead (each still serves one query).
    const sandbox = new CypherSandbox({
      maxMemoryMb: config.memory.cypherMaxMemoryMb,
      maxConcurrent: config.memory.cypherMaxConcurrent,
      poolSize: config.memory.cypherSandboxPoolSize,
    });
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

  /**
   * Runs `fn` with the dataset's stores open; they stay open for later calls until their place is
   * needed by another dataset. Waits for a place when every place is in use.
   */
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
    const slot = await this.acquire(dataset);
    let failure: unknown;
    try {
      return await fn(await slot.stores);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      this.release(slot, failure);
    }
  }

  /**
   * Runs `fn` with the dataset's stores for reading. A dataset that has no databases yet
   * (multi-tenant mode, no `dataset_database` row: nothing was ever written for it) gets empty
   * stores, without opening, creating or pooling any; the others go through `with`.
   */
  async read<T>(dataset: DatasetRef, fn: (stores: StorePair) => Promise<T>): Promise<T> {
    if (this.multiTenant && !this.slots.has(dataset.id) && !this.retiring.has(dataset.id) && !(await this.hasDatabases(dataset.id))) {
      return fn(emptyStores(this.config.memory.embedding.dimensions));
    }
    return this.with(dataset, fn);
  }

  private async hasDatabases(datasetId: string): Promise<boolean> {
    const row = await this.db.selectFrom('dataset_database').select('dataset_id').where('dataset_id', '=', datasetId).executeTakeFirst();
    return row !== undefined;
  }

  /** What the pool holds and has done. */
  stats(): PoolStats {
    return { ...this.counts, waiting: this.queue.length };
  }

  /** Whether the dataset's stores are open (or opening) in the pool, usable by the next call. */
  isOpen(datasetId: string): boolean {
    return this.slots.has(datasetId);
  }

  /** A usable slot of the dataset, counted as used: shared, opened in a free place, or in an evicted one's. */
  private async acquire(dataset: DatasetRef): Promise<Slot> {
    const ticket = {};
    try {
      for (;;) {
        if (this.closed) throw new Error('the dataset databases are closed');
        const open = this.slots.get(dataset.id);
        if (open) {
          open.users += 1;
          open.lastUsed = ++this.tick;
          return open;
        }
        const closing = this.retiring.get(dataset.id);
        if (closing) {
          await closing;
          continue;
        }
        // A new place goes to the longest waiting call first.
        const first = this.queue.length === 0 || this.queue[0] === ticket;
        if (first && this.held < this.config.memory.maxOpenDatasets) {
          this.held += 1;
          return this.occupy(dataset, undefined);
        }
        const idle = first ? this.leastRecentlyUsedIdle() : undefined;
        if (idle) {
          // The evicted dataset's place passes to this one: its stores open once the others are closed.
          this.counts.evicted += 1;
          return this.occupy(dataset, this.retire(idle, false));
        }
        if (!this.queue.includes(ticket)) this.queue.push(ticket);
        await new Promise<void>((wake) => this.wakers.push(wake));
      }
    } finally {
      const at = this.queue.indexOf(ticket);
      if (at >= 0) {
        this.queue.splice(at, 1);
        // The next call in line may take a place now.
        if (at === 0) this.wakeAll();
      }
    }
  }

  /** A new slot for the dataset in a place already taken, opened after `before` (the previous holder's close). */
  private occupy(dataset: DatasetRef, before: Promise<void> | undefined): Slot {
    const slot: Slot = { id: dataset.id, stores: Promise.resolve(undefined as never), users: 1, lastUsed: ++this.tick, retired: false, failed: false };
    slot.stores = (async () => {
      if (before) await before;
      this.counted(+1);
      try {
        return await this.openForDataset(dataset);
      } catch (error) {
        this.counted(-1);
        slot.failed = true;
        throw error;
      }
    })();
    // A failed open is the users' to see; the slot is retired when they leave.
    slot.stores.catch(() => undefined);
    this.slots.set(dataset.id, slot);
    return slot;
  }

  private release(slot: Slot, failure: unknown): void {
    slot.users -= 1;
    slot.lastUsed = ++this.tick;
    // A failure that is not a client's (a store error, a failed open) may have left the stores broken.
    if ((slot.failed || (failure !== undefined && !(failure instanceof DomainError))) && !slot.retired) void this.retire(slot, true);
    if (slot.users > 0) return;
    if (slot.retired) slot.drained?.();
    else this.wakeAll(); // an idle slot can be evicted for a waiting call
  }

  /**
   * Takes the slot out of use and closes its stores once its last user leaves. `freePlace`: its
   * place is given back to the pool; otherwise the caller takes it over.
   */
  private retire(slot: Slot, freePlace: boolean): Promise<void> {
    slot.retired = true;
    if (this.slots.get(slot.id) === slot) this.slots.delete(slot.id);
    const done = (async () => {
      if (slot.users > 0) await new Promise<void>((resolve) => (slot.drained = resolve));
      if (await this.closer.closePair(slot.stores)) {
        this.counts.closed += 1;
        this.counted(-1);
      }
    })();
    const closed = done.finally(() => {
      if (this.retiring.get(slot.id) === closed) this.retiring.delete(slot.id);
      if (freePlace) {
        this.held -= 1;
        this.wakeAll();
      }
    });
    this.retiring.set(slot.id, closed);
    return closed;
  }

  private leastRecentlyUsedIdle(): Slot | undefined {
    let oldest: Slot | undefined;
    for (const slot of this.slots.values()) {
      if (slot.users === 0 && (!oldest || slot.lastUsed < oldest.lastUsed)) oldest = slot;
    }
    return oldest;
  }

  private counted(change: 1 | -1): void {
    this.counts.open += change;
    if (change > 0) {
      this.counts.opened += 1;
      this.counts.peakOpen = Math.max(this.counts.peakOpen, this.counts.open);
    }
  }

  private wakeAll(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
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
    return KuzuGraphStore.open(join(ownerDir(this.config, row.owner_id), row.graph_database_name!), { singleDataset: true, ...this.kuzuOptions() });
  }

  /** Every Kuzu database within KUZU_BUFFER_POOL_SIZE and KUZU_MAX_DB_SIZE. */
  private kuzuOptions() {
    return { cypherRunner: this.cypherRunner, bufferPoolBytes: this.config.memory.kuzuBufferPoolBytes, maxDbBytes: this.config.memory.kuzuMaxDbBytes };
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
        : await KuzuGraphStore.open(join(this.config.systemRoot, 'databases', 'engram_graph.kuzu'), this.kuzuOptions());
    try {
      const vector = await this.openVector(undefined);
      return { graph, vector };
    } catch (error) {
      await graph.close();
      throw error;
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
    // Calls under way finish first; the stores are closed, and the next call waits for the deletion.
    for (;;) {
      const closing = this.retiring.get(dataset.id);
      if (closing) await closing;
      const slot = this.slots.get(dataset.id);
      if (slot) await this.retire(slot, true);
      else if (!this.retiring.has(dataset.id)) break;
    }
    const deletion = this.deleteDatabases(dataset);
    const settled = deletion.catch(() => undefined);
    this.retiring.set(dataset.id, settled);
    try {
      await deletion;
    } finally {
      if (this.retiring.get(dataset.id) === settled) this.retiring.delete(dataset.id);
    }
  }

  private async deleteDatabases(dataset: DatasetRef): Promise<void> {
    const row = await this.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', dataset.id).executeTakeFirst();
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

  /** Closes every store once its users have left; later calls (and calls waiting for a place) fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    for (const slot of [...this.slots.values()]) void this.retire(slot, true);
    await Promise.all([...this.retiring.values()]);
    if (this.shared) await this.closer.closePair(this.shared);
    this.shared = undefined;
    await this.pgPool?.end();
    this.pgPool = undefined;
    // The sandbox processes waiting for a query end with the stores.
    await this.cypherRunner.close?.();
  }
}
