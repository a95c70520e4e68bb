/** Checks and helpers shared by the store implementations. */
import { DomainError, namedBody } from '../../errors.js';
import { UUID_PATTERN } from '../../ids.js';
import type { CypherLimits, CypherRunner, GraphEdge, GraphNode } from '../types.js';

export const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;

export function assertCollectionName(collection: string, maxLength = 128): void {
  if (typeof collection !== 'string' || !COLLECTION_NAME.test(collection) || collection.length > maxLength) {
    throw new Error(`invalid vector collection name: ${JSON.stringify(collection)}`);
  }
}

/** A vector store's dataset id: a UUID (it names tables, schemas and rows). */
export function assertUuidDatasetId(datasetId: string): void {
  if (typeof datasetId !== 'string' || !UUID_PATTERN.test(datasetId)) {
    throw new Error(`invalid dataset id (a UUID is expected): ${JSON.stringify(datasetId)}`);
  }
}

/**
 * The node-set names of a payload's `belongs_to_set`: strings as they are, objects by their
 * `name` (a serialised NodeSet DataPoint); sorted and without duplicates.
 */
export function nodeSetNames(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  const names = new Set<string>();
  for (const item of items) {
    if (typeof item === 'string') names.add(item);
    else if (item !== null && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string') {
      names.add((item as { name: string }).name);
    }
  }
  return [...names].sort();
}

/** Checks that `vector` has `dimensions` finite numbers; `what` names it in the error. */
export function assertVector(vector: readonly number[], dimensions: number, what: string): void {
  const length = vector === null || typeof vector !== 'object' ? undefined : vector.length;
  if (length !== dimensions) {
    throw new Error(`${what} has ${length ?? 'no'} dimensions, expected ${dimensions}`);
  }
  for (const x of vector) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${what} holds a non-finite value`);
  }
}

/** A serial queue: tasks run one after the other, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/**
 * A Cypher query stopped by one of its limits; `limit` says which, e.g. "its time limit of
 * 1000 ms (CYPHER_TIMEOUT_MS)", and holds nothing of the query. A client gets the reference's 400
 * `{"detail": "An error occurred during the execution of the Cypher query: it exceeded <limit>. [CypherSearchError]"}`.
 */
export class GraphQueryLimitError extends DomainError {
  readonly status = 400;

  constructor(
    readonly limit: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphQueryLimitError';
  }

  override toBody(): unknown {
    return namedBody('CypherSearchError', `An error occurred during the execution of the Cypher query: it exceeded ${this.limit}.`);
  }
}

/** A Cypher query that ran past its time limit. */
export class GraphQueryTimeoutError extends GraphQueryLimitError {
  constructor(readonly timeoutMs: number) {
    super(`its time limit of ${timeoutMs} ms (CYPHER_TIMEOUT_MS)`, `the Cypher query exceeded its time limit of ${timeoutMs} ms`);
    this.name = 'GraphQueryTimeoutError';
  }
}

/** A Cypher query whose sandbox process grew past its memory limit. */
export class GraphQueryMemoryError extends GraphQueryLimitError {
  constructor(readonly maxMemoryMb: number) {
    super(`its memory limit of ${maxMemoryMb} MB (CYPHER_MAX_MEMORY_MB)`, `the Cypher query exceeded its memory limit of ${maxMemoryMb} MB`);
    this.name = 'GraphQueryMemoryError';
  }
}

/** A Cypher query whose answer is larger than the answer size limit. */
export class GraphQueryAnswerTooLargeError extends GraphQueryLimitError {
  constructor(readonly maxBytes: number) {
    const shown = maxBytes >= 1024 * 1024 ? `${Math.round((maxBytes / (1024 * 1024)) * 10) / 10} MB` : `${maxBytes} bytes`;
    super(`its answer size limit of ${shown}`, `the Cypher query's answer exceeded its size limit of ${shown}`);
    this.name = 'GraphQueryAnswerTooLargeError';
  }
}

