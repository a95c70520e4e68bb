/**
 * The storage contracts of the memory engine. Every store is partitioned by dataset: every call
 * names the dataset it works on, and no call ever reads or writes another dataset's content, even
 * when several datasets share one physical store (single-user mode, D16).
 */

/** A node of the knowledge graph, as the reference's DataPoint: `id` is the reference's node id. */
export interface GraphNode {
  readonly id: string;
  /** Display name (`name` property of the DataPoint); '' when the type has none. */
  readonly name: string;
  /** The DataPoint class name: TextDocument, DocumentChunk, Entity, EntityType, TextSummary, NodeSet, ... */
  readonly type: string;
  /** Every other property (text, description, chunk_index, ...); JSON-serialisable values only. */
  readonly properties: Readonly<Record<string, unknown>>;
}

export interface GraphEdge {
  readonly source: string;
  readonly target: string;
  /** is_part_of, contains, is_a, made_from, belongs_to_set, or a normalised LLM relationship name. */
  readonly relationship: string;
  /** edge_text and other metadata; JSON-serialisable values only. */
  readonly properties: Readonly<Record<string, unknown>>;
}

export interface Subgraph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

export interface CypherLimits {
  /** The query is cancelled after this many milliseconds. */
  readonly timeoutMs: number;
  /** At most this many rows are returned. */
  readonly maxRows: number;
}

export interface GraphStore {
  /** Inserts or replaces nodes (same dataset + id = same node). */
  upsertNodes(datasetId: string, nodes: readonly GraphNode[]): Promise<void>;
  /** Inserts edges; an edge with the same dataset, source, target and relationship is kept once. */
  upsertEdges(datasetId: string, edges: readonly GraphEdge[]): Promise<void>;
  getNodes(datasetId: string, ids: readonly string[]): Promise<GraphNode[]>;
  /** Nodes of the dataset of one of `types` (all types when omitted). */
  nodesOfType(datasetId: string, types?: readonly string[]): Promise<GraphNode[]>;
  /** The whole dataset graph. */
  getGraph(datasetId: string): Promise<Subgraph>;
  /** Every edge touching one of `nodeIds`, with both end nodes. */
  edgesAround(datasetId: string, nodeIds: readonly string[]): Promise<Array<{ source: GraphNode; edge: GraphEdge; target: GraphNode }>>;
  /** Removes nodes and their edges. */
  deleteNodes(datasetId: string, ids: readonly string[]): Promise<void>;
  /** Removes every node and edge of the dataset. */
  deleteDataset(datasetId: string): Promise<void>;
  counts(datasetId: string): Promise<{ nodes: number; edges: number }>;
  /**
   * Runs a read-only Cypher query (already checked by the Cypher gate, D18) over the dataset's
   * graph only, within the limits. Rows come back as plain JSON objects.
   */
  cypher(datasetId: string, query: string, limits: CypherLimits): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export interface VectorPoint {
  /** The node id of the embedded DataPoint. */
  readonly id: string;
  readonly vector: readonly number[];
  /** The reference's payload: id, text, document_id, document_name, chunk_index, belongs_to_set, ... */
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface VectorHit {
  readonly id: string;
  /** Cosine distance: 0 = identical direction, 2 = opposite. Lower is better. */
  readonly score: number;
  readonly payload: Record<string, unknown>;
}

export interface VectorSearchOptions {
  readonly limit: number;
  /** Keep only points whose payload.belongs_to_set shares a name with this list. */
  readonly nodeSets?: readonly string[];
}

export interface VectorStore {
  /** Dimension of every vector in this store. */
  readonly dimensions: number;
  /** Inserts or replaces points of `collection` (e.g. DocumentChunk_text) for the dataset. */
  upsert(datasetId: string, collection: string, points: readonly VectorPoint[]): Promise<void>;
  /** Nearest points of the dataset in `collection`, best first; [] when the collection does not exist. */
  search(datasetId: string, collection: string, vector: readonly number[], options: VectorSearchOptions): Promise<VectorHit[]>;
  /** Collections holding at least one point of the dataset. */
  collections(datasetId: string): Promise<string[]>;
  deleteIds(datasetId: string, collection: string, ids: readonly string[]): Promise<void>;
  /** Which of `ids` have a point of the dataset in `collection` (none when the collection does not exist). */
  presentIds(datasetId: string, collection: string, ids: readonly string[]): Promise<Set<string>>;
  /** Removes every point of the dataset in every collection. */
  deleteDataset(datasetId: string): Promise<void>;
  close(): Promise<void>;
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

/** One dataset's graph as rows: what a `CypherRunner` copies before it runs a query. */
export interface SandboxGraph {
  readonly nodes: readonly CopyNodeRow[];
  readonly edges: readonly CopyEdgeRow[];
}

/**
 * Runs read-only Cypher on a copy of one dataset's graph, out of the server process (D18). Graph
 * stores receive one when they are opened; they never run user Cypher on their own database.
 */
export interface CypherRunner {
  run(graph: SandboxGraph, query: string, limits: { timeoutMs: number; maxRows: number }): Promise<Record<string, unknown>[]>;
  /** Ends the processes it keeps (the server is closing). */
  close?(): Promise<void>;
}
