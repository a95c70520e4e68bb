import type { SearchOutcome, SearchType } from './search.js';
import type { QaEntry, TraceEntry } from './sessions.js';

/**
 * Recall: which memory sources a request reads (its scopes) and the reference's result shapes —
 * graph hits normalised to `SearchResultItem` (`kind`, `text`, `raw` always an object, `score`,
 * provenance metadata), session turns and trace steps ranked by shared words.
 */

export const RECALL_SCOPES = ['auto', 'graph', 'session', 'trace', 'graph_context', 'session_context', 'all', 'tools', 'code'] as const;
export type RecallSource = 'graph' | 'session' | 'trace' | 'session_context' | 'tools' | 'code';

/** A scope name the reference does not know. */
export class UnknownScope extends Error {
  constructor(readonly unknown: readonly string[]) {
    super(`Unknown recall scope(s): ${JSON.stringify(unknown)}. Valid values: ${JSON.stringify([...RECALL_SCOPES].sort())}`);
  }
}

/** The reference's `normalize_scope`: canonical, de-duplicated; `graph_context` is `graph`; `all` never implies `tools` or `code`. */
export function normalizeScope(scope: string | readonly string[] | null | undefined): string[] {
  if (scope === null || scope === undefined) return ['auto'];
  const scopes = typeof scope === 'string' ? [scope] : [...scope];
  const unknown = scopes.filter((s) => !(RECALL_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new UnknownScope(unknown);
  const canonical = scopes.map((s) => (s === 'graph_context' ? 'graph' : s));
  if (canonical.includes('all')) return ['graph', 'session', 'trace', 'session_context', ...(canonical.includes('tools') ? ['tools'] : [])];
  return [...new Set(canonical)];
}

/**
 * The sources a recall reads, in order. `auto`: with a session and neither datasets nor a search
 * type, the session first and the graph only when the session has nothing (`shortCircuit`); with a
 * session and datasets, both; without a session, the graph.
 */
export function resolveSources(
  scopes: readonly string[],
  request: { readonly sessionId: string | null; readonly hasDatasets: boolean; readonly searchTypeGiven: boolean },
): { sources: RecallSource[]; shortCircuit: boolean } {
  if (scopes.length === 1 && scopes[0] === 'auto') {
    if (request.sessionId && !request.searchTypeGiven) return { sources: ['session', 'graph'], shortCircuit: !request.hasDatasets };
    return { sources: ['graph'], shortCircuit: false };
  }
  return { sources: scopes.filter((s) => s !== 'auto') as RecallSource[], shortCircuit: false };
}

const MIN_WORD_LENGTH = 2;

/** Lower-case word tokens (letters and digits of any script), as the reference's `_tokenize`. */
export function words(text: string): Set<string> {
  const out = new Set<string>();
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}_]+/gu)) if (match[0].length >= MIN_WORD_LENGTH) out.add(match[0]);
  return out;
}

/**
 * Ranks entries by how many of the query's words they share, best first (ties keep the newer first);
 * entries sharing none are left out. An empty query lists the most recent entries.
 */
