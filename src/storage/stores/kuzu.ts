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
 * (every column, in the queue), then handed to the store's `CypherRunner`, a sandbox process (`../cypher-sandbox/`), that
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
import {
  COPY_EDGE_ROWS,
  COPY_NODE_ROWS,
  COUNT_EDGES,
  COUNT_NODES,
  DATASET_NODES,
  DATASET_NODES_OF_TYPE,
  DELETE_NODES_BY_KEY,
  GRAPH_EDGES,
  Mutex,
  NODES_BY_KEY,
  assertKeyableDatasetId,
  cypherLimitsOf,
  requireCypherRunner,
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
import type { Connection, Database, KuzuValue } from 'kuzu';
import { SCHEMA, columns, copyRow, executeBatches, readAll, run, toJsonValue, transaction, type Params, type Row } from './kuzu-connection.js';
import { EDGES_FROM, EXISTING_NODES, INSERT_EDGES, INSERT_NODES, UPDATE_EDGES, UPDATE_NODES } from './kuzu-statements.js';
import type { CopyEdgeRow, CopyNodeRow, CypherLimits, CypherRunner, GraphEdge, GraphNode, GraphStore, Subgraph } from '../types.js';

export { GraphQueryTimeoutError } from './common.js';
export { toJsonValue } from './kuzu-connection.js';

/** Rows (or ids) per UNWIND statement. */
const BATCH = 1000;

export interface KuzuGraphStoreOptions {
  /**
   * The database holds one dataset only (the caller guarantees it). Cypher queries run in the
   * sandbox on a copy of the dataset either way.
   */
  readonly singleDataset?: boolean;
  /** Where user Cypher runs (D18); a store opened without one refuses Cypher. */
  readonly cypherRunner?: CypherRunner;
  /**
   * The database's buffer pool (bytes), reserved when it opens; Kuzu's default is 80% of the
   * machine's memory, for every database.
   */
  readonly bufferPoolBytes?: number;
  /**
   * The largest the database may grow (bytes, a power of 2): the address space it reserves when it
   * opens. Kuzu's default, 8 TiB, lets only about ten databases open in one process.
   */
  readonly maxDbBytes?: number;
}

/** A node from a Kuzu node value (`RETURN n`). */
function nodeOf(value: KuzuValue | undefined): GraphNode {
  return nodeFromRow((value ?? {}) as Row);
}

export class KuzuGraphStore implements GraphStore {
  /** Every use of the connection, in call order. */
  private readonly queue = new Mutex();
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly db: Database,
    private readonly conn: Connection,
    private readonly cypherRunner: CypherRunner | undefined,
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
    return KuzuGraphStore.start(new kuzu.Database(file, options.bufferPoolBytes ?? 0, true, false, options.maxDbBytes ?? 0), options);
  }

  /** A store on a new, empty in-memory database (gone once closed). */
  static async openInMemory(options: KuzuGraphStoreOptions = {}): Promise<KuzuGraphStore> {
    return KuzuGraphStore.start(new kuzu.Database(':memory:'), options);
  }

  // `options.singleDataset` changes nothing today: Cypher runs on a copy of the dataset either way.
  private static async start(db: Database, options: KuzuGraphStoreOptions): Promise<KuzuGraphStore> {
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
    return new KuzuGraphStore(db, conn, options.cypherRunner);
  }

  async upsertNodes(datasetId: string, nodes: readonly GraphNode[]): Promise<void> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
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
    assertKeyableDatasetId(datasetId);
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
    assertKeyableDatasetId(datasetId);
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
    assertKeyableDatasetId(datasetId);
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
    assertKeyableDatasetId(datasetId);
    return this.queue.run(async () => {
      const nodes = await this.read(DATASET_NODES, { dataset: datasetId });
      const edges = await this.read(GRAPH_EDGES, { dataset: datasetId });
      return { nodes: nodes.map((row) => nodeFromRow(row)), edges: edges.map(edgeFromRow) };
    });
  }

  async edgesAround(datasetId: string, nodeIds: readonly string[]): Promise<Array<{ source: GraphNode; edge: GraphEdge; target: GraphNode }>> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const unique = uniqueIds(nodeIds);
    if (unique.length === 0) return [];
    const returned = 'ID(e) AS eid, a AS a, e.relationship_name AS relationship, e.properties AS properties, b AS b';
    // Outgoing, then incoming edges, each joined on the node keys; an edge between two of the
    // nodes comes back from both and is kept once (by its internal id).
    const found = new Map<string, Row>();
    await this.queue.run(async () => {
      for (const batch of chunks(unique, BATCH)) {
        const params = { pks: batch.map((id) => pk(datasetId, id)), dataset: datasetId };
        const outgoing = await this.read(`UNWIND $pks AS k MATCH (a:Node {pk: k})-[e:EDGE]->(b:Node) WHERE b.dataset_id = $dataset RETURN ${returned}`, params);
        const incoming = await this.read(`UNWIND $pks AS k MATCH (a:Node)-[e:EDGE]->(b:Node {pk: k}) WHERE a.dataset_id = $dataset RETURN ${returned}`, params);
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
    assertKeyableDatasetId(datasetId);
    const unique = uniqueIds(ids);
    if (unique.length === 0) return;
    await this.write(() =>
      executeBatches(
        this.conn,
        DELETE_NODES_BY_KEY,
        chunks(
          unique.map((id) => pk(datasetId, id)),
          BATCH,
        ).map((pks) => ({ pks, dataset: datasetId })),
      ),
    );
  }

  async deleteDataset(datasetId: string): Promise<void> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    await this.write(async () => {
      await this.read('MATCH (n:Node) WHERE n.dataset_id = $dataset DETACH DELETE n', { dataset: datasetId });
    });
  }

  async counts(datasetId: string): Promise<{ nodes: number; edges: number }> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    return this.queue.run(async () => {
      const [nodes] = await this.read(COUNT_NODES, { dataset: datasetId });
      const [edges] = await this.read(COUNT_EDGES, { dataset: datasetId });
      return { nodes: Number(nodes?.c ?? 0), edges: Number(edges?.c ?? 0) };
    });
  }

  /**
   * Runs a read-only Cypher query over the dataset only, in a sandbox process (the store's
   * `cypherRunner`). `timeoutMs` bounds the wait for a sandbox, the query and
   * the reading of its rows (not the reading and copying of the dataset); a query past it fails
   * with GraphQueryTimeoutError, one past the sandbox's memory or answer size limit with
   * GraphQueryMemoryError or GraphQueryAnswerTooLargeError. The query must be a single statement.
   */
  async cypher(datasetId: string, query: string, limits: CypherLimits): Promise<Record<string, unknown>[]> {
    this.assertOpen();
    assertKeyableDatasetId(datasetId);
    const { timeoutMs, maxRows } = cypherLimitsOf(query, limits);
    const runner = requireCypherRunner(this.cypherRunner);
    const graph = await this.queue.run(() => this.copyRows(datasetId));
    return runner.run(graph, query, { timeoutMs, maxRows });
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