/*
 * The graph stores' shared layout (Kuzu's `kuzu.ts`, Neo4j's `neo4j.ts`): the same node and edge
 * rows, the same keys, and the same read statements, which both engines run as written.
 */

/** A graph store's dataset id: any non-empty string without ':' (it prefixes node keys, see `pk`). */
export function assertKeyableDatasetId(datasetId: string): void {
  // ':' would make `pk` ambiguous between datasets ("a:b" + "c" vs "a" + "b:c").
  if (typeof datasetId !== 'string' || datasetId === '' || datasetId.includes(':')) {
    throw new Error(`invalid dataset id: ${JSON.stringify(datasetId)}`);
  }
}

export function assertId(id: unknown, what: string): asserts id is string {
  if (typeof id !== 'string' || id === '') throw new Error(`${what} needs a non-empty string id`);
}

/** A node's key in a store of several datasets. */
export function pk(datasetId: string, id: string): string {
  return `${datasetId}:${id}`;
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The ids asked for, each once, in their first order, without empty or non-string ones. */
export function uniqueIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].filter((id) => typeof id === 'string' && id !== '');
}

/** A stored `properties` column (a JSON object) as an object; {} when it is anything else. */
export function parseProperties(value: unknown): Record<string, unknown> {
  if (typeof value !== 'string' || value === '') return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A string column as it is; '' for anything else. */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A node from a row of NODE_COLUMNS (or from a node value); `prefix` names its columns (`a_id`, ...). */
export function nodeFromRow(row: Record<string, unknown>, prefix = ''): GraphNode {
  return {
    id: text(row[`${prefix}id`]),
    name: text(row[`${prefix}name`]),
    type: text(row[`${prefix}type`]),
    properties: parseProperties(row[`${prefix}properties`]),
  };
}

/** An edge from a row of GRAPH_EDGES. */
export function edgeFromRow(row: Record<string, unknown>): GraphEdge {
  return { source: text(row.source), target: text(row.target), relationship: text(row.relationship), properties: parseProperties(row.properties) };
}

/** A node to write. */
export interface NodeRow {
  pk: string;
  id: string;
  name: string;
  type: string;
  /** JSON */
  properties: string;
}

/** An edge to write. */
export interface EdgeRow {
  /** pk of the source node */
  source: string;
  /** pk of the target node */
  target: string;
  relationship: string;
  /** JSON */
  properties: string;
}

/** The rows of an upsertNodes call, checked, by key: the last occurrence of an id in one call wins. */
export function nodeRows(datasetId: string, nodes: readonly GraphNode[]): Map<string, NodeRow> {
  const rows = new Map<string, NodeRow>();
  for (const node of nodes) {
    assertId(node?.id, 'a graph node');
    const key = pk(datasetId, node.id);
    rows.set(key, {
      pk: key,
      id: node.id,
      name: typeof node.name === 'string' ? node.name : '',
      type: typeof node.type === 'string' ? node.type : '',
      properties: JSON.stringify(node.properties ?? {}),
    });
  }
  return rows;
}

/**
 * The rows of an upsertEdges call, checked, by edgeKey: one edge per (source, target,
 * relationship), the last occurrence in one call wins.
 */
export function edgeRows(datasetId: string, edges: readonly GraphEdge[]): Map<string, EdgeRow> {
  const rows = new Map<string, EdgeRow>();
  for (const edge of edges) {
    assertId(edge?.source, 'the source of a graph edge');
    assertId(edge.target, 'the target of a graph edge');
    if (typeof edge.relationship !== 'string' || edge.relationship === '') {
      throw new Error('a graph edge needs a non-empty relationship name');
    }
    const row: EdgeRow = {
      source: pk(datasetId, edge.source),
      target: pk(datasetId, edge.target),
      relationship: edge.relationship,
      properties: JSON.stringify(edge.properties ?? {}),
    };
    rows.set(edgeKey(row), row);
  }
  return rows;
}

/** An edge's identity: its end node keys and relationship name. */
export function edgeKey(edge: Pick<EdgeRow, 'source' | 'target' | 'relationship'>): string {
  return JSON.stringify([edge.source, edge.target, edge.relationship]);
}

/** The runner a store was opened with; a store opened without one refuses Cypher. */
export function requireCypherRunner(runner: CypherRunner | undefined): CypherRunner {
  if (!runner) throw new Error('this graph store was opened without a Cypher runner: Cypher queries are refused');
  return runner;
}

/** Checks a Cypher call's query (a non-empty string) and limits; the limits to run it with. */
export function cypherLimitsOf(query: string, limits: CypherLimits): { timeoutMs: number; maxRows: number } {
  if (typeof query !== 'string' || query.trim() === '') throw new Error('an empty Cypher query');
  const { timeoutMs, maxRows } = limits;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`invalid Cypher timeout: ${timeoutMs}`);
  }
  if (!Number.isInteger(maxRows) || maxRows < 0) throw new Error(`invalid Cypher row limit: ${maxRows}`);
  return { timeoutMs, maxRows };
}

