import { cypherSearchError, searchTypeNotSupported, unsupportedSearchType } from '../errors.js';
import { assertReadOnlyCypher } from '../security/cypher-gate.js';
import { GraphQueryLimitError, type DatasetRef, type GraphEdge, type GraphNode, type StorePair } from '../storage/index.js';
import { StructuredOutputUnavailableError, type Embedder, type ModelProvider } from './providers/types.js';
import type { DatasetInfo } from './types.js';

/**
 * Retrieval for one dataset, inside that dataset's stores only. Returns the reference's three
 * parts: the completion (an answer list, or null), the context, and the raw retrieved objects.
 */

export const SEARCH_TYPES = [
  'SUMMARIES',
  'CHUNKS',
  'RAG_COMPLETION',
  'HYBRID_COMPLETION',
  'TRIPLET_COMPLETION',
  'GRAPH_COMPLETION',
  'GRAPH_SUMMARY_COMPLETION',
  'CYPHER',
  'NATURAL_LANGUAGE',
  'GRAPH_COMPLETION_COT',
  'GRAPH_COMPLETION_CONTEXT_EXTENSION',
  'GRAPH_COMPLETION_DECOMPOSITION',
  'FEELING_LUCKY',
  'TEMPORAL',
  'CODING_RULES',
  'CHUNKS_LEXICAL',
  'AGENTIC_COMPLETION',
  'CODE',
  'GRAPH_REPORT',
] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

/** The types Engram serves; the others are valid names the server answers with a clear 400. */
export const SUPPORTED_SEARCH_TYPES: ReadonlySet<SearchType> = new Set([
  'SUMMARIES',
  'CHUNKS',
  'CHUNKS_LEXICAL',
  'RAG_COMPLETION',
  'GRAPH_COMPLETION',
  'HYBRID_COMPLETION',
  'GRAPH_SUMMARY_COMPLETION',
  'CYPHER',
  'NATURAL_LANGUAGE',
  'FEELING_LUCKY',
]);

export interface SearchRequest {
  readonly type: SearchType;
  readonly query: string;
  readonly topK: number;
  readonly systemPrompt: string;
  readonly onlyContext: boolean;
  readonly nodeName?: readonly string[];
}

export interface SearchOutcome {
  readonly completion: string[] | null;
  readonly context: unknown;
  readonly objects: unknown;
}

/** What retrieval needs: the dataset's stores, the embedder, the model in effect, the Cypher rules (D18). */
export interface SearchDependencies {
  readonly stores: {
    with<T>(dataset: DatasetRef, fn: (stores: StorePair) => Promise<T>): Promise<T>;
    /** As `with`, but a dataset with nothing stored gets empty stores, opening none. */
    read<T>(dataset: DatasetRef, fn: (stores: StorePair) => Promise<T>): Promise<T>;
  };
  readonly embedder: Embedder;
  readonly models: ModelProvider;
  readonly cypher: { readonly allowed: boolean; readonly timeoutMs: number; readonly maxRows: number };
}

/** The search dependencies of an engine's parts. */
export function searchDependenciesOf(parts: {
  readonly databases: SearchDependencies['stores'];
  readonly embedder: Embedder;
  readonly settings: ModelProvider;
  readonly config: { readonly memory: { readonly allowCypherQuery: boolean; readonly cypherTimeoutMs: number; readonly cypherMaxRows: number } };
}): SearchDependencies {
  const m = parts.config.memory;
  return {
    stores: parts.databases,
    embedder: parts.embedder,
    models: parts.settings,
    cypher: { allowed: m.allowCypherQuery, timeoutMs: m.cypherTimeoutMs, maxRows: m.cypherMaxRows },
  };
}

export const DEFAULT_SYSTEM_PROMPT = 'Answer the question using the provided context. Be as brief as possible.';

