/**
 * The Cypher sandbox's copy engine: a fresh in-memory Kuzu database holding one dataset's graph,
 * where a user query runs (`worker.ts`). It is handed to no store: stores read a dataset's rows and
 * give them to a `CypherRunner`.
 */
import kuzu from 'kuzu';
import type { Connection, Database } from 'kuzu';
import { chunks } from '../stores/common.js';
import { SCHEMA, columns, executeBatches, run } from '../stores/kuzu-connection.js';
import type { CopyEdgeRow, CopyNodeRow } from '../types.js';

export { runReadOnly } from '../stores/kuzu-connection.js';

/** Rows per statement filling the in-memory database of a Cypher query. */
const COPY_BATCH = 5000;

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

/** Resources of a dataset copy; Kuzu's defaults when omitted (a buffer pool of 80% of the RAM). */
export interface DatasetCopyOptions {
  /** The in-memory database's buffer pool, which holds its data. */
  readonly bufferPoolBytes?: number;
  /** Threads a query on the copy may use. */
  readonly threads?: number;
}

/**
 * A fresh, empty in-memory Kuzu database with the store's schema: no dataset's data yet. A warm
 * sandbox process opens it before it receives its query. The caller closes `conn`, then `db`.
 */
export async function openEmptyCopy(options: DatasetCopyOptions = {}): Promise<{ db: Database; conn: Connection }> {
  const db = new kuzu.Database(':memory:', options.bufferPoolBytes ?? 0);
  const conn = options.threads !== undefined ? new kuzu.Connection(db, options.threads) : new kuzu.Connection(db);
  try {
    for (const statement of SCHEMA) await run(conn, statement);
  } catch (error) {
    await closeCopy(db, conn);
    throw error;
  }
  return { db, conn };
}

/** Copies `nodes` and `edges` (one dataset's graph) into an empty copy from `openEmptyCopy`. */
export async function fillCopy(conn: Connection, nodes: readonly CopyNodeRow[], edges: readonly CopyEdgeRow[]): Promise<void> {
  const nodeColumns = ['pk', 'id', 'dataset_id', 'name', 'type', 'properties', 'created_at', 'updated_at'] as const;
  const edgeColumns = ['source', 'target', 'relationship_name', 'properties', 'created_at', 'updated_at'] as const;
  await executeBatches(
    conn,
    COPY_NODES,
    chunks(nodes, COPY_BATCH).map((batch) => columns(batch, nodeColumns)),
  );
  await executeBatches(
    conn,
    COPY_EDGES,
    chunks(edges, COPY_BATCH).map((batch) => columns(batch, edgeColumns)),
  );
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
  const { db, conn } = await openEmptyCopy(options);
  try {
    await fillCopy(conn, nodes, edges);
  } catch (error) {
    await closeCopy(db, conn);
    throw error;
  }
  return { db, conn };
}

async function closeCopy(db: Database, conn: Connection): Promise<void> {
  await conn.close().catch(() => undefined);
  await db.close().catch(() => undefined);
}
