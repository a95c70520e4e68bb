import { uuid5 } from '../ids.js';
import type { TextChunk } from './chunker.js';
import type { GraphEdge, GraphNode } from '../storage/index.js';
import type { ExtractedGraph } from './providers/types.js';

/**
 * Turns a document, its chunks, and per-chunk extractions and summaries into graph nodes, edges and
 * the texts to embed — with the reference's node ids, edge names and collection names, so the same
 * input always produces the same ids (a re-run after a crash rewrites, never duplicates).
 */

export interface DocumentInput {
  readonly dataId: string;
  readonly name: string;
  readonly extension: string;
  readonly mimeType: string;
  readonly rawDataLocation: string;
  readonly externalMetadata: unknown;
  readonly nodeSets: readonly string[];
}

export interface ChunkExtraction {
  readonly chunk: TextChunk;
  readonly graph: ExtractedGraph;
  readonly summary: string;
}

/** A text to embed into `<Type>_<field>` under the node's id. */
export interface IndexEntry {
  readonly collection: string;
  readonly id: string;
  readonly text: string;
  readonly payload: Record<string, unknown>;
}

export interface BuiltGraph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  readonly index: IndexEntry[];
}

export function documentType(extension: string): string {
  const ext = extension.toLowerCase();
  if (ext === 'pdf') return 'PdfDocument';
  if (ext === 'csv' || ext === 'tsv') return 'CsvDocument';
  return 'TextDocument';
}

/** The reference's entity name normalisation: lower case, apostrophes removed. */
export function entityName(name: string): string {
  return name.trim().toLowerCase().replace(/'/g, '');
}

function idKey(name: string): string {
  return name.toLowerCase().replace(/ /g, '_').replace(/'/g, '');
}

export const entityId = (name: string) => uuid5(`Entity:${idKey(entityName(name))}`);
export const entityTypeId = (type: string) => uuid5(`EntityType:${idKey(entityName(type))}`);
export const chunkId = (documentId: string, index: number) => uuid5(`${documentId}-${index}`);
export const summaryId = (chunk: string) => uuid5(`TextSummary:${chunk}`);
export const nodeSetId = (name: string) => uuid5(`nodeset:${idKey(name)}`);
export const edgeTypeId = (relationship: string) => uuid5(`EdgeType:${relationship}`);

/** Relationship names as the reference normalises them: lower case, spaces to `_`, no apostrophes. */
export function relationshipName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '_').replace(/'/g, '') || 'related_to';
}

export function buildDocumentGraph(doc: DocumentInput, chunks: readonly ChunkExtraction[], now = Date.now()): BuiltGraph {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  const index = new Map<string, IndexEntry>();
  const common = { created_at: now, updated_at: now, version: 1, importance_weight: 0.5, source_pipeline: 'cognify_pipeline' };
  const sets = doc.nodeSets.filter((s) => s.trim() !== '');
  const addEdge = (source: string, target: string, relationship: string, properties: Record<string, unknown> = {}) => {
    const key = `${source}|${target}|${relationship}`;
    if (!edges.has(key)) edges.set(key, { source, target, relationship, properties: { relationship_name: relationship, ...properties } });
  };
  const addIndex = (collection: string, id: string, text: string, payload: Record<string, unknown> = {}) => {
    if (text.trim() === '') return;
    index.set(`${collection}|${id}`, { collection, id, text, payload: { id, text, ...payload } });
  };

  const docType = documentType(doc.extension);
  nodes.set(doc.dataId, {
    id: doc.dataId,
    name: doc.name,
    type: docType,
    properties: {
      ...common,
      raw_data_location: doc.rawDataLocation,
      mime_type: doc.mimeType,
      external_metadata: JSON.stringify(doc.externalMetadata ?? {}),
      belongs_to_set: sets,
    },
  });
  addIndex(`${docType}_name`, doc.dataId, doc.name, { belongs_to_set: sets });
  for (const set of sets) {
    const id = nodeSetId(set);
    nodes.set(id, { id, name: set, type: 'NodeSet', properties: { ...common } });
    addEdge(doc.dataId, id, 'belongs_to_set');
  }

  for (const { chunk, graph, summary } of chunks) {
    const cid = chunkId(doc.dataId, chunk.chunk_index);
    nodes.set(cid, {
      id: cid,
      name: '',
      type: 'DocumentChunk',
      properties: {
        ...common,
        text: chunk.text,
        chunk_size: chunk.chunk_size,
        chunk_index: chunk.chunk_index,
        cut_type: chunk.cut_type,
        document_id: doc.dataId,
        document_name: doc.name,
        belongs_to_set: sets,
      },
    });
    addEdge(cid, doc.dataId, 'is_part_of');
    for (const set of sets) addEdge(cid, nodeSetId(set), 'belongs_to_set');
    addIndex('DocumentChunk_text', cid, chunk.text, {
      document_id: doc.dataId,
      document_name: doc.name,
      chunk_index: chunk.chunk_index,
      chunk_size: chunk.chunk_size,
      cut_type: chunk.cut_type,
      importance_weight: 0.5,
      belongs_to_set: sets,
    });

    // Extracted entities: same-name nodes within one chunk are one node.
    const localIds = new Map<string, string>();
    for (const node of graph.nodes) {
      const name = entityName(node.name);
      if (name === '') continue;
      const id = entityId(name);
      localIds.set(node.id, id);
      localIds.set(node.name, id);
      const type = entityName(node.type || 'entity') || 'entity';
      const tid = entityTypeId(type);
      if (!nodes.has(tid)) {
        nodes.set(tid, { id: tid, name: type, type: 'EntityType', properties: { ...common, description: type } });
        addIndex('EntityType_name', tid, type);
      }
      const previous = nodes.get(id);
      const description = node.description || (previous?.properties.description as string | undefined) || '';
      nodes.set(id, { id, name, type: 'Entity', properties: { ...common, description, belongs_to_set: sets } });
      addIndex('Entity_name', id, name, { description, source_chunk_id: cid, document_id: doc.dataId, belongs_to_set: sets });
      addEdge(id, tid, 'is_a');
      addEdge(cid, id, 'contains', { edge_text: `Document chunk mentions ${name}: ${description}` });
    }
    for (const edge of graph.edges) {
      const source = localIds.get(edge.source_node_id);
      const target = localIds.get(edge.target_node_id);
      if (!source || !target || source === target) continue;
      const relationship = relationshipName(edge.relationship_name);
      addEdge(source, target, relationship, { edge_text: edge.description ?? relationship });
    }

    if (summary.trim() !== '') {
      const sid = summaryId(cid);
      nodes.set(sid, { id: sid, name: '', type: 'TextSummary', properties: { ...common, text: summary, document_id: doc.dataId } });
      addEdge(sid, cid, 'made_from');
      addIndex('TextSummary_text', sid, summary, { document_id: doc.dataId, document_name: doc.name, source_chunk_id: cid, belongs_to_set: sets });
    }
  }

  // Edge types are indexed so graph retrieval can match a question to relationships.
  const counts = new Map<string, number>();
  for (const edge of edges.values()) counts.set(edge.relationship, (counts.get(edge.relationship) ?? 0) + 1);
  for (const [relationship, count] of counts) {
    addIndex('EdgeType_relationship_name', edgeTypeId(relationship), relationship, { relationship_name: relationship, number_of_edges: count });
  }

  return { nodes: [...nodes.values()], edges: [...edges.values()], index: [...index.values()] };
}
