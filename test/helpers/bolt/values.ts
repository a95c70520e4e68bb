/**
 * Values between Kuzu and Bolt, for the Bolt stand-in (see index.ts): what Kuzu returns as the
 * Bolt values (nodes, relationships, paths, temporal structures) a Neo4j server would send, and
 * the parameters a client sends as Kuzu parameters.
 */
import type { KuzuValue } from 'kuzu';
import { Float, Struct } from './codec.js';
import { BoltFailure, type Version } from './protocol.js';

type Convert = (x: unknown, top: boolean) => unknown;

/** A Kuzu value as its Bolt value, given the column's Kuzu type and the negotiated version. */
export function toBolt(value: unknown, type: string, version: Version): unknown {
  const v5 = version.major >= 5;
  const floats = /DOUBLE|FLOAT|DECIMAL/.test(type);
  const convert = (x: unknown, top: boolean): unknown => {
    if (x === null || x === undefined) return null;
    if (typeof x === 'number') return floats ? new Float(x) : x;
    if (typeof x === 'bigint' || typeof x === 'string' || typeof x === 'boolean') return x;
    if (x instanceof Date) {
      if (top && type === 'DATE') return new Struct(0x44, [Math.floor(x.getTime() / 86_400_000)]);
      const ms = x.getTime();
      const seconds = Math.floor(ms / 1000);
      const nanos = (ms - seconds * 1000) * 1_000_000;
      return new Struct(v5 ? 0x49 : 0x46, [seconds, nanos, 0]);
    }
    if (x instanceof Uint8Array) return x;
    if (Array.isArray(x)) return x.map((item) => convert(item, false));
    if (typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (Array.isArray(o._nodes) && Array.isArray(o._rels))
        return path(o._nodes as Record<string, unknown>[], o._rels as Record<string, unknown>[], convert, version);
      if (isKuzuId(o._id) && typeof o._label === 'string') {
        return isKuzuId(o._src) && isKuzuId(o._dst) ? relationship(o, convert, version) : node(o, convert, version);
      }
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(o)) out[k] = convert(item, false);
      return out;
    }
    return String(x);
  };
  return convert(value, true);
}

function properties(o: Record<string, unknown>, convert: Convert): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k.startsWith('_') || v === null || v === undefined) continue;
    out[k] = convert(v, false);
  }
  return out;
}

function node(o: Record<string, unknown>, convert: Convert, version: Version): Struct {
  const id = numericId(o._id as KuzuId);
  const fields: unknown[] = [id, [o._label], properties(o, convert)];
  if (version.major >= 5) fields.push(elementId(o._id as KuzuId));
  return new Struct(0x4e, fields);
}

function relationship(o: Record<string, unknown>, convert: Convert, version: Version): Struct {
  const fields: unknown[] = [numericId(o._id as KuzuId), numericId(o._src as KuzuId), numericId(o._dst as KuzuId), o._label, properties(o, convert)];
  if (version.major >= 5) fields.push(elementId(o._id as KuzuId), elementId(o._src as KuzuId), elementId(o._dst as KuzuId));
  return new Struct(0x52, fields);
}

function path(nodes: Record<string, unknown>[], rels: Record<string, unknown>[], convert: Convert, version: Version): Struct {
  const nodeStructs = nodes.map((n) => node(n, convert, version));
  const relStructs = rels.map((r) => {
    const fields: unknown[] = [numericId(r._id as KuzuId), r._label, properties(r, convert)];
    if (version.major >= 5) fields.push(elementId(r._id as KuzuId));
    return new Struct(0x72, fields);
  });
  const sequence: number[] = [];
  rels.forEach((r, i) => {
    const from = nodes[i]?._id as KuzuId | undefined;
    const forward = from !== undefined && sameId(r._src as KuzuId, from);
    sequence.push(forward ? i + 1 : -(i + 1), i + 1);
  });
  return new Struct(0x50, [nodeStructs, relStructs, sequence]);
}

type KuzuId = { offset: number | bigint; table: number | bigint };
function isKuzuId(v: unknown): v is KuzuId {
  return v !== null && typeof v === 'object' && 'offset' in (v as object) && 'table' in (v as object);
}
function numericId(id: KuzuId): bigint {
  return (BigInt(id.table) << 40n) | BigInt(id.offset);
}
function elementId(id: KuzuId): string {
  return `4:standin:${numericId(id)}`;
}
function sameId(a: KuzuId, b: KuzuId): boolean {
  return BigInt(a.table) === BigInt(b.table) && BigInt(a.offset) === BigInt(b.offset);
}

/** Bolt parameters as Kuzu parameters (structures other than the plain types are refused). */
export function toKuzuParams(params: Record<string, unknown>): Record<string, KuzuValue> {
  const convert = (v: unknown): KuzuValue => {
    if (v instanceof Float) return v.value;
    if (v instanceof Struct)
      throw new BoltFailure('Neo.ClientError.Request.Invalid', `parameters of structure type 0x${v.tag.toString(16)} are not supported by this stand-in`);
    if (Array.isArray(v)) return v.map(convert);
    if (v instanceof Uint8Array) return v as unknown as KuzuValue;
    if (v !== null && typeof v === 'object') {
      const out: Record<string, KuzuValue> = {};
      for (const [k, item] of Object.entries(v)) out[k] = convert(item);
      return out;
    }
    return v as KuzuValue;
  };
  const out: Record<string, KuzuValue> = {};
  for (const [k, v] of Object.entries(params)) out[k] = convert(v);
  return out;
}
