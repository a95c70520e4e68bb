/**
 * One Bolt connection's Kuzu side, for the Bolt stand-in (see index.ts): its Kuzu connection, the
 * transaction open on it (read-only for access mode `r`, holding the server's write lock for `w`,
 * with `tx_timeout` as Kuzu's query timeout), the results being streamed, and the schema commands
 * accepted in place of Cypher.
 */
import kuzu from 'kuzu';
import type { Connection, KuzuValue, QueryResult } from 'kuzu';
import { BoltFailure, failureOf } from './protocol.js';
import type { BoltStandIn } from './server.js';

const NODE_COLUMNS = new Set(['pk', 'id', 'dataset_id', 'name', 'type', 'properties', 'created_at', 'updated_at']);
/** Kuzu's setQueryTimeout refuses 0: a day stands for "no limit". */
const NO_TIMEOUT_MS = 86_400_000;

export interface OpenResult {
  readonly qid: number;
  readonly result: QueryResult | null;
  readonly fields: string[];
  readonly types: string[];
  readonly writes: boolean;
}

interface Transaction {
  readonly mode: 'r' | 'w';
  readonly started: number;
  readonly timeoutMs: number | null;
  /** Releases the write lock (write transactions). */
  readonly release: (() => void) | null;
  /** False once Kuzu ended it (a failed statement rolls the Kuzu transaction back). */
  kuzuOpen: boolean;
  readonly autoCommit: boolean;
}

export class KuzuTransactions {
  /** The results being streamed, by qid. */
  readonly results = new Map<number, OpenResult>();
  private readonly conn: Connection;
  private readonly connReady: Promise<void>;
  private tx: Transaction | null = null;
  private nextQid = 0;

  constructor(private readonly server: BoltStandIn) {
    this.conn = new kuzu.Connection(server.db);
    this.connReady = this.conn.init();
  }

  async begin(extra: Record<string, unknown>, autoCommit: boolean): Promise<void> {
    await this.connReady;
    const mode = extra.mode === 'r' ? 'r' : 'w';
    const rawTimeout = extra.tx_timeout;
    const timeoutMs = typeof rawTimeout === 'number' && rawTimeout > 0 ? rawTimeout : null;
    this.server.stats.modes.push(mode);
    if (timeoutMs !== null) this.server.stats.txTimeouts.push(timeoutMs);
    const release = mode === 'w' ? await this.server.writeLock.acquire() : null;
    try {
      await this.run(mode === 'r' ? 'BEGIN TRANSACTION READ ONLY' : 'BEGIN TRANSACTION');
    } catch (error) {
      release?.();
      throw error;
    }
    this.tx = { mode, started: Date.now(), timeoutMs, release, kuzuOpen: true, autoCommit };
  }

  /** Commits or rolls back the open transaction, if any, closing its results. */
  async end(commit: boolean): Promise<void> {
    for (const open of this.results.values()) {
      try {
        open.result?.close();
      } catch {
        // Already closed.
      }
    }
    this.results.clear();
    const tx = this.tx;
    if (!tx) return;
    this.tx = null;
    try {
      if (commit && tx.kuzuOpen) {
        await this.run('COMMIT');
      } else {
        // Kuzu ends a transaction whose statement failed at run time, not one whose statement it
        // refused before running it: roll back either way (a refused rollback is fine).
        await this.run('ROLLBACK').catch(() => undefined);
        if (commit) throw new BoltFailure('Neo.ClientError.Transaction.TransactionNotFound', 'The transaction was rolled back after a failure.');
      }
    } finally {
      tx.release?.();
    }
  }

  checkTimeout(): void {
    const tx = this.tx;
    if (tx?.timeoutMs && Date.now() - tx.started > tx.timeoutMs) throw failureOf(new Error('Interrupted: transaction timeout'));
  }

  /** Executes one statement in the open transaction; its result is kept under a new qid. */
  async execute(query: string, params: Record<string, KuzuValue>): Promise<OpenResult> {
    const tx = this.tx!;
    const schema = schemaCommand(query);
    let opened: Omit<OpenResult, 'qid'>;
    if (schema) {
      if (tx.mode === 'r') throw new BoltFailure('Neo.ClientError.Statement.AccessMode', 'Schema operations are not allowed in read access mode.');
      this.server.stats.schemaCommands.push(query.trim());
      opened = { result: null, fields: [], types: [], writes: true };
    } else {
      opened = await this.executeCypher(tx, query, params);
    }
    const qid = this.nextQid++;
    const open = { qid, ...opened };
    this.results.set(qid, open);
    return open;
  }

  /** Closes the Kuzu connection (after `end`). */
  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }

  private async executeCypher(tx: Transaction, query: string, params: Record<string, KuzuValue>): Promise<Omit<OpenResult, 'qid'>> {
    this.checkTimeout();
    const remaining = tx.timeoutMs ? Math.max(1, tx.timeoutMs - (Date.now() - tx.started)) : NO_TIMEOUT_MS;
    this.conn.setQueryTimeout(remaining);
    let result: QueryResult | QueryResult[];
    try {
      const prepared = await this.conn.prepare(query);
      result = await this.conn.execute(prepared, params);
    } catch (error) {
      // Kuzu ends a transaction whose statement failed.
      tx.kuzuOpen = false;
      throw error;
    }
    const results = Array.isArray(result) ? result : [result];
    for (const extra of results.slice(1)) extra.close();
    const first = results[0]!;
    return {
      result: first,
      fields: first.getColumnNamesSync(),
      types: first.getColumnDataTypesSync(),
      writes: /\b(CREATE|MERGE|SET|DELETE|REMOVE)\b/i.test(query),
    };
  }

  private async run(statement: string): Promise<void> {
    const result = await this.conn.query(statement);
    for (const each of Array.isArray(result) ? result : [result]) each.close();
  }
}

/** A schema command the stand-in accepts (see index.ts), or null for a plain Cypher statement. */
function schemaCommand(query: string): string | null {
  const q = query.trim();
  if (!/^(CREATE|DROP)\s+(CONSTRAINT|INDEX|RANGE\s+INDEX|TEXT\s+INDEX|POINT\s+INDEX|FULLTEXT\s+INDEX|LOOKUP\s+INDEX|VECTOR\s+INDEX)\b/i.test(q)) return null;
  if (/^CREATE\s+CONSTRAINT\s+\w+\s+IF\s+NOT\s+EXISTS\s+FOR\s+\(\s*(\w+)\s*:\s*Node\s*\)\s+REQUIRE\s+(\w+)\.pk\s+IS\s+UNIQUE$/i.test(q)) {
    const [, variable, used] = /FOR\s+\(\s*(\w+)[\s\S]*REQUIRE\s+(\w+)\./i.exec(q)!;
    if (variable === used) return q;
  }
  const index = /^CREATE\s+INDEX\s+\w+\s+IF\s+NOT\s+EXISTS\s+FOR\s+\(\s*(\w+)\s*:\s*Node\s*\)\s+ON\s+\(\s*(\w+)\.(\w+)\s*\)$/i.exec(q);
  if (index && index[1] === index[2] && NODE_COLUMNS.has(index[3]!)) return q;
  throw new BoltFailure('Neo.ClientError.Statement.SyntaxError', `this stand-in does not support the schema command: ${q}`);
}
