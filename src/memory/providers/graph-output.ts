/**
 * What the model is asked for when it extracts a knowledge graph, and how its answer is read: the
 * strict JSON schema, the prompts, a lenient JSON reader and the sanitiser that keeps only
 * well-formed nodes and edges.
 */
import type { ExtractedGraph } from './types.js';

/** The JSON schema of an extracted knowledge graph (strict structured output). */
export const KNOWLEDGE_GRAPH_SCHEMA: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['nodes', 'edges'],
  properties: {
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'type', 'description'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          type: { type: 'string' },
          description: { type: 'string' },
        },
      },
    },
    edges: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source_node_id', 'target_node_id', 'relationship_name', 'description'],
        properties: {
          source_node_id: { type: 'string' },
          target_node_id: { type: 'string' },
          relationship_name: { type: 'string' },
          description: { type: 'string' },
        },
      },
    },
  },
};

export const KNOWLEDGE_GRAPH_SCHEMA_NAME = 'KnowledgeGraph';

/** The default system prompt for knowledge-graph extraction. */
export const GRAPH_EXTRACTION_PROMPT = `You build knowledge graphs from text.

Read the text the user sends and extract the entities it talks about and the relationships between them.

Nodes (entities):
- Extract people, organisations, places, concepts, events, products, works and dates that the text states something about.
- "id" and "name" are both the entity's name exactly as it is best written (e.g. "Ada Lovelace", "University of Oxford", "1843"). Use the most complete name for an entity and the same id every time it is mentioned; never create two nodes for one entity.
- "type" is a short, general category in lower case and singular: person, organisation, place, concept, event, date, product, work, ...
- "description" is one sentence, taken from the text, saying what the text tells about the entity.
- Dates and years are nodes of type date, written as in the text (prefer ISO form such as 1843 or 1843-07-10 when unambiguous).

Edges (relationships):
- "source_node_id" and "target_node_id" are ids of nodes you extracted.
- "relationship_name" is a short verb phrase in lower snake_case (e.g. works_for, born_in, founded, located_in, part_of, wrote).
- "description" is one sentence stating the fact.
- Only state facts the text supports; do not invent entities or relationships, and do not link an entity to itself.

Answer with a JSON object {"nodes": [...], "edges": [...]} only. If the text contains no entities, answer {"nodes": [], "edges": []}.`;

export const GRAPH_FORMAT_REMINDER =
  'Answer with a JSON object {"nodes": [{"id", "name", "type", "description"}], "edges": [{"source_node_id", "target_node_id", "relationship_name", "description"}]} only; node ids are the entity names.';

export const SUMMARY_PROMPT =
  'You summarise text. Write a concise summary of the text the user sends, in the language of the text: keep the key facts, names, numbers and conclusions, leave out details. Answer with the summary only, as plain text, without a preamble or markdown.';

export const INVALID_JSON_RETRY =
  'Your previous reply was not valid JSON. Reply again with only a JSON object that matches the requested schema, with no other text and no markdown.';

/** Parses a model's reply as a JSON object (tolerating ```json fences and surrounding prose). */
export function parseJsonObject(content: string): Record<string, unknown> | undefined {
  let text = content.trim();
  if (text.startsWith('```')) {
    const newline = text.indexOf('\n');
    text = newline === -1 ? text.slice(3) : text.slice(newline + 1);
    if (text.trimEnd().endsWith('```')) text = text.trimEnd().slice(0, -3);
    text = text.trim();
  }
  const attempt = (candidate: string): Record<string, unknown> | undefined => {
    try {
      const value: unknown = JSON.parse(candidate);
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const direct = attempt(text);
  if (direct !== undefined) return direct;
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  return open !== -1 && close > open ? attempt(text.slice(open, close + 1)) : undefined;
}

export function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** Keeps the well-formed nodes and the edges between known nodes of a model's graph. */
export function sanitizeGraph(value: unknown): ExtractedGraph {
  const record = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const nodes: Array<{ id: string; name: string; type: string; description: string }> = [];
  const ids = new Map<string, string>();
  const byLowerCase = new Map<string, string>();
  for (const raw of Array.isArray(record.nodes) ? record.nodes : []) {
    if (raw === null || typeof raw !== 'object') continue;
    const node = raw as Record<string, unknown>;
    if (!nonEmptyString(node.id) || !nonEmptyString(node.type)) continue;
    const id = node.id.trim();
    if (ids.has(id)) continue;
    const name = nonEmptyString(node.name) ? node.name.trim() : id;
    ids.set(id, id);
    if (!byLowerCase.has(id.toLowerCase())) byLowerCase.set(id.toLowerCase(), id);
    if (!byLowerCase.has(name.toLowerCase())) byLowerCase.set(name.toLowerCase(), id);
    nodes.push({ id, name, type: node.type.trim(), description: typeof node.description === 'string' ? node.description.trim() : '' });
  }
  const resolve = (ref: unknown): string | undefined => {
    if (!nonEmptyString(ref)) return undefined;
    const trimmed = ref.trim();
    return ids.get(trimmed) ?? byLowerCase.get(trimmed.toLowerCase());
  };
  const edges: Array<{ source_node_id: string; target_node_id: string; relationship_name: string; description: string }> = [];
  const seen = new Set<string>();
  for (const raw of Array.isArray(record.edges) ? record.edges : []) {
    if (raw === null || typeof raw !== 'object') continue;
    const edge = raw as Record<string, unknown>;
    const source = resolve(edge.source_node_id);
    const target = resolve(edge.target_node_id);
    if (source === undefined || target === undefined || !nonEmptyString(edge.relationship_name)) continue;
    const relationship = edge.relationship_name.trim();
    const key = `${source}\u0000${target}\u0000${relationship}`;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({
      source_node_id: source,
      target_node_id: target,
      relationship_name: relationship,
      description: typeof edge.description === 'string' ? edge.description.trim() : '',
    });
  }
  return { nodes, edges };
}

/** OpenAI's json_schema names allow [a-zA-Z0-9_-]{1,64}. */
