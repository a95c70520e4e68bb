/**
 * The Neo4j graph store, over the official `neo4j-driver` (Bolt).
 *
 * Layout (the same as the Kuzu store's, so Cypher written for one runs on the other, and so the
 * statements below stay inside the subset of Cypher that Kuzu also runs):
 *
 *   (:Node {pk, id, dataset_id, name, type, properties -- JSON string, created_at, updated_at})
 *   -[:EDGE {relationship_name, properties -- JSON string, created_at, updated_at}]->
 *
 * `pk` is `dataset_id + ':' + id` (unique, backed by the constraint `engram_node_pk`), so one
 * database can hold several datasets with the same node ids; every statement names the dataset's
 * keys or filters on `dataset_id` (indexed by `engram_node_dataset`), and an edge always joins two
 * nodes of one dataset. Timestamps are ISO-8601 strings (UTC, milliseconds), which compare in time
 * order and read the same from either engine.
 *
 * Two modes:
 * - shared (single-user mode, GRAPH_DATABASE_URL): many datasets in one database. A Cypher query
 *   must not see other datasets, and Neo4j cannot confine a query to a subgraph, so the dataset's
 *   subgraph is read and handed to the Cypher sandbox (`../cypher-sandbox.ts`), a child process
 *   that copies it into a fresh in-memory Kuzu database (the Kuzu store's `openDatasetCopy`) and
 *   runs the query there read-only, killed past its time, memory or answer size limit. The copy
 *   is taken for every query (another Engram instance may write the same database, so a kept copy
 *   could be stale).
 * - single dataset (`singleDataset: true`, one Aura instance per dataset, the `neo4j_aura_dev`
 *   handler): the database is the dataset, so the query runs on the server, in a READ session
 *   through `executeRead` with the transaction timeout, reading at most `maxRows` rows (the rest
 *   is discarded on the server).
 *
 * Writes are batched (`UNWIND $rows AS r ...`, BATCH rows per statement), parameters only, and each
 * call's writes run in one transaction (`executeWrite`): all of them are kept, or none. Calls on one
 * dataset run one after the other in call order (a read issued after a write sees it); calls on
 * different datasets run concurrently over the driver's connection pool. Every session is closed
 * after its call; sessions share one bookmark manager, so a read follows the writes before it in a
 * cluster too.
 */
import neo4j from 'neo4j-driver';
import type { Driver, ManagedTransaction, Session } from 'neo4j-driver';
import {
  COPY_EDGE_ROWS,
  COPY_NODE_ROWS,
  COUNT_EDGES,
  COUNT_NODES,
  DATASET_NODES,
  DATASET_NODES_OF_TYPE,
  DELETE_NODES_BY_KEY,
  GRAPH_EDGES,
  GraphQueryTimeoutError,
  Mutex,
  NODES_BY_KEY,
  assertKeyableDatasetId,
  cypherLimitsOf,
  requireCypherRunner,
  chunks,
  edgeFromRow,
  edgeRows,
  nodeFromRow,
  nodeRows,
  parseProperties,
  pk,
  text,
  uniqueIds,
} from './common.js';
import type { CopyEdgeRow, CopyNodeRow, CypherLimits, CypherRunner, GraphEdge, GraphNode, GraphStore, Subgraph } from '../types.js';

/** Rows (or keys) per UNWIND statement. */
const BATCH = 1000;
/** Nodes removed per transaction by deleteDataset (a dataset can be larger than one transaction should be). */
const DELETE_BATCH = 5000;
/** Rows pulled at once from a Cypher query on the server. */
const FETCH_SIZE = 1000;

const SCHEMA = [
  'CREATE CONSTRAINT engram_node_pk IF NOT EXISTS FOR (n:Node) REQUIRE n.pk IS UNIQUE',
  'CREATE INDEX engram_node_dataset IF NOT EXISTS FOR (n:Node) ON (n.dataset_id)',
];

/** created_at is set once; the rest on every upsert. */
const UPSERT_NODES = `
  UNWIND $rows AS r
  MERGE (n:Node {pk: r.pk})
  ON CREATE SET n.id = r.id, n.dataset_id = $dataset, n.created_at = $now
  SET n.name = r.name, n.type = r.type, n.properties = r.properties, n.updated_at = $now`;

/**
 * An edge whose end nodes do not both exist is not created (a MATCH finds nothing); an existing
 * edge takes the new properties, and a new updated_at only when they changed.
 */