export function rankByWords<E>(entries: readonly E[], query: string, topK: number, textOf: (entry: E) => string): E[] {
  const queryWords = words(query);
  if (queryWords.size === 0) return entries.slice(-topK).reverse();
  const scored: { entry: E; hits: number; index: number }[] = [];
  entries.forEach((entry, index) => {
    let hits = 0;
    for (const w of words(textOf(entry))) if (queryWords.has(w)) hits++;
    if (hits > 0) scored.push({ entry, hits, index });
  });
  scored.sort((a, b) => b.hits - a.hits || b.index - a.index);
  return scored.slice(0, topK).map((s) => s.entry);
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/** Session QA turns matching the query, tagged `source: "session"`. */
export function searchSessionTurns(entries: readonly QaEntry[], query: string, topK: number) {
  return rankByWords(entries, query, topK, (e) => `${e.question} ${e.context} ${e.answer}`).map((e) => ({ ...e, source: 'session' as const }));
}

/** Agent trace steps matching the query, tagged `source: "trace"`. */
export function searchTraceSteps(entries: readonly TraceEntry[], query: string, topK: number) {
  return rankByWords(entries, query, topK, (e) =>
    [
      e.origin_function,
      e.status,
      e.memory_query,
      e.memory_context,
      e.session_feedback,
      e.error_message,
      json(e.method_params),
      json(e.method_return_value),
    ].join(' '),
  ).map((e) => ({ ...e, source: 'trace' as const }));
}

/** The reference's `SearchResultKind` for each search type. */
const KIND_BY_TYPE: Partial<Record<SearchType, string>> = {
  GRAPH_COMPLETION: 'graph_completion',
  GRAPH_COMPLETION_COT: 'graph_completion',
  GRAPH_COMPLETION_DECOMPOSITION: 'graph_completion',
  GRAPH_COMPLETION_CONTEXT_EXTENSION: 'graph_completion',
  GRAPH_SUMMARY_COMPLETION: 'graph_completion',
  HYBRID_COMPLETION: 'graph_completion',
  AGENTIC_COMPLETION: 'graph_completion',
  RAG_COMPLETION: 'rag_completion',
  TRIPLET_COMPLETION: 'triplet_completion',
  CYPHER: 'cypher',
  NATURAL_LANGUAGE: 'natural_language',
  TEMPORAL: 'temporal',
  CODING_RULES: 'coding_rule',
  CODE: 'code',
  CHUNKS: 'chunk',
  CHUNKS_LEXICAL: 'chunk',
  SUMMARIES: 'summary',
} as Partial<Record<string, string>>;

export function resultKind(type: SearchType): string {
  return KIND_BY_TYPE[type] ?? 'unknown';
}

function asObject(value: unknown): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return { value };
  return { value: String(value) };
}

function textOf(payload: Record<string, unknown>): string {
  for (const key of ['text', 'completion', 'summary', 'name', 'content', 'answer']) {
    const value = payload[key];
    if (typeof value === 'string' && value) return value;
  }
  return json(payload);
}

/** The chunk or summary a hit came from: its item (`data_id`), chunk id and index, document name. */
function provenance(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (raw.document_id !== undefined && raw.document_id !== null) out.data_id = String(raw.document_id);
  if (raw.id !== undefined && raw.id !== null) out.chunk_id = String(raw.id);
  if (Number.isInteger(raw.chunk_index)) out.chunk_index = raw.chunk_index;
  if (raw.document_name !== undefined && raw.document_name !== null) out.document_name = String(raw.document_name);
  return out;
}

/** One dataset's outcome as the reference's graph entries (`normalize_search_payload`, tagged `source: "graph"`). */
export function graphEntries(type: SearchType, outcome: SearchOutcome, onlyContext: boolean, dataset: { readonly id: string; readonly name: string }) {
  const flatten = (v: unknown): unknown[] => (v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const entries = onlyContext
    ? flatten(outcome.context)
    : outcome.completion !== null
      ? flatten(outcome.completion)
      : outcome.context !== null && outcome.context !== undefined
        ? flatten(outcome.context)
        : flatten(outcome.objects);
  const kind = resultKind(type);
  return entries.map((entry) => {
    let raw: Record<string, unknown>;
    let text: string;
    if (typeof entry === 'string') {
      raw = { value: entry };
      text = entry;
    } else if (Array.isArray(entry)) {
      raw = { value: entry.map(asObject) };
      text = json(raw.value);
    } else {
      raw = asObject(entry);
      text = textOf(raw);
    }
    const score = entry && typeof entry === 'object' && typeof (entry as { score?: unknown }).score === 'number' ? (entry as { score: number }).score : null;
    return {
      kind,
      search_type: type,
      text,
      score,
      dataset_id: dataset.id,
      dataset_name: dataset.name,
      metadata: provenance(raw),
      raw,
      structured: null,
      source: 'graph' as const,
    };
  });
}
