/**
 * Kuzu connection primitives shared by the graph store (`kuzu.ts`) and the Cypher sandbox's dataset
 * copies (`../cypher-sandbox/copy-engine.ts`): the schema, result reading, batches, transactions,
 * and the read-only run of a user query.
 */
import type { Connection, KuzuValue, QueryResult } from 'kuzu';
import { GraphQueryTimeoutError } from './common.js';

/** Result rows read synchronously between two yields to the event loop. */
const READ_CHUNK = 1000;

export const SCHEMA = [
  'CREATE NODE TABLE IF NOT EXISTS Node(pk STRING PRIMARY KEY, id STRING, dataset_id STRING, name STRING, type STRING, properties STRING, created_at TIMESTAMP, updated_at TIMESTAMP)',
  'CREATE REL TABLE IF NOT EXISTS EDGE(FROM Node TO Node, relationship_name STRING, properties STRING, created_at TIMESTAMP, updated_at TIMESTAMP)',
];

export type Row = Record<string, KuzuValue>;
export type Params = Record<string, KuzuValue>;

function yieldToEventLoop(): Promise<void> {
  return new Promise((done) => setImmediate(done));
}

export function closeAll(result: QueryResult | QueryResult[]): void {
  for (const each of Array.isArray(result) ? result : [result]) {
    try {
      each.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Reads at most `max` rows of `result`, synchronously in chunks (an asynchronous read costs a
 * thread-pool round trip per row, about ten times slower), yielding to the event loop between
 * chunks; `deadline` is called between chunks and throws to stop a long read.
 */
export async function readRows(result: QueryResult, max = Number.POSITIVE_INFINITY, deadline?: () => void): Promise<Row[]> {
  const rows: Row[] = [];
  while (rows.length < max && result.hasNext()) {
    const row = result.getNextSync();
    if (row === null) break;
    rows.push(row);
    if (rows.length % READ_CHUNK === 0) {
      deadline?.();
      await yieldToEventLoop();
    }
  }
  return rows;
}

export function timestampParam(value: KuzuValue | undefined): string | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : null;
}

/**
 * A Kuzu result value as plain JSON: BigInt as a number when it is exact, else as a decimal
 * string; Date as an ISO string; bytes (BLOB) as base64; non-finite numbers as null. Nodes and
 * relationships keep Kuzu's shape (`_id`, `_label`, `_src`, `_dst` and their properties).
 */
export function toJsonValue(value: unknown): unknown {
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
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = toJsonValue(item);
  return out;
}

/** Rows as parallel lists, one per column (far cheaper to pass to Kuzu than a list of structs). */
export function columns<T extends object, K extends keyof T & string>(rows: readonly T[], keys: readonly K[]): Record<K, KuzuValue[]> {
  const out = {} as Record<K, KuzuValue[]>;
  for (const key of keys) out[key] = rows.map((row) => (row[key] ?? null) as KuzuValue);
  return out;
}

/** A row read from the store, to copy: timestamps as ISO strings (Kuzu reads a Date parameter as a DATE). */
export function copyRow(row: Row): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) out[key] = value instanceof Date ? timestampParam(value) : (value ?? null);
  return out;
}

/** Runs one statement with parameters and reads every row of its (last) result. */
export async function readAll(conn: Connection, statement: string, params: Params): Promise<Row[]> {
  const prepared = await conn.prepare(statement);
  const result = await conn.execute(prepared, params);
  try {
    return await readRows(Array.isArray(result) ? result[result.length - 1]! : result);
  } finally {
    closeAll(result);
  }
}

/** Runs a statement without parameters, closing its result(s). */
export async function run(conn: Connection, statement: string): Promise<void> {
  closeAll(await conn.query(statement));
}

/** Runs a prepared statement once per parameter set. */
export async function executeBatches(conn: Connection, statement: string, params: Params[]): Promise<void> {
  if (params.length === 0) return;
  const prepared = await conn.prepare(statement);
  for (const each of params) closeAll(await conn.execute(prepared, each));
}

/** Runs `task` in a read-write transaction: its writes are all kept, or none. */
export async function transaction<T>(conn: Connection, task: () => Promise<T>): Promise<T> {
  await run(conn, 'BEGIN TRANSACTION');
  let result: T;
  try {
    result = await task();
  } catch (error) {
    // A failed statement already ends the transaction; the rollback is then refused.
    await run(conn, 'ROLLBACK').catch(() => undefined);
    throw error;
  }
  await run(conn, 'COMMIT');
  return result;
}

/**
 * Runs `query`, a single statement, on `conn` inside a read-only transaction with the time
 * limit, and reads at most `maxRows` rows of its result as plain JSON. The query is prepared,
 * and Kuzu prepares one statement only: a query cannot end the read-only transaction and then
 * write.
 */
export async function runReadOnly(conn: Connection, query: string, timeoutMs: number, maxRows: number): Promise<Record<string, unknown>[]> {
  const started = Date.now();
  const deadline = (): void => {
    if (Date.now() - started > timeoutMs) throw new GraphQueryTimeoutError(timeoutMs);
  };
  conn.setQueryTimeout(Math.max(1, Math.ceil(timeoutMs)));
  await run(conn, 'BEGIN TRANSACTION READ ONLY');
  let result: QueryResult | QueryResult[] | undefined;
  try {
    try {
      result = await conn.execute(await conn.prepare(query), {});
    } catch (error) {
      if (error instanceof Error && /interrupt/i.test(error.message)) throw new GraphQueryTimeoutError(timeoutMs);
      throw error;
    }
    const first = Array.isArray(result) ? result[0] : result;
    const rows = first ? await readRows(first, maxRows, deadline) : [];
    return rows.map((row) => toJsonValue(row) as Record<string, unknown>);
  } finally {
    if (result) closeAll(result);
    // A failed query already ends the transaction; the commit is then refused.
    await run(conn, 'COMMIT').catch(() => undefined);
  }
}
