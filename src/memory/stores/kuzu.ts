/**
 * The embedded graph store: a Kuzu database file (the default graph backend).
 *
 * Schema (the reference's Kuzu adapter, plus the dataset columns, so Cypher written for the
 * reference's graph runs unchanged):
 *
 *   Node(pk STRING PRIMARY KEY, id STRING, dataset_id STRING, name STRING, type STRING,
 *        properties STRING -- JSON, created_at TIMESTAMP, updated_at TIMESTAMP)
 *   EDGE(FROM Node TO Node, relationship_name STRING, properties STRING -- JSON,
 *        created_at TIMESTAMP, updated_at TIMESTAMP)
 *
 * `pk` is `dataset_id + ':' + id`, so one database file can hold several datasets (single-user
 * mode) with the same node ids; every method filters on the dataset and never sees another
 * dataset's nodes or edges. Edges always join two nodes of the same dataset.
 *
 * Cypher queries never run in this process, nor on the file: the dataset's subgraph is read
 * (every column, in the queue), then handed to a sandbox process (`../cypher-sandbox.ts`) that
 * copies it into a fresh in-memory Kuzu database with the same schema (`openDatasetCopy`) and runs
 * the query there as a single prepared statement inside a read-only transaction (`runReadOnly`),
 * reading at most `maxRows` rows. The sandbox is killed when it exceeds its time, memory or answer
 * size limit, so a query can neither see another dataset nor stall or exhaust the server; the
 * dataset's connection is held only while its subgraph is read. Stores opened with
 * `singleDataset: true` (their file holds one dataset only) run Cypher the same way.
 *
 * Every use of the file database goes through one serial queue (the Node.js binding does not
 * document concurrent use of a connection as safe, and a manual transaction needs the connection
 * to itself), and each call's writes run in one transaction: all of them are kept, or none.
 *
 * Kuzu turns a JavaScript Date parameter into a DATE (the time of day is lost), so timestamps are
 * sent as ISO strings and converted with `timestamp(...)` in Cypher.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import kuzu from 'kuzu';
import { defaultCypherSandbox } from '../cypher-sandbox.js';
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
  assertDatasetId,
  checkCypher,
  chunks,
  edgeFromRow,
  edgeKey,
  edgeRows,
  nodeFromRow,
  nodeRows,
  parseProperties,
  pk,
  text,
  uniqueIds,
} from './common.js';
import type { Connection, Database, KuzuValue, QueryResult } from 'kuzu';
import type { CypherLimits, GraphEdge, GraphNode, GraphStore, Subgraph } from './types.js';

export { GraphQueryTimeoutError } from './common.js';

/** Rows (or ids) per UNWIND statement. */
const BATCH = 1000;
/** Rows per statement filling the in-memory database of a Cypher query. */
const COPY_BATCH = 5000;
/** Result rows read synchronously between two yields to the event loop. */
const READ_CHUNK = 1000;

const SCHEMA = [
  'CREATE NODE TABLE IF NOT EXISTS Node(pk STRING PRIMARY KEY, id STRING, dataset_id STRING, name STRING, type STRING, properties STRING, created_at TIMESTAMP, updated_at TIMESTAMP)',
  'CREATE REL TABLE IF NOT EXISTS EDGE(FROM Node TO Node, relationship_name STRING, properties STRING, created_at TIMESTAMP, updated_at TIMESTAMP)',
];

/*
 * How Kuzu 0.11 plans these statements, as measured (10,000 to 100,000 nodes):
 * - `MATCH (n:Node {pk: k})` where k is an UNWIND element, or a value projected with WITH before
 *   the MATCH, is a hash join on the primary key: milliseconds per thousand rows;
 * - two nodes matched by key in one MATCH clause, a key read from a struct or list inside the
 *   pattern, or a MERGE of an edge between two nodes matched by key, become a cross product of
 *   node scans: seconds per thousand rows on 10,000 nodes, and the buffer pool runs out on more;
 * - a list of structs as a parameter costs about 45 µs per row to pass, parallel lists of
 *   scalars (one list per column, read by position) about 20 times less.
 * So every batch is sent as parallel lists, keys are projected with WITH before they are
 * matched, the two ends of an edge are matched in two MATCH clauses, and upserts look the keys
 * up first, then CREATE what is new and SET what exists.
 * COPY ... FROM (subquery) is faster still but is not used: rolling back a transaction that
 * copied edges into a non-empty table lost edges committed before it, and crashed the process.
 */