/** The search and recall bodies' fields as a `SearchRequest`: top_k capped at 1000, the default prompt, node_name only when given. */
export function searchRequestOf(
  type: SearchType,
  body: { query: string; top_k: number; system_prompt?: string | null | undefined; only_context: boolean; node_name?: readonly string[] | null | undefined },
): SearchRequest {
  return {
    type,
    query: body.query,
    topK: Math.min(body.top_k, 1000),
    systemPrompt: body.system_prompt || DEFAULT_SYSTEM_PROMPT,
    onlyContext: body.only_context,
    ...(body.node_name && body.node_name.length > 0 ? { nodeName: body.node_name } : {}),
  };
}

/** The answer when CYPHER or NATURAL_LANGUAGE is asked for while ALLOW_CYPHER_QUERY is off. */
export const cypherDisabled = () => unsupportedSearchType();

/** The rule-based router of recall and of FEELING_LUCKY without a model: Cypher-looking text → CYPHER. */
export function routeQuery(query: string): SearchType {
  const q = query.trim();
  if (/^(MATCH|RETURN|CREATE|MERGE)\s/i.test(q) || q.includes('--(') || q.includes(')--')) return 'CYPHER';
  return 'HYBRID_COMPLETION';
}

/** Resolves FEELING_LUCKY, then applies the Cypher switch (D18) to the resolved type. */
export async function resolveSearchType(deps: SearchDependencies, type: SearchType, query: string): Promise<SearchType> {
  let resolved = type;
  if (type === 'FEELING_LUCKY') {
    resolved = routeQuery(query);
    if (resolved !== 'CYPHER') {
      try {
        const choice = await deps.models.current().structured<{
          search_type: string;
        }>('Pick the best search type for the question. Answer with one of: SUMMARIES, CHUNKS, RAG_COMPLETION, GRAPH_COMPLETION, GRAPH_SUMMARY_COMPLETION, CHUNKS_LEXICAL.', query, 'SearchTypeChoice', { type: 'object', properties: { search_type: { type: 'string' } }, required: ['search_type'], additionalProperties: false });
        const picked = String(choice.search_type ?? '').toUpperCase() as SearchType;
        resolved = SUPPORTED_SEARCH_TYPES.has(picked) && picked !== 'FEELING_LUCKY' ? picked : 'RAG_COMPLETION';
      } catch (error) {
        // A model without structured output keeps the rule's choice; a failing one falls back to RAG.
        if (!(error instanceof StructuredOutputUnavailableError)) resolved = 'RAG_COMPLETION';
      }
    }
  }
  if ((resolved === 'CYPHER' || resolved === 'NATURAL_LANGUAGE') && !deps.cypher.allowed) throw cypherDisabled();
  if (!SUPPORTED_SEARCH_TYPES.has(resolved)) {
    throw searchTypeNotSupported(`Search type ${resolved} is not supported by this server.`);
  }
  return resolved;
}

function payloadsOf(hits: { payload: Record<string, unknown>; score: number }[]) {
  return hits.map((h) => ({ ...h.payload, score: h.score }));
}

/** BM25 over the dataset's chunks (no embeddings, no model). */
export function bm25(docs: { id: string; text: string }[], query: string, topK: number): { id: string; score: number }[] {
  const tokenize = (s: string) => s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const terms = [...new Set(tokenize(query))];
  if (terms.length === 0 || docs.length === 0) return [];
  const tokenized = docs.map((d) => tokenize(d.text));
  const avg = tokenized.reduce((s, t) => s + t.length, 0) / docs.length || 1;
  const df = new Map<string, number>();
  for (const tokens of tokenized) for (const t of new Set(tokens)) if (terms.includes(t)) df.set(t, (df.get(t) ?? 0) + 1);
  const k1 = 1.5;
  const b = 0.75;
  const scored = tokenized.map((tokens, i) => {
    const tf = new Map<string, number>();
    for (const t of tokens) if (df.has(t)) tf.set(t, (tf.get(t) ?? 0) + 1);
    let score = 0;
    for (const [t, f] of tf) {
      const n = df.get(t)!;
      const idf = Math.log(1 + (docs.length - n + 0.5) / (n + 0.5));
      score += (idf * f * (k1 + 1)) / (f + k1 * (1 - b + (b * tokens.length) / avg));
    }
    return { id: docs[i]!.id, score };
  });
  return scored
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, topK);
}

