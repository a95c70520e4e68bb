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
import { KeyedQueue } from './keyed-queue.js';
import { TIMEOUT_CODES, codeOf, openDriver, records, type Neo4jConnectionOptions, type Row } from './neo4j-connection.js';
import { AROUND_COLUMNS, SCHEMA, UPSERT_EDGES, UPSERT_NODES } from './neo4j-statements.js';
import { copyEdgeRow, copyNodeRow, fromNeo4jValue } from './neo4j-values.js';
import type { CypherLimits, CypherRunner, GraphEdge, GraphNode, GraphStore, Subgraph } from '../types.js';

/** Rows (or keys) per UNWIND statement. */
const BATCH = 1000;
/** Nodes removed per transaction by deleteDataset (a dataset can be larger than one transaction should be). */
const DELETE_BATCH = 5000;
/** Rows pulled at once from a Cypher query on the server. */
const FETCH_SIZE = 1000;

export interface Neo4jGraphStoreOptions extends Neo4jConnectionOptions {
  /**
   * The database holds one dataset only (the caller guarantees it, e.g. an Aura instance per
   * dataset): Cypher queries run on the server instead of on an in-memory copy of the dataset.
   */
  readonly singleDataset?: boolean;
  /** Where user Cypher runs when the database is shared by datasets (D18); without one such a store refuses Cypher. */
  readonly cypherRunner?: CypherRunner;
}

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
    const driver = await openDriver(options);
    const store = new Neo4jGraphStore(driver, options.database, options.singleDataset === true, options.cypherRunner);
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

  async edgesAround(datasetId: string, nodeIds: readonly string[]): Promise<Array<{ source: GraphNode; edge: GraphEdge; target: GraphNode }>> {
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
        const outgoing = await records(
          tx,
          `UNWIND $pks AS k MATCH (a:Node {pk: k})-[e:EDGE]->(b:Node) WHERE b.dataset_id = $dataset RETURN ${AROUND_COLUMNS}`,
          params,
        );
        const incoming = await records(
          tx,
          `UNWIND $pks AS k MATCH (a:Node)-[e:EDGE]->(b:Node {pk: k}) WHERE a.dataset_id = $dataset RETURN ${AROUND_COLUMNS}`,
          params,
        );
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
            const [row] = await records(tx, 'MATCH (n:Node) WHERE n.dataset_id = $dataset WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS c', {
              dataset: datasetId,
              batch: neo4j.int(DELETE_BATCH),
            });
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
    return runner.run({ nodes: nodes.map(copyNodeRow), edges: edges.map(copyEdgeRow) }, query, { timeoutMs, maxRows });
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