/** The keys of `pks` that exist. */
const EXISTING_NODES = 'UNWIND $pks AS k MATCH (n:Node {pk: k}) RETURN n.pk AS pk';

const INSERT_NODES = `
  UNWIND range(1, size($pk)) AS i
  WITH i, $pk AS pk, $id AS id, $name AS name, $type AS type, $properties AS properties
  CREATE (:Node {pk: pk[i], id: id[i], dataset_id: $dataset, name: name[i], type: type[i], properties: properties[i],
                 created_at: timestamp($now), updated_at: timestamp($now)})`;

/** created_at is kept. */
const UPDATE_NODES = `
  UNWIND range(1, size($pk)) AS i
  WITH i, $pk AS pk, $name AS name, $type AS type, $properties AS properties
  WITH pk[i] AS k, name[i] AS name, type[i] AS type, properties[i] AS properties
  MATCH (n:Node {pk: k})
  SET n.name = name, n.type = type, n.properties = properties, n.updated_at = timestamp($now)`;

/** Every edge leaving one of `pks`. */
const EDGES_FROM = `
  UNWIND $pks AS k
  MATCH (a:Node {pk: k})-[e:EDGE]->(b:Node)
  RETURN a.pk AS source, b.pk AS target, e.relationship_name AS relationship, e.properties AS properties`;

/** An edge whose end nodes do not both exist is not created (its MATCH finds nothing). */
const INSERT_EDGES = `
  UNWIND range(1, size($source)) AS i
  WITH i, $source AS source, $target AS target, $relationship AS relationship, $properties AS properties
  WITH source[i] AS s, target[i] AS t, relationship[i] AS relationship, properties[i] AS properties
  MATCH (a:Node {pk: s})
  WITH a, t, relationship, properties
  MATCH (b:Node {pk: t})
  CREATE (a)-[:EDGE {relationship_name: relationship, properties: properties,
                     created_at: timestamp($now), updated_at: timestamp($now)}]->(b)`;

/** created_at is kept. */
const UPDATE_EDGES = `
  UNWIND range(1, size($source)) AS i
  WITH i, $source AS source, $target AS target, $relationship AS relationship, $properties AS properties
  WITH source[i] AS s, target[i] AS t, relationship[i] AS relationship, properties[i] AS properties
  MATCH (a:Node {pk: s})-[e:EDGE]->(b:Node)
  WHERE b.pk = t AND e.relationship_name = relationship
  SET e.properties = properties, e.updated_at = timestamp($now)`;

/** Fills the in-memory database of a Cypher query: every column as stored. */
const COPY_NODES = `
  UNWIND range(1, size($pk)) AS i
  WITH i, $pk AS pk, $id AS id, $dataset_id AS dataset_id, $name AS name, $type AS type, $properties AS properties,
       $created_at AS created_at, $updated_at AS updated_at
  CREATE (:Node {pk: pk[i], id: id[i], dataset_id: dataset_id[i], name: name[i], type: type[i], properties: properties[i],
                 created_at: timestamp(created_at[i]), updated_at: timestamp(updated_at[i])})`;