function describe(node: GraphNode): string {
  const description = typeof node.properties.description === 'string' ? node.properties.description : '';
  const text = typeof node.properties.text === 'string' ? node.properties.text : '';
  const label = node.name || `${node.type}_${node.id}`;
  return description ? `${label} (${description})` : text ? `${label}: ${text.slice(0, 300)}` : label;
}

/** Graph context: the triplets around the nodes closest to the query, best first, as text lines. */
async function graphTriplets(deps: SearchDependencies, dataset: DatasetInfo, stores: StorePair, query: string, topK: number, nodeSets?: readonly string[]) {
  const [vector] = await deps.embedder.embed([query]);
  const collections = ['Entity_name', 'TextSummary_text', 'EntityType_name', 'DocumentChunk_text', 'EdgeType_relationship_name'];
  const distances = new Map<string, number>();
  const edgeDistances = new Map<string, number>();
  for (const collection of collections) {
    const hits = await stores.vector.search(dataset.id, collection, vector!, { limit: Math.max(topK * 4, 20), ...(nodeSets ? { nodeSets } : {}) });
    for (const hit of hits) {
      if (collection === 'EdgeType_relationship_name') edgeDistances.set(String(hit.payload.relationship_name ?? hit.payload.text), hit.score);
      else distances.set(hit.id, Math.min(distances.get(hit.id) ?? Infinity, hit.score));
    }
  }
  if (distances.size === 0) return [];
  const seeds = [...distances.entries()]
    .sort((a, b) => a[1] - b[1])
    .slice(0, Math.max(topK * 2, 10))
    .map(([id]) => id);
  const around = await stores.graph.edgesAround(dataset.id, seeds);
  const miss = 1.5;
  const scored = around.map((t) => ({
    ...t,
    score: (distances.get(t.source.id) ?? miss) + (distances.get(t.target.id) ?? miss) + (edgeDistances.get(t.edge.relationship) ?? miss),
  }));
  scored.sort((a, b) => a.score - b.score);
  const seen = new Set<string>();
  const result: { source: GraphNode; edge: GraphEdge; target: GraphNode; score: number }[] = [];
  for (const t of scored) {
    const key = `${t.source.id}|${t.edge.relationship}|${t.target.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(t);
    if (result.length >= topK) break;
  }
  return result;
}

function tripletText(triplets: { source: GraphNode; edge: GraphEdge; target: GraphNode }[]): string {
  return triplets.map((t) => `${describe(t.source)} --[${t.edge.relationship}]--> ${describe(t.target)}`).join('\n');
}

async function complete(deps: SearchDependencies, request: SearchRequest, context: string): Promise<string[]> {
  return [await deps.models.current().answer(request.systemPrompt, request.query, context)];
}

export async function searchDataset(deps: SearchDependencies, dataset: DatasetInfo, request: SearchRequest): Promise<SearchOutcome> {
  // Cypher can answer rows (or errors) of its own on an empty graph: it always runs in the real store.
  const cypher = request.type === 'CYPHER' || request.type === 'NATURAL_LANGUAGE';
  const work = async (stores: StorePair): Promise<SearchOutcome> => {
    const nodeSets = request.nodeName && request.nodeName.length > 0 ? request.nodeName : undefined;
    const vectorLane = async (collection: string, limit: number) => {
      const [vector] = await deps.embedder.embed([request.query]);
      return stores.vector.search(dataset.id, collection, vector!, { limit, ...(nodeSets ? { nodeSets } : {}) });
    };
    switch (request.type) {
      case 'CHUNKS':
      case 'SUMMARIES': {
        const hits = payloadsOf(await vectorLane(request.type === 'CHUNKS' ? 'DocumentChunk_text' : 'TextSummary_text', request.topK));
        return { completion: null, context: hits, objects: hits };
      }
      case 'CHUNKS_LEXICAL': {
        const chunks = await stores.graph.nodesOfType(dataset.id, ['DocumentChunk']);
        const byId = new Map(chunks.map((c) => [c.id, c]));
        const ranked = bm25(
          chunks.map((c) => ({ id: c.id, text: String(c.properties.text ?? '') })),
          request.query,
          request.topK,
        );
        const hits = ranked.map((r) => {
          const c = byId.get(r.id)!;
          return {
            id: c.id,
            text: c.properties.text,
            document_id: c.properties.document_id,
            document_name: c.properties.document_name,
            chunk_index: c.properties.chunk_index,
            score: r.score,
          };
        });
        return { completion: null, context: hits, objects: hits };
      }
      case 'RAG_COMPLETION': {
        const hits = await vectorLane('DocumentChunk_text', request.topK);
        const context = hits.map((h) => String(h.payload.text ?? '')).join('\n');
        return { completion: request.onlyContext ? null : await complete(deps, request, context), context, objects: payloadsOf(hits) };
      }
      case 'GRAPH_COMPLETION':
      case 'GRAPH_SUMMARY_COMPLETION':
      case 'HYBRID_COMPLETION': {
        const lane = request.type === 'HYBRID_COMPLETION' ? Math.min(request.topK, 10) : request.topK;
        const triplets = await graphTriplets(deps, dataset, stores, request.query, lane, nodeSets);
        let context = tripletText(triplets);
        if (request.type === 'HYBRID_COMPLETION') {
          const chunks = await vectorLane('DocumentChunk_text', lane);
          const chunkText = chunks.map((h) => String(h.payload.text ?? '')).join('\n');
          context = [chunkText && `Relevant passages:\n${chunkText}`, context && `Facts:\n${context}`].filter(Boolean).join('\n\n');
        }
        if (request.type === 'GRAPH_SUMMARY_COMPLETION' && context) context = await deps.models.current().summarize(context);
        const objects = triplets.map((t) => ({ source: t.source, relationship: t.edge.relationship, target: t.target, score: t.score }));
        return { completion: request.onlyContext ? null : await complete(deps, request, context), context, objects };
      }
      case 'CYPHER':
      case 'NATURAL_LANGUAGE': {
        let query = request.query;
        if (request.type === 'NATURAL_LANGUAGE') {
          let written: { query?: unknown };
          try {
            written = await deps.models.current().structured<{
              query: string;
            }>('Write one read-only Kuzu Cypher query answering the question. Nodes: (:Node {id, name, type, properties}); relationships: [:EDGE {relationship_name, properties}].', request.query, 'CypherQuery', { type: 'object', properties: { query: { type: 'string' } }, required: ['query'], additionalProperties: false });
          } catch (error) {
            if (error instanceof StructuredOutputUnavailableError) {
              throw searchTypeNotSupported('NATURAL_LANGUAGE search needs a language model; set LLM_API_KEY.');
            }
            throw error;
          }
          query = String(written.query ?? '');
        }
        // A refused query is answered 400 [CypherSearchError] with the reason (CypherRefused).
        const readOnly = assertReadOnlyCypher(query);
        let rows: Record<string, unknown>[];
        try {
          rows = await stores.graph.cypher(dataset.id, readOnly, {
            timeoutMs: deps.cypher.timeoutMs,
            maxRows: deps.cypher.maxRows,
          });
        } catch (error) {
          // A limit is named, never the query (GraphQueryLimitError renders itself as a CypherSearchError);
          // any other failure stays the reference's message.
          if (error instanceof GraphQueryLimitError) throw error;
          throw cypherSearchError('An error occurred during the execution of the Cypher query.');
        }
        return { completion: null, context: rows, objects: rows };
      }
      default:
        throw searchTypeNotSupported(`Search type ${request.type} is not supported by this server.`);
    }
  };
  return cypher ? deps.stores.with(dataset, work) : deps.stores.read(dataset, work);
}

/** The reference's choice of what a result holds. */
export function searchResultOf(outcome: SearchOutcome, onlyContext: boolean): unknown {
  if (onlyContext) return outcome.context;
  if (outcome.completion && outcome.completion.length > 0) return outcome.completion;
  if (outcome.context && (!Array.isArray(outcome.context) || outcome.context.length > 0)) return outcome.context;
  return outcome.objects;
}