const UPSERT_EDGES = `
  UNWIND $rows AS r
  MATCH (a:Node {pk: r.source})
  MATCH (b:Node {pk: r.target})
  MERGE (a)-[e:EDGE {relationship_name: r.relationship}]->(b)
  ON CREATE SET e.properties = r.properties, e.created_at = $now, e.updated_at = $now
  ON MATCH SET e.updated_at = CASE WHEN e.properties = r.properties THEN e.updated_at ELSE $now END, e.properties = r.properties`;

const AROUND_COLUMNS = `a.id AS a_id, a.name AS a_name, a.type AS a_type, a.properties AS a_properties,
  e.relationship_name AS relationship, e.properties AS properties,
  b.id AS b_id, b.name AS b_name, b.type AS b_type, b.properties AS b_properties`;

export interface Neo4jGraphStoreOptions {
  /** bolt://, bolt+s://, neo4j://, neo4j+s:// ... */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The database to use; the server's default database when omitted. */
  readonly database?: string;
  /**
   * The database holds one dataset only (the caller guarantees it, e.g. an Aura instance per
   * dataset): Cypher queries run on the server instead of on an in-memory copy of the dataset.
   */
  readonly singleDataset?: boolean;
  /** Connections kept by the driver (default 20). */
  readonly maxConnectionPoolSize?: number;
  /** Where user Cypher runs when the database is shared by datasets (D18); without one such a store refuses Cypher. */
  readonly cypherRunner?: CypherRunner;
}

/** The Neo4j server could not be reached, or refused the credentials. */
export class Neo4jConnectionError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'Neo4jConnectionError';
  }
}

/** The URL without any user information, for messages. */
export function safeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const TIMEOUT_CODES = new Set([
  'Neo.ClientError.Transaction.TransactionTimedOut',
  'Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration',
]);

/** A string as an ISO timestamp for the in-memory copy's TIMESTAMP columns, else null. */
function isoOrNull(value: unknown): string | null {
  return typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) ? value : null;
}

/**
 * A value read through the driver as plain JSON: integers as numbers when exact, else decimal
 * strings; nodes, relationships and paths in the Kuzu store's shape (`_id` = element id, `_label`,
 * `_src`, `_dst`, `_nodes`, `_rels`, then the properties); temporal values as ISO-8601 strings;
 * points as {srid, x, y[, z]}; bytes as base64; non-finite numbers as null.
 */
export function fromNeo4jValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    case 'object':
      break;
    default:
      return null;
  }
  if (neo4j.isInt(value)) return value.inSafeRange() ? value.toNumber() : value.toString();
  if (neo4j.isNode(value)) {
    return { _id: value.elementId, _label: value.labels[0] ?? '', ...propertiesJson(value.properties) };
  }
  if (neo4j.isRelationship(value)) {
    return {
      _id: value.elementId,
      _label: value.type,
      _src: value.startNodeElementId,
      _dst: value.endNodeElementId,
      ...propertiesJson(value.properties),
    };
  }
  if (neo4j.isUnboundRelationship(value)) return { _id: value.elementId, _label: value.type, ...propertiesJson(value.properties) };
  if (neo4j.isPath(value)) {
    const nodes = [value.start, ...value.segments.map((s) => s.end)];
    return { _nodes: nodes.map(fromNeo4jValue), _rels: value.segments.map((s) => fromNeo4jValue(s.relationship)) };
  }
  if (
    neo4j.isDate(value) ||
    neo4j.isDateTime(value) ||
    neo4j.isLocalDateTime(value) ||
    neo4j.isTime(value) ||
    neo4j.isLocalTime(value) ||
    neo4j.isDuration(value)
  ) {
    return value.toString();
  }
  if (neo4j.isPoint(value)) {
    const srid = fromNeo4jValue(value.srid);
    return value.z === undefined ? { srid, x: value.x, y: value.y } : { srid, x: value.x, y: value.y, z: value.z };
  }
  if (value instanceof Uint8Array || value instanceof Int8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  if (Array.isArray(value)) return value.map(fromNeo4jValue);
  return propertiesJson(value as Record<string, unknown>);
}

function propertiesJson(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(properties)) out[key] = fromNeo4jValue(item);
  return out;
}