const COPY_EDGES = `
  UNWIND range(1, size($source)) AS i
  WITH i, $source AS source, $target AS target, $relationship_name AS relationship_name, $properties AS properties,
       $created_at AS created_at, $updated_at AS updated_at
  WITH source[i] AS s, target[i] AS t, relationship_name[i] AS relationship_name, properties[i] AS properties,
       timestamp(created_at[i]) AS created_at, timestamp(updated_at[i]) AS updated_at
  MATCH (a:Node {pk: s})
  WITH a, t, relationship_name, properties, created_at, updated_at
  MATCH (b:Node {pk: t})
  CREATE (a)-[:EDGE {relationship_name: relationship_name, properties: properties,
                     created_at: created_at, updated_at: updated_at}]->(b)`;

export interface KuzuGraphStoreOptions {
  /**
   * The database holds one dataset only (the caller guarantees it). Cypher queries run in the
   * sandbox on a copy of the dataset either way.
   */
  readonly singleDataset?: boolean;
}

type Row = Record<string, KuzuValue>;
type Params = Record<string, KuzuValue>;

function yieldToEventLoop(): Promise<void> {
  return new Promise((done) => setImmediate(done));
}

function closeAll(result: QueryResult | QueryResult[]): void {
  for (const each of Array.isArray(result) ? result : [result]) {
    try {
      each.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Reads at most `max` rows of `result`, synchronously in chunks (an asynchronous read costs a
 * thread-pool round trip per row, about ten times slower), yielding to the event loop between
 * chunks; `deadline` is called between chunks and throws to stop a long read.
 */
async function readRows(result: QueryResult, max = Number.POSITIVE_INFINITY, deadline?: () => void): Promise<Row[]> {
  const rows: Row[] = [];
  while (rows.length < max && result.hasNext()) {
    const row = result.getNextSync();
    if (row === null) break;
    rows.push(row);
    if (rows.length % READ_CHUNK === 0) {
      deadline?.();
      await yieldToEventLoop();
    }
  }
  return rows;
}

/** A node from a Kuzu node value (`RETURN n`). */
function nodeOf(value: KuzuValue | undefined): GraphNode {
  return nodeFromRow((value ?? {}) as Row);
}

function timestampParam(value: KuzuValue | undefined): string | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : null;
}

/**
 * A Kuzu result value as plain JSON: BigInt as a number when it is exact, else as a decimal
 * string; Date as an ISO string; bytes (BLOB) as base64; non-finite numbers as null. Nodes and
 * relationships keep Kuzu's shape (`_id`, `_label`, `_src`, `_dst` and their properties).
 */
export function toJsonValue(value: unknown): unknown {
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
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = toJsonValue(item);
  return out;
}

export class KuzuGraphStore implements GraphStore {
  /** Every use of the connection, in call order. */
  private readonly queue = new Mutex();
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly db: Database,
    private readonly conn: Connection,
  ) {}

  /**
   * Opens (creating it and its parent directory when missing) the Kuzu database file `path`,
   * e.g. `<root>/databases/<owner>/<dataset>.kuzu`.
   */
  static async open(path: string, options: KuzuGraphStoreOptions = {}): Promise<KuzuGraphStore> {
    if (typeof path !== 'string' || path === '' || path === ':memory:') {
      throw new Error(`invalid Kuzu database path: ${JSON.stringify(path)}`);
    }
    const file = resolve(path);
    await mkdir(dirname(file), { recursive: true });
    return KuzuGraphStore.start(new kuzu.Database(file), options);
  }

  /** A store on a new, empty in-memory database (gone once closed). */
  static async openInMemory(options: KuzuGraphStoreOptions = {}): Promise<KuzuGraphStore> {
    return KuzuGraphStore.start(new kuzu.Database(':memory:'), options);
  }

  // `options.singleDataset` changes nothing today: Cypher runs on a copy of the dataset either way.
  private static async start(db: Database, _options: KuzuGraphStoreOptions): Promise<KuzuGraphStore> {
    const conn = new kuzu.Connection(db);
    try {
      await db.init();
      await conn.init();
      for (const statement of SCHEMA) await run(conn, statement);
    } catch (error) {
      await conn.close().catch(() => undefined);
      await db.close().catch(() => undefined);
      throw error;
    }
    return new KuzuGraphStore(db, conn);
  }

  async upsertNodes(datasetId: string, nodes: readonly GraphNode[]): Promise<void> {
    this.assertOpen();
    assertDatasetId(datasetId);
    const rows = nodeRows(datasetId, nodes);
    if (rows.size === 0) return;
    const now = new Date().toISOString();
    await this.write(async () => {
      const present = await this.existingNodes([...rows.keys()]);
      const fresh = [...rows.values()].filter((row) => !present.has(row.pk));
      const old = [...rows.values()].filter((row) => present.has(row.pk));
      await executeBatches(
        this.conn,
        INSERT_NODES,
        chunks(fresh, BATCH).map((batch) => ({ ...columns(batch, ['pk', 'id', 'name', 'type', 'properties']), dataset: datasetId, now })),
      );
      await executeBatches(
        this.conn,
        UPDATE_NODES,
        chunks(old, BATCH).map((batch) => ({ ...columns(batch, ['pk', 'name', 'type', 'properties']), now })),
      );
    });
  }

  /**
   * Adds the edges whose two end nodes exist in the dataset (the others are skipped); an edge
   * that exists with the same relationship name between the same nodes is kept once: it takes
   * the new properties and updated_at when its properties change (created_at is kept).
   */
  async upsertEdges(datasetId: string, edges: readonly GraphEdge[]): Promise<void> {
    this.assertOpen();
    assertDatasetId(datasetId);
    const rows = edgeRows(datasetId, edges);
    if (rows.size === 0) return;
    const now = new Date().toISOString();
    await this.write(async () => {
      const wanted = [...rows.values()];
      // The properties of the edges that exist, by edge.
      const existing = new Map<string, string>();
      for (const pks of chunks([...new Set(wanted.map((row) => row.source))], BATCH)) {
        for (const row of await readAll(this.conn, EDGES_FROM, { pks })) {
          existing.set(edgeKey({ source: text(row.source), target: text(row.target), relationship: text(row.relationship) }), text(row.properties));
        }
      }
      const fresh = wanted.filter((row) => !existing.has(edgeKey(row)));
      // An edge whose properties are unchanged is left as it is.
      const changed = wanted.filter((row) => {
        const properties = existing.get(edgeKey(row));
        return properties !== undefined && properties !== row.properties;
      });
      await executeBatches(
        this.conn,
        INSERT_EDGES,
        chunks(fresh, BATCH).map((batch) => ({ ...columns(batch, ['source', 'target', 'relationship', 'properties']), now })),
      );
      await executeBatches(
        this.conn,
        UPDATE_EDGES,
        chunks(changed, BATCH).map((batch) => ({ ...columns(batch, ['source', 'target', 'relationship', 'properties']), now })),
      );
    });
  }

  async getNodes(datasetId: string, ids: readonly string[]): Promise<GraphNode[]> {
    this.assertOpen();
    assertDatasetId(datasetId);
    const unique = uniqueIds(ids);
    if (unique.length === 0) return [];
    const found = new Map<string, GraphNode>();
    await this.queue.run(async () => {
      for (const batch of chunks(unique, BATCH)) {
        const rows = await this.read(NODES_BY_KEY, { pks: batch.map((id) => pk(datasetId, id)), dataset: datasetId });
        for (const row of rows) found.set(text(row.id), nodeFromRow(row));
      }
    });
    // In the order of `ids`.
    return unique.flatMap((id) => found.get(id) ?? []);
  }

  /** Nodes of one of `types`, by id; all nodes when `types` is omitted, none when it is empty. */
  async nodesOfType(datasetId: string, types?: readonly string[]): Promise<GraphNode[]> {
    this.assertOpen();
    assertDatasetId(datasetId);
    if (types !== undefined && types.length === 0) return [];
    const rows = await this.queue.run(() =>
      types === undefined
        ? this.read(DATASET_NODES, { dataset: datasetId })
        : this.read(DATASET_NODES_OF_TYPE, { dataset: datasetId, types: [...new Set(types)] }),
    );
    return rows.map((row) => nodeFromRow(row));
  }

  async getGraph(datasetId: string): Promise<Subgraph> {
    this.assertOpen();
    assertDatasetId(datasetId);
    return this.queue.run(async () => {
      const nodes = await this.read(DATASET_NODES, { dataset: datasetId });
      const edges = await this.read(GRAPH_EDGES, { dataset: datasetId });
      return { nodes: nodes.map((row) => nodeFromRow(row)), edges: edges.map(edgeFromRow) };
    });
  }

  async edgesAround(
    datasetId: string,
    nodeIds: readonly string[],
  ): Promise<Array<{ source: GraphNode; edge: GraphEdge; target: GraphNode }>> {
    this.assertOpen();
    assertDatasetId(datasetId);
    const unique = uniqueIds(nodeIds);
    if (unique.length === 0) return [];
    const returned = 'ID(e) AS eid, a AS a, e.relationship_name AS relationship, e.properties AS properties, b AS b';
    // Outgoing, then incoming edges, each joined on the node keys; an edge between two of the
    // nodes comes back from both and is kept once (by its internal id).
    const found = new Map<string, Row>();
    await this.queue.run(async () => {
      for (const batch of chunks(unique, BATCH)) {
        const params = { pks: batch.map((id) => pk(datasetId, id)), dataset: datasetId };
        const outgoing = await this.read(
          `UNWIND $pks AS k MATCH (a:Node {pk: k})-[e:EDGE]->(b:Node) WHERE b.dataset_id = $dataset RETURN ${returned}`,
          params,
        );
        const incoming = await this.read(
          `UNWIND $pks AS k MATCH (a:Node)-[e:EDGE]->(b:Node {pk: k}) WHERE a.dataset_id = $dataset RETURN ${returned}`,
          params,
        );
        for (const row of [...outgoing, ...incoming]) found.set(JSON.stringify(toJsonValue(row.eid)), row);
      }
    });
    return [...found.values()].map((row) => {
      const source = nodeOf(row.a);
      const target = nodeOf(row.b);
      return {
        source,
        edge: { source: source.id, target: target.id, relationship: text(row.relationship), properties: parseProperties(row.properties) },
        target,
      };
    });
  }

  async deleteNodes(datasetId: string, ids: readonly string[]): Promise<void> {
    this.assertOpen();
    assertDatasetId(datasetId);
    const unique = uniqueIds(ids);
    if (unique.length === 0) return;
    await this.write(() =>
      executeBatches(
        this.conn,
        DELETE_NODES_BY_KEY,
        chunks(unique.map((id) => pk(datasetId, id)), BATCH).map((pks) => ({ pks, dataset: datasetId })),
      ),
    );
  }

  async deleteDataset(datasetId: string): Promise<void> {
    this.assertOpen();
    assertDatasetId(datasetId);
    await this.write(async () => {
      await this.read('MATCH (n:Node) WHERE n.dataset_id = $dataset DETACH DELETE n', { dataset: datasetId });
    });
  }

  async counts(datasetId: string): Promise<{ nodes: number; edges: number }> {
    this.assertOpen();
    assertDatasetId(datasetId);
    return this.queue.run(async () => {
      const [nodes] = await this.read(COUNT_NODES, { dataset: datasetId });
      const [edges] = await this.read(COUNT_EDGES, { dataset: datasetId });
      return { nodes: Number(nodes?.c ?? 0), edges: Number(edges?.c ?? 0) };
    });
  }

  /**
   * Runs a read-only Cypher query over the dataset only, in a sandbox process (`limits.sandbox`,
   * else the process-wide default one). `timeoutMs` bounds the wait for a sandbox, the query and
   * the reading of its rows (not the reading and copying of the dataset); a query past it fails
   * with GraphQueryTimeoutError, one past the sandbox's memory or answer size limit with
   * GraphQueryMemoryError or GraphQueryAnswerTooLargeError. The query must be a single statement.
   */
  async cypher(datasetId: string, query: string, limits: CypherLimits): Promise<Record<string, unknown>[]> {
    this.assertOpen();
    assertDatasetId(datasetId);
    const { timeoutMs, maxRows } = checkCypher(query, limits);
    const graph = await this.queue.run(() => this.copyRows(datasetId));
    return (limits.sandbox ?? defaultCypherSandbox()).run(graph, query, { timeoutMs, maxRows });
  }

  /** Closes the store once every call under way has finished; later calls fail. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = (async () => {
        await this.queue.idle();
        await this.conn.close();
        await this.db.close();
      })();
    }
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the Kuzu graph store is closed');
  }

  /** The dataset's subgraph with every column, as a dataset copy takes it (call it within the queue). */
  private async copyRows(datasetId: string): Promise<{ nodes: CopyNodeRow[]; edges: CopyEdgeRow[] }> {
    const nodes = await this.read(COPY_NODE_ROWS, { dataset: datasetId });
    const edges = await this.read(COPY_EDGE_ROWS, { dataset: datasetId });
    return { nodes: nodes.map(copyRow) as unknown as CopyNodeRow[], edges: edges.map(copyRow) as unknown as CopyEdgeRow[] };
  }

  /** The keys among `pks` that exist (call it within the queue). */
  private async existingNodes(pks: readonly string[]): Promise<Set<string>> {
    const present = new Set<string>();
    for (const batch of chunks(pks, BATCH)) {
      for (const row of await readAll(this.conn, EXISTING_NODES, { pks: batch })) present.add(text(row.pk));
    }
    return present;
  }

  /** Runs one statement on the store's connection and reads every row (call it within the queue). */
  private read(statement: string, params: Params): Promise<Row[]> {
    return readAll(this.conn, statement, params);
  }

  /** Runs `task` in the queue and in one transaction. */
  private write(task: () => Promise<void>): Promise<void> {
    return this.queue.run(() => transaction(this.conn, task));
  }
}

/** Rows as parallel lists, one per column (far cheaper to pass to Kuzu than a list of structs). */
function columns<T extends object, K extends keyof T & string>(rows: readonly T[], keys: readonly K[]): Record<K, KuzuValue[]> {
  const out = {} as Record<K, KuzuValue[]>;
  for (const key of keys) out[key] = rows.map((row) => (row[key] ?? null) as KuzuValue);
  return out;
}

/** A row read from the store, to copy: timestamps as ISO strings (Kuzu reads a Date parameter as a DATE). */
function copyRow(row: Row): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) out[key] = value instanceof Date ? timestampParam(value) : (value ?? null);
  return out;
}