/** The columns nodeFromRow reads, of a node `n`. */
export const NODE_COLUMNS = 'n.id AS id, n.name AS name, n.type AS type, n.properties AS properties';

/** The dataset's nodes by id (`$dataset`). */
export const DATASET_NODES = `MATCH (n:Node) WHERE n.dataset_id = $dataset RETURN ${NODE_COLUMNS} ORDER BY id`;
/** The dataset's nodes of one of `$types`, by id. */
export const DATASET_NODES_OF_TYPE = `MATCH (n:Node) WHERE n.dataset_id = $dataset AND n.type IN $types RETURN ${NODE_COLUMNS} ORDER BY id`;
/** The nodes of `$pks` in `$dataset`. */
export const NODES_BY_KEY = `UNWIND $pks AS k MATCH (n:Node {pk: k}) WHERE n.dataset_id = $dataset RETURN ${NODE_COLUMNS}`;
/** The dataset's edges, for edgeFromRow. */
export const GRAPH_EDGES = `MATCH (a:Node)-[e:EDGE]->(b:Node) WHERE a.dataset_id = $dataset AND b.dataset_id = $dataset
         RETURN a.id AS source, b.id AS target, e.relationship_name AS relationship, e.properties AS properties`;
export const COUNT_NODES = 'MATCH (n:Node) WHERE n.dataset_id = $dataset RETURN count(n) AS c';
export const COUNT_EDGES = 'MATCH (a:Node)-[e:EDGE]->(b:Node) WHERE a.dataset_id = $dataset AND b.dataset_id = $dataset RETURN count(e) AS c';
export const DELETE_NODES_BY_KEY = 'UNWIND $pks AS k MATCH (n:Node {pk: k}) WHERE n.dataset_id = $dataset DETACH DELETE n';

/** Every column of the dataset's nodes, as a dataset copy takes them (CopyNodeRow). */
export const COPY_NODE_ROWS = `MATCH (n:Node) WHERE n.dataset_id = $dataset
       RETURN n.pk AS pk, n.id AS id, n.dataset_id AS dataset_id, n.name AS name, n.type AS type,
              n.properties AS properties, n.created_at AS created_at, n.updated_at AS updated_at`;
/** Every column of the dataset's edges, as a dataset copy takes them (CopyEdgeRow). */
export const COPY_EDGE_ROWS = `MATCH (a:Node)-[e:EDGE]->(b:Node) WHERE a.dataset_id = $dataset AND b.dataset_id = $dataset
       RETURN a.pk AS source, b.pk AS target, e.relationship_name AS relationship_name, e.properties AS properties,
              e.created_at AS created_at, e.updated_at AS updated_at`;