/** Serial queues by key; a key's queue is dropped once it has nothing left to run. */
class KeyedQueue {
  private readonly queues = new Map<string, { mutex: Mutex; pending: number }>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let entry = this.queues.get(key);
    if (!entry) {
      entry = { mutex: new Mutex(), pending: 0 };
      this.queues.set(key, entry);
    }
    const queue = entry;
    queue.pending += 1;
    return queue.mutex.run(task).finally(() => {
      queue.pending -= 1;
      if (queue.pending === 0 && this.queues.get(key) === queue) this.queues.delete(key);
    });
  }

  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.mutex.idle()));
  }
}

type Row = Record<string, unknown>;

export class Neo4jGraphStore implements GraphStore {
  private readonly queues = new KeyedQueue();
  private readonly bookmarks = neo4j.bookmarkManager();
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly driver: Driver,
    private readonly database: string | undefined,
    private readonly singleDataset: boolean,
    private readonly cypherRunner: CypherRunner | undefined,
  ) {}

  /**
   * Connects (checking the credentials: a refusal is a Neo4jConnectionError naming the server and
   * the user, never the password) and makes sure the key constraint and the dataset index exist.
   */
  static async open(options: Neo4jGraphStoreOptions): Promise<Neo4jGraphStore> {
    const { url, username, password } = options;
    if (typeof url !== 'string' || url === '') throw new Error('the Neo4j graph store needs a URL');
    const where = safeUrl(url);
    let driver: Driver;
    try {
      driver = neo4j.driver(url, neo4j.auth.basic(username, password), {
        userAgent: 'engram',
        telemetryDisabled: true,
        maxConnectionPoolSize: options.maxConnectionPoolSize ?? 20,
        connectionTimeout: 15_000,
        connectionAcquisitionTimeout: 60_000,
        maxTransactionRetryTime: 15_000,
      });
    } catch (error) {
      throw new Neo4jConnectionError(`invalid Neo4j URL ${where}: ${error instanceof Error ? error.message : String(error)}`, codeOf(error));
    }
    const store = new Neo4jGraphStore(driver, options.database, options.singleDataset === true, options.cypherRunner);
    try {
      await driver.verifyConnectivity(options.database !== undefined ? { database: options.database } : {});
    } catch (error) {
      await driver.close().catch(() => undefined);
      const code = codeOf(error);
      if (code === 'Neo.ClientError.Security.Unauthorized') {
        throw new Neo4jConnectionError(`the Neo4j server at ${where} refused the credentials of user ${JSON.stringify(username)} (${code})`, code);
      }
      const message = error instanceof Error ? error.message : 'unknown error';
      const reason = typeof password === 'string' && password !== '' ? message.split(password).join('***') : message;
      throw new Neo4jConnectionError(`cannot connect to the Neo4j server at ${where}: ${reason}${code ? ` (${code})` : ''}`, code);
    }
    try {
      for (const statement of SCHEMA) {
        const session = store.session('WRITE');
        try {
          await session.run(statement);
        } finally {
          await session.close();
        }
      }
    } catch (error) {
      await driver.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  async upsertNodes(datasetId: string, nodes: readonly GraphNode[]): Promise<void> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const rows = nodeRows(datasetId, nodes);
    if (rows.size === 0) return;
    const now = new Date().toISOString();
    await this.write(datasetId, async (tx) => {
      for (const batch of chunks([...rows.values()], BATCH)) await tx.run(UPSERT_NODES, { rows: batch, dataset: datasetId, now });
    });
  }

  /**
   * Adds the edges whose two end nodes exist in the dataset (the others are skipped); an edge that
   * exists with the same relationship name between the same nodes is kept once: it takes the new
   * properties, and a new updated_at when they changed (created_at is kept).
   */
  async upsertEdges(datasetId: string, edges: readonly GraphEdge[]): Promise<void> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const rows = edgeRows(datasetId, edges);
    if (rows.size === 0) return;
    const now = new Date().toISOString();
    await this.write(datasetId, async (tx) => {
      for (const batch of chunks([...rows.values()], BATCH)) await tx.run(UPSERT_EDGES, { rows: batch, now });
    });
  }

  async getNodes(datasetId: string, ids: readonly string[]): Promise<GraphNode[]> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const unique = uniqueIds(ids);
    if (unique.length === 0) return [];
    const found = new Map<string, GraphNode>();
    await this.read(datasetId, async (tx) => {
      for (const batch of chunks(unique, BATCH)) {
        const rows = await records(tx, NODES_BY_KEY, { pks: batch.map((id) => pk(datasetId, id)), dataset: datasetId });
        for (const row of rows) found.set(text(row.id), nodeFromRow(row));
      }
    });
    // In the order of `ids`.
    return unique.flatMap((id) => found.get(id) ?? []);
  }

  /** Nodes of one of `types`, by id; all nodes when `types` is omitted, none when it is empty. */
  async nodesOfType(datasetId: string, types?: readonly string[]): Promise<GraphNode[]> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    if (types !== undefined && types.length === 0) return [];
    const rows = await this.read(datasetId, (tx) =>
      types === undefined
        ? records(tx, DATASET_NODES, { dataset: datasetId })
        : records(tx, DATASET_NODES_OF_TYPE, { dataset: datasetId, types: [...new Set(types)] }),
    );
    return rows.map((row) => nodeFromRow(row));
  }

  async getGraph(datasetId: string): Promise<Subgraph> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    return this.read(datasetId, async (tx) => {
      const nodes = await records(tx, DATASET_NODES, { dataset: datasetId });
      const edges = await records(tx, GRAPH_EDGES, { dataset: datasetId });
      return { nodes: nodes.map((row) => nodeFromRow(row)), edges: edges.map(edgeFromRow) };
    });
  }

  async edgesAround(
    datasetId: string,
    nodeIds: readonly string[],
  ): Promise<Array<{ source: GraphNode; edge: GraphEdge; target: GraphNode }>> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const unique = uniqueIds(nodeIds);
    if (unique.length === 0) return [];
    // Outgoing, then incoming edges, each joined on the node keys; an edge between two of the
    // nodes comes back from both and is kept once (source, target and relationship name identify
    // an edge: the store keeps one edge per triple).
    const found = new Map<string, Row>();
    await this.read(datasetId, async (tx) => {
      for (const batch of chunks(unique, BATCH)) {
        const params = { pks: batch.map((id) => pk(datasetId, id)), dataset: datasetId };
        const outgoing = await records(tx, `UNWIND $pks AS k MATCH (a:Node {pk: k})-[e:EDGE]->(b:Node) WHERE b.dataset_id = $dataset RETURN ${AROUND_COLUMNS}`, params);
        const incoming = await records(tx, `UNWIND $pks AS k MATCH (a:Node)-[e:EDGE]->(b:Node {pk: k}) WHERE a.dataset_id = $dataset RETURN ${AROUND_COLUMNS}`, params);
        for (const row of [...outgoing, ...incoming]) found.set(JSON.stringify([row.a_id, row.b_id, row.relationship]), row);
      }
    });
    return [...found.values()].map((row) => {
      const source = nodeFromRow(row, 'a_');
      const target = nodeFromRow(row, 'b_');
      return {
        source,
        edge: { source: source.id, target: target.id, relationship: text(row.relationship), properties: parseProperties(row.properties) },
        target,
      };
    });
  }

  async deleteNodes(datasetId: string, ids: readonly string[]): Promise<void> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const unique = uniqueIds(ids);
    if (unique.length === 0) return;
    await this.write(datasetId, async (tx) => {
      for (const batch of chunks(unique, BATCH)) {
        await tx.run(DELETE_NODES_BY_KEY, { pks: batch.map((id) => pk(datasetId, id)), dataset: datasetId });
      }
    });
  }

  /** Removes the dataset's nodes and edges, DELETE_BATCH nodes per transaction. */
  async deleteDataset(datasetId: string): Promise<void> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    await this.queues.run(datasetId, async () => {
      for (;;) {
        const session = this.session('WRITE');
        let removed = 0;
        try {
          removed = await session.executeWrite(async (tx) => {
            const [row] = await records(
              tx,
              'MATCH (n:Node) WHERE n.dataset_id = $dataset WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS c',
              { dataset: datasetId, batch: neo4j.int(DELETE_BATCH) },
            );
            return Number(fromNeo4jValue(row?.c) ?? 0);
          });
        } finally {
          await session.close();
        }
        if (removed < DELETE_BATCH) return;
      }
    });
  }

  async counts(datasetId: string): Promise<{ nodes: number; edges: number }> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    return this.read(datasetId, async (tx) => {
      const [nodes] = await records(tx, COUNT_NODES, { dataset: datasetId });
      const [edges] = await records(tx, COUNT_EDGES, { dataset: datasetId });
      return { nodes: Number(fromNeo4jValue(nodes?.c) ?? 0), edges: Number(fromNeo4jValue(edges?.c) ?? 0) };
    });
  }

  /**
   * Runs a read-only Cypher query (already checked by the Cypher gate) over the dataset only,
   * within the limits; a query past its time limit fails with GraphQueryTimeoutError. In shared
   * mode the query runs in the store's `cypherRunner` (the sandbox) and
   * `timeoutMs` bounds the wait for a sandbox and the query on the dataset copy, not the copy itself.
   */
  async cypher(datasetId: string, query: string, limits: CypherLimits): Promise<Record<string, unknown>[]> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const { timeoutMs, maxRows } = cypherLimitsOf(query, limits);
    if (this.singleDataset) return this.queues.run(datasetId, () => this.cypherOnServer(query, timeoutMs, maxRows));
    const runner = requireCypherRunner(this.cypherRunner);
    const { nodes, edges } = await this.read(datasetId, async (tx) => ({
      nodes: await records(tx, COPY_NODE_ROWS, { dataset: datasetId }),
      edges: await records(tx, COPY_EDGE_ROWS, { dataset: datasetId }),
    }));
    const nodeRows: CopyNodeRow[] = nodes.map((r) => ({
      pk: text(r.pk),
      id: text(r.id),
      dataset_id: text(r.dataset_id),
      name: text(r.name),
      type: text(r.type),
      properties: typeof r.properties === 'string' ? r.properties : '{}',
      created_at: isoOrNull(r.created_at),
      updated_at: isoOrNull(r.updated_at),
    }));
    const edgeRows: CopyEdgeRow[] = edges.map((r) => ({
      source: text(r.source),
      target: text(r.target),
      relationship_name: text(r.relationship_name),
      properties: typeof r.properties === 'string' ? r.properties : '{}',
      created_at: isoOrNull(r.created_at),
      updated_at: isoOrNull(r.updated_at),
    }));
    return runner.run({ nodes: nodeRows, edges: edgeRows }, query, { timeoutMs, maxRows });
  }

  /** Closes the store once every call under way has finished; later calls fail. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        await this.queues.idle();
        await this.driver.close();
      })();
    }
    return this.closing;
  }

  /** The query on the server, in a read transaction with the time limit, at most maxRows rows. */
  private async cypherOnServer(query: string, timeoutMs: number, maxRows: number): Promise<Record<string, unknown>[]> {
    const session = this.driver.session({
      defaultAccessMode: neo4j.session.READ,
      bookmarkManager: this.bookmarks,
      fetchSize: Math.max(1, Math.min(maxRows, FETCH_SIZE)),
      ...(this.database !== undefined ? { database: this.database } : {}),
    });
    try {
      return await session.executeRead(
        async (tx) => {
          const result = tx.run(query);
          const rows: Record<string, unknown>[] = [];
          if (maxRows === 0) {
            await result.summary();
            return rows;
          }
          for await (const record of result) {
            rows.push(fromNeo4jValue(record.toObject()) as Record<string, unknown>);
            if (rows.length >= maxRows) break;
          }
          return rows;
        },
        { timeout: Math.max(1, Math.ceil(timeoutMs)) },
      );
    } catch (error) {
      if (TIMEOUT_CODES.has(codeOf(error) ?? '')) throw new GraphQueryTimeoutError(timeoutMs);
      throw error;
    } finally {
      await session.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the Neo4j graph store is closed');
  }

  private session(mode: 'READ' | 'WRITE'): Session {
    return this.driver.session({
      defaultAccessMode: mode === 'READ' ? neo4j.session.READ : neo4j.session.WRITE,
      bookmarkManager: this.bookmarks,
      ...(this.database !== undefined ? { database: this.database } : {}),
    });
  }

  /** Runs `task` in the dataset's queue, in one read transaction. */
  private read<T>(datasetId: string, task: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.queues.run(datasetId, async () => {
      const session = this.session('READ');
      try {
        return await session.executeRead(task);
      } finally {
        await session.close();
      }
    });
  }

  /** Runs `task` in the dataset's queue, in one write transaction: its writes are all kept, or none. */
  private write(datasetId: string, task: (tx: ManagedTransaction) => Promise<void>): Promise<void> {
    return this.queues.run(datasetId, async () => {
      const session = this.session('WRITE');
      try {
        await session.executeWrite(task);
      } finally {
        await session.close();
      }
    });
  }
}

/** Every record of one statement, as objects keyed by column. */
async function records(tx: ManagedTransaction, statement: string, params: Record<string, unknown>): Promise<Row[]> {
  const result = await tx.run(statement, params);
  return result.records.map((record) => record.toObject() as Row);
}