/** A node row of a dataset copy: every column of the schema, timestamps as ISO strings (or null). */
export interface CopyNodeRow {
  pk: string;
  id: string;
  dataset_id: string;
  name: string;
  type: string;
  /** JSON */
  properties: string;
  created_at: string | null;
  updated_at: string | null;
}

/** An edge row of a dataset copy: `source` and `target` are node keys (`pk`). */
export interface CopyEdgeRow {
  source: string;
  target: string;
  relationship_name: string;
  /** JSON */
  properties: string;
  created_at: string | null;
  updated_at: string | null;
}

/** Resources of a dataset copy; Kuzu's defaults when omitted (a buffer pool of 80% of the RAM). */
export interface DatasetCopyOptions {
  /** The in-memory database's buffer pool, which holds its data. */
  readonly bufferPoolBytes?: number;
  /** Threads a query on the copy may use. */
  readonly threads?: number;
}

/**
 * A fresh in-memory Kuzu database with the store's schema, holding exactly `nodes` and `edges`
 * (one dataset's graph): Cypher run there can see nothing else. The Cypher sandbox process runs
 * user queries on it. The caller closes `conn`, then `db`.
 */
export async function openDatasetCopy(
  nodes: readonly CopyNodeRow[],
  edges: readonly CopyEdgeRow[],
  options: DatasetCopyOptions = {},
): Promise<{ db: Database; conn: Connection }> {
  const db = new kuzu.Database(':memory:', options.bufferPoolBytes ?? 0);
  const conn = options.threads !== undefined ? new kuzu.Connection(db, options.threads) : new kuzu.Connection(db);
  try {
    for (const statement of SCHEMA) await run(conn, statement);
    const nodeColumns = ['pk', 'id', 'dataset_id', 'name', 'type', 'properties', 'created_at', 'updated_at'] as const;
    const edgeColumns = ['source', 'target', 'relationship_name', 'properties', 'created_at', 'updated_at'] as const;
    await executeBatches(conn, COPY_NODES, chunks(nodes, COPY_BATCH).map((batch) => columns(batch, nodeColumns)));
    await executeBatches(conn, COPY_EDGES, chunks(edges, COPY_BATCH).map((batch) => columns(batch, edgeColumns)));
  } catch (error) {
    await conn.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  }
  return { db, conn };
}

