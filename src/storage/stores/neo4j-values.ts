/** Values read through `neo4j-driver` as plain JSON, and as the dataset copy's columns. */
import neo4j from 'neo4j-driver';
import { text } from './common.js';
import type { CopyEdgeRow, CopyNodeRow } from '../types.js';

/** A string as an ISO timestamp for the in-memory copy's TIMESTAMP columns, else null. */
export function isoOrNull(value: unknown): string | null {
  return typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) ? value : null;
}

/**
 * A value read through the driver as plain JSON: integers as numbers when exact, else decimal
 * strings; nodes, relationships and paths in the Kuzu store's shape (`_id` = element id, `_label`,
 * `_src`, `_dst`, `_nodes`, `_rels`, then the properties); temporal values as ISO-8601 strings;
 * points as {srid, x, y[, z]}; bytes as base64; non-finite numbers as null.
 */
export function fromNeo4jValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    case 'object':
      break;
    default:
      return null;
  }
  if (neo4j.isInt(value)) return value.inSafeRange() ? value.toNumber() : value.toString();
  if (neo4j.isNode(value)) {
    return { _id: value.elementId, _label: value.labels[0] ?? '', ...propertiesJson(value.properties) };
  }
  if (neo4j.isRelationship(value)) {
    return {
      _id: value.elementId,
      _label: value.type,
      _src: value.startNodeElementId,
      _dst: value.endNodeElementId,
      ...propertiesJson(value.properties),
    };
  }
  if (neo4j.isUnboundRelationship(value)) return { _id: value.elementId, _label: value.type, ...propertiesJson(value.properties) };
  if (neo4j.isPath(value)) {
    const nodes = [value.start, ...value.segments.map((s) => s.end)];
    return { _nodes: nodes.map(fromNeo4jValue), _rels: value.segments.map((s) => fromNeo4jValue(s.relationship)) };
  }
  if (
    neo4j.isDate(value) ||
    neo4j.isDateTime(value) ||
    neo4j.isLocalDateTime(value) ||
    neo4j.isTime(value) ||
    neo4j.isLocalTime(value) ||
    neo4j.isDuration(value)
  ) {
    return value.toString();
  }
  if (neo4j.isPoint(value)) {
    const srid = fromNeo4jValue(value.srid);
    return value.z === undefined ? { srid, x: value.x, y: value.y } : { srid, x: value.x, y: value.y, z: value.z };
  }
  if (value instanceof Uint8Array || value instanceof Int8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  if (Array.isArray(value)) return value.map(fromNeo4jValue);
  return propertiesJson(value as Record<string, unknown>);
}

function propertiesJson(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(properties)) out[key] = fromNeo4jValue(item);
  return out;
}

/** A node row read from the server, as the dataset copy takes it. */
export function copyNodeRow(r: Record<string, unknown>): CopyNodeRow {
  return {
    pk: text(r.pk),
    id: text(r.id),
    dataset_id: text(r.dataset_id),
    name: text(r.name),
    type: text(r.type),
    properties: typeof r.properties === 'string' ? r.properties : '{}',
    created_at: isoOrNull(r.created_at),
    updated_at: isoOrNull(r.updated_at),
  };
}

/** An edge row read from the server, as the dataset copy takes it. */
export function copyEdgeRow(r: Record<string, unknown>): CopyEdgeRow {
  return {
    source: text(r.source),
    target: text(r.target),
    relationship_name: text(r.relationship_name),
    properties: typeof r.properties === 'string' ? r.properties : '{}',
    created_at: isoOrNull(r.created_at),
    updated_at: isoOrNull(r.updated_at),
  };
}
