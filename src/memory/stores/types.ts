/**
 * The storage contracts of the memory engine. Every store is partitioned by dataset: every call
 * names the dataset it works on, and no call ever reads or writes another dataset's content, even
 * when several datasets share one physical store (single-user mode, D16).
 */
import type { CypherSandbox } from '../cypher-sandbox.js';

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
  /**
   * The sandbox the query runs in (its memory, answer size and concurrency limits); the
   * process-wide default sandbox when omitted. Stores whose Cypher runs on a remote server ignore it.
   */
  readonly sandbox?: CypherSandbox;
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
  /** Removes every point of the dataset in every collection. */
  deleteDataset(datasetId: string): Promise<void>;
  close(): Promise<void>;
}

/** Chat and embeddings, as the memory engine needs them. */
export interface Embedder {
  readonly dimensions: number;
  readonly name: string;
  embed(texts: readonly string[]): Promise<number[][]>;
}

export interface ExtractedGraph {
  readonly nodes: Array<{ id: string; name: string; type: string; description: string }>;
  readonly edges: Array<{ source_node_id: string; target_node_id: string; relationship_name: string; description?: string }>;
}

export interface LanguageModel {
  readonly name: string;
  /** True for the built-in offline mode: completions then answer with the retrieved context. */
  readonly offline: boolean;
  extractGraph(text: string, customPrompt?: string): Promise<ExtractedGraph>;
  summarize(text: string): Promise<string>;
  /** A plain-text answer to `userPrompt` given `systemPrompt`. */
  complete(systemPrompt: string, userPrompt: string): Promise<string>;
  /** A JSON value matching `schema` (JSON Schema), for structured output. */
  structured<T>(systemPrompt: string, userPrompt: string, schemaName: string, schema: Record<string, unknown>): Promise<T>;
}