/** Runs one statement with parameters and reads every row of its (last) result. */
async function readAll(conn: Connection, statement: string, params: Params): Promise<Row[]> {
  const prepared = await conn.prepare(statement);
  const result = await conn.execute(prepared, params);
  try {
    return await readRows(Array.isArray(result) ? result[result.length - 1]! : result);
  } finally {
    closeAll(result);
  }
}

/** Runs a statement without parameters, closing its result(s). */
async function run(conn: Connection, statement: string): Promise<void> {
  closeAll(await conn.query(statement));
}

/** Runs a prepared statement once per parameter set. */
async function executeBatches(conn: Connection, statement: string, params: Params[]): Promise<void> {
  if (params.length === 0) return;
  const prepared = await conn.prepare(statement);
  for (const each of params) closeAll(await conn.execute(prepared, each));
}

/** Runs `task` in a read-write transaction: its writes are all kept, or none. */
async function transaction<T>(conn: Connection, task: () => Promise<T>): Promise<T> {
  await run(conn, 'BEGIN TRANSACTION');
  let result: T;
  try {
    result = await task();
  } catch (error) {
    // A failed statement already ends the transaction; the rollback is then refused.
    await run(conn, 'ROLLBACK').catch(() => undefined);
    throw error;
  }
  await run(conn, 'COMMIT');
  return result;
}

/**
 * Runs `query`, a single statement, on `conn` inside a read-only transaction with the time
 * limit, and reads at most `maxRows` rows of its result as plain JSON. The query is prepared,
 * and Kuzu prepares one statement only: a query cannot end the read-only transaction and then
 * write.
 */
export async function runReadOnly(conn: Connection, query: string, timeoutMs: number, maxRows: number): Promise<Record<string, unknown>[]> {
  const started = Date.now();
  const deadline = (): void => {
    if (Date.now() - started > timeoutMs) throw new GraphQueryTimeoutError(timeoutMs);
  };
  conn.setQueryTimeout(Math.max(1, Math.ceil(timeoutMs)));
  await run(conn, 'BEGIN TRANSACTION READ ONLY');
  let result: QueryResult | QueryResult[] | undefined;
  try {
    try {
      result = await conn.execute(await conn.prepare(query), {});
    } catch (error) {
      if (error instanceof Error && /interrupt/i.test(error.message)) throw new GraphQueryTimeoutError(timeoutMs);
      throw error;
    }
    const first = Array.isArray(result) ? result[0] : result;
    const rows = first ? await readRows(first, maxRows, deadline) : [];
    return rows.map((row) => toJsonValue(row) as Record<string, unknown>);
  } finally {
    if (result) closeAll(result);
    // A failed query already ends the transaction; the commit is then refused.
    await run(conn, 'COMMIT').catch(() => undefined);
  }
}
