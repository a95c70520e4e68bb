/**
 * A loopback stand-in for a Neo4j server: it speaks the real Bolt protocol (TCP, the 0x6060B017
 * handshake, PackStream v1, chunked messages) and executes every Cypher statement it receives for
 * real, on an embedded Kuzu database whose schema mirrors the property layout of the Neo4j graph
 * store (src/storage/stores/neo4j.ts):
 *
 *   Node(pk STRING PRIMARY KEY, id, dataset_id, name, type, properties, created_at, updated_at: STRING)
 *   EDGE(FROM Node TO Node, relationship_name, properties, created_at, updated_at: STRING)
 *
 * No Neo4j server can run on this machine; the official `neo4j-driver` talks to this one exactly as
 * it talks to Neo4j, so nothing the store sends is answered from a script: a wrong query fails
 * with Kuzu's error, a right one returns what Kuzu computes.
 *
 * Served: Bolt 5.0–5.4 and 4.4 (the versions to offer are configurable); HELLO (with the
 * credentials up to 5.0), LOGON, LOGOFF, BEGIN, RUN, PULL, DISCARD, COMMIT, ROLLBACK, RESET,
 * GOODBYE, ROUTE (for `neo4j://` URLs: this server holds every role) and TELEMETRY. The server's
 * state machine follows the Bolt specification: a FAILURE puts the connection in the FAILED state,
 * where every message but RESET and GOODBYE is IGNORED; a failed authentication closes the
 * connection. Access mode `r` runs the transaction as a Kuzu read-only transaction (a write fails
 * with `Neo.ClientError.Statement.AccessMode`); `tx_timeout` becomes Kuzu's query timeout (a query
 * past it fails with `Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration`). Write
 * transactions are serialised across connections (Kuzu has one writer at a time), like Neo4j's locks.
 *
 * Schema commands have no Kuzu equivalent: `CREATE CONSTRAINT <name> IF NOT EXISTS FOR (n:Node)
 * REQUIRE n.pk IS UNIQUE` is accepted because the Kuzu schema already makes `pk` the primary key,
 * and `CREATE INDEX <name> IF NOT EXISTS FOR (n:Node) ON (n.<column>)` is accepted as a no-op (Kuzu
 * has no secondary indexes); every other schema command is refused. They are counted in `stats`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import kuzu from 'kuzu';
import type { Connection, Database, KuzuValue, QueryResult } from 'kuzu';

const SCHEMA = [
  'CREATE NODE TABLE IF NOT EXISTS Node(pk STRING PRIMARY KEY, id STRING, dataset_id STRING, name STRING, type STRING, properties STRING, created_at STRING, updated_at STRING)',
  'CREATE REL TABLE IF NOT EXISTS EDGE(FROM Node TO Node, relationship_name STRING, properties STRING, created_at STRING, updated_at STRING)',
];
const NODE_COLUMNS = new Set(['pk', 'id', 'dataset_id', 'name', 'type', 'properties', 'created_at', 'updated_at']);
/** Kuzu's setQueryTimeout refuses 0: a day stands for "no limit". */
const NO_TIMEOUT_MS = 86_400_000;

// ---------------------------------------------------------------------------------------------
// PackStream v1
// ---------------------------------------------------------------------------------------------

/** A PackStream structure: a tag byte and its fields. */
export class Struct {
  constructor(
    readonly tag: number,
    readonly fields: unknown[],
  ) {}
}

/** A PackStream Float (a JavaScript number is sent as an Integer when it is integral). */
export class Float {
  constructor(readonly value: number) {}
}

class Writer {
  private buf = Buffer.alloc(1024);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    Buffer.from(b.buffer, b.byteOffset, b.byteLength).copy(this.buf, this.len);
    this.len += b.length;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function packInt(w: Writer, value: bigint): void {
  if (value >= -16n && value <= 127n) {
    w.u8(Number(value) & 0xff);
  } else if (value >= -128n && value <= 127n) {
    w.u8(0xc8);
    w.u8(Number(value) & 0xff);
  } else if (value >= -32768n && value <= 32767n) {
    w.u8(0xc9);
    w.u16(Number(value) & 0xffff);
  } else if (value >= -2147483648n && value <= 2147483647n) {
    w.u8(0xca);
    w.u32(Number(value) >>> 0);
  } else {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    w.u8(0xcb);
    w.bytes(b);
  }
}

function packSize(w: Writer, size: number, tiny: number, m8: number, m16: number, m32: number): void {
  if (size < 16 && tiny >= 0) w.u8(tiny + size);
  else if (size < 0x100 && m8 >= 0) {
    w.u8(m8);
    w.u8(size);
  } else if (size < 0x10000) {
    w.u8(m16);
    w.u16(size);
  } else {
    w.u8(m32);
    w.u32(size);
  }
}

export function pack(w: Writer, value: unknown): void {
  if (value === null || value === undefined) return w.u8(0xc0);
  if (value === true) return w.u8(0xc3);
  if (value === false) return w.u8(0xc2);
  if (value instanceof Float || (typeof value === 'number' && !Number.isInteger(value))) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value instanceof Float ? value.value : (value as number));
    w.u8(0xc1);
    return w.bytes(b);
  }
  if (typeof value === 'number') return packInt(w, BigInt(value));
  if (typeof value === 'bigint') {
    if (value >= -(2n ** 63n) && value < 2n ** 63n) return packInt(w, value);
    return pack(w, value.toString());
  }
  if (typeof value === 'string') {
    const b = Buffer.from(value, 'utf8');
    packSize(w, b.length, 0x80, 0xd0, 0xd1, 0xd2);
    return w.bytes(b);
  }
  if (value instanceof Uint8Array) {
    packSize(w, value.length, -1, 0xcc, 0xcd, 0xce);
    return w.bytes(value);
  }
  if (Array.isArray(value)) {
    packSize(w, value.length, 0x90, 0xd4, 0xd5, 0xd6);
    for (const item of value) pack(w, item);
    return;
  }
  if (value instanceof Struct) {
    w.u8(0xb0 + value.fields.length);
    w.u8(value.tag);
    for (const field of value.fields) pack(w, field);
    return;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    packSize(w, entries.length, 0xa0, 0xd8, 0xd9, 0xda);
    for (const [k, v] of entries) {
      pack(w, k);
      pack(w, v);
    }
    return;
  }
  throw new Error(`cannot pack a ${typeof value}`);
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  read(): unknown {
    const m = this.buf.readUInt8(this.pos++);
    if (m < 0x80) return m;
    if (m >= 0xf0) return m - 0x100;
    const hi = m & 0xf0;
    const lo = m & 0x0f;
    if (hi === 0x80) return this.string(lo);
    if (hi === 0x90) return this.list(lo);
    if (hi === 0xa0) return this.map(lo);
    if (hi === 0xb0) return this.struct(lo);
    switch (m) {
      case 0xc0:
        return null;
      case 0xc1: {
        const v = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return new Float(v);
      }
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc8:
        return this.buf.readInt8(this.pos++);
      case 0xc9: {
        const v = this.buf.readInt16BE(this.pos);
        this.pos += 2;
        return v;
      }
      case 0xca: {
        const v = this.buf.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        const v = this.buf.readBigInt64BE(this.pos);
        this.pos += 8;
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 0xcc:
        return this.bytes(this.size(1));
      case 0xcd:
        return this.bytes(this.size(2));
      case 0xce:
        return this.bytes(this.size(4));
      case 0xd0:
        return this.string(this.size(1));
      case 0xd1:
        return this.string(this.size(2));
      case 0xd2:
        return this.string(this.size(4));
      case 0xd4:
        return this.list(this.size(1));
      case 0xd5:
        return this.list(this.size(2));
      case 0xd6:
        return this.list(this.size(4));
      case 0xd8:
        return this.map(this.size(1));
      case 0xd9:
        return this.map(this.size(2));
      case 0xda:
        return this.map(this.size(4));
      default:
        throw new Error(`unknown PackStream marker 0x${m.toString(16)}`);
    }
  }
  private size(n: 1 | 2 | 4): number {
    const v = n === 1 ? this.buf.readUInt8(this.pos) : n === 2 ? this.buf.readUInt16BE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += n;
    return v;
  }
  private string(n: number): string {
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  private bytes(n: number): Uint8Array {
    const b = new Uint8Array(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
  private list(n: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.read());
    return out;
  }
  private map(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.read();
      if (typeof key !== 'string') throw new Error('a PackStream map key must be a string');
      out[key] = this.read();
    }
    return out;
  }
  private struct(n: number): Struct {
    const tag = this.buf.readUInt8(this.pos++);
    const fields: unknown[] = [];
    for (let i = 0; i < n; i++) fields.push(this.read());
    return new Struct(tag, fields);
  }
}

// ---------------------------------------------------------------------------------------------
// Bolt messages
// ---------------------------------------------------------------------------------------------

const MSG = {
  HELLO: 0x01,
  GOODBYE: 0x02,
  RESET: 0x0f,
  RUN: 0x10,
  BEGIN: 0x11,
  COMMIT: 0x12,
  ROLLBACK: 0x13,
  DISCARD: 0x2f,
  PULL: 0x3f,
  TELEMETRY: 0x54,
  ROUTE: 0x66,
  LOGON: 0x6a,
  LOGOFF: 0x6b,
  SUCCESS: 0x70,
  RECORD: 0x71,
  IGNORED: 0x7e,
  FAILURE: 0x7f,
} as const;

/** A failure answered to the client with a Neo4j status code. */
class BoltFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const UNAUTHORIZED = 'Neo.ClientError.Security.Unauthorized';

/** Kuzu's error as the Neo4j status a client sees. */
function failureOf(error: unknown): BoltFailure {
  if (error instanceof BoltFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  let code = 'Neo.DatabaseError.Statement.ExecutionFailed';
  if (/interrupt/i.test(message)) {
    return new BoltFailure(
      'Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration',
      `The transaction has been terminated. Retry your operation in a new transaction, and you should see a successful result. The transaction has not completed within the timeout specified at its start by the client. (${message})`,
    );
  }
  if (/read-only transaction/i.test(message)) {
    return new BoltFailure('Neo.ClientError.Statement.AccessMode', `Writing in read access mode not allowed. (${message})`);
  }
  if (/^Parser exception|multiple statements/i.test(message)) code = 'Neo.ClientError.Statement.SyntaxError';
  else if (/^Binder exception/i.test(message)) code = 'Neo.ClientError.Statement.SemanticError';
  else if (/duplicated primary key/i.test(message)) code = 'Neo.ClientError.Schema.ConstraintValidationFailed';
  else if (/^Runtime exception/i.test(message)) code = 'Neo.ClientError.Statement.ExecutionFailed';
  return new BoltFailure(code, message);
}

/** One version of the protocol as major.minor. */
type Version = { major: number; minor: number };
const parseVersion = (v: string): Version => {
  const [major, minor] = v.split('.').map(Number);
  return { major: major!, minor: minor! };
};

export interface BoltStandInOptions {
  readonly username?: string;
  readonly password?: string;
  /** Versions served, best first; default 5.4 down to 5.0, then 4.4. */
  readonly versions?: readonly string[];
  /** The one database name served (the default database); default `neo4j`. */
  readonly database?: string;
}

export interface BoltStandInStats {
  /** TCP connections accepted. */
  connections: number;
  /** Connections that completed the handshake, by negotiated version. */
  versions: string[];
  /** Successful authentications (HELLO with credentials, or LOGON). */
  authenticated: number;
  /** Refused authentications. */
  authFailures: number;
  /** RUN messages received, and their statements. */
  queries: number;
  statements: string[];
  /** Access mode of every transaction begun (explicit or auto-commit): 'r' or 'w'. */
  modes: string[];
  /** tx_timeout values (ms) received. */
  txTimeouts: number[];
  /** FAILURE messages sent, by code. */
  failures: string[];
  /** Schema commands accepted. */
  schemaCommands: string[];
  /** ROUTE messages answered. */
  routes: number;
  /** Connections open now. */
  open: number;
}

interface OpenResult {
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

/** A lock with one holder at a time, queued in order. */
class Lock {
  private tail: Promise<void> = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((done) => (release = done));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }
}

export class BoltStandIn {
  readonly stats: BoltStandInStats = {
    connections: 0,
    versions: [],
    authenticated: 0,
    authFailures: 0,
    queries: 0,
    statements: [],
    modes: [],
    txTimeouts: [],
    failures: [],
    schemaCommands: [],
    routes: 0,
    open: 0,
  };
  readonly username: string;
  readonly password: string;
  readonly database: string;
  private readonly versions: Version[];
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<BoltSession>();
  /** Kuzu has one writer at a time. */
  readonly writeLock = new Lock();
  private nextConnection = 1;
  private bookmarkCounter = 0;

  private constructor(
    private readonly server: Server,
    readonly db: Database,
    private readonly adminConn: Connection,
    options: BoltStandInOptions,
  ) {
    this.username = options.username ?? 'neo4j';
    this.password = options.password ?? 'password';
    this.database = options.database ?? 'neo4j';
    this.versions = (options.versions ?? ['5.4', '5.3', '5.2', '5.1', '5.0', '4.4']).map(parseVersion);
  }

  static async start(options: BoltStandInOptions = {}): Promise<BoltStandIn> {
    // A small buffer pool and address space: a test process holds several stand-ins (Kuzu's
    // default reserves 8 TB of address space per database).
    const db = new kuzu.Database(':memory:', 256 * 1024 * 1024, true, false, 2 ** 32);
    const conn = new kuzu.Connection(db);
    await db.init();
    await conn.init();
    for (const statement of SCHEMA) {
      const result = await conn.query(statement);
      for (const each of Array.isArray(result) ? result : [result]) each.close();
    }
    const server = createServer();
    const standIn = new BoltStandIn(server, db, conn, options);
    server.on('connection', (socket) => standIn.accept(socket));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return standIn;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  /** A direct (`bolt://`) URL. */
  get url(): string {
    return `bolt://127.0.0.1:${this.port}`;
  }
  /** A routing (`neo4j://`) URL: the driver asks this server for its routing table first. */
  get routingUrl(): string {
    return `neo4j://127.0.0.1:${this.port}`;
  }

  /** Runs a statement directly on the Kuzu database (for the test's own checks). */
  async query(statement: string, params: Record<string, KuzuValue> = {}): Promise<Record<string, KuzuValue>[]> {
    const prepared = await this.adminConn.prepare(statement);
    const result = await this.adminConn.execute(prepared, params);
    const results = Array.isArray(result) ? result : [result];
    try {
      return (await results[results.length - 1]!.getAll()) as Record<string, KuzuValue>[];
    } finally {
      for (const each of results) each.close();
    }
  }

  /** Closes every connection (their Kuzu results and connections first), the listener and Kuzu. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((done) => this.server.close(() => done()));
    await Promise.all([...this.sessions].map((session) => session.dispose()));
    await this.adminConn.close();
    await this.db.close();
  }

  nextBookmark(): string {
    this.bookmarkCounter += 1;
    return `FB:standin:${this.bookmarkCounter}`;
  }

  private accept(socket: Socket): void {
    this.stats.connections += 1;
    this.stats.open += 1;
    this.sockets.add(socket);
    const session = new BoltSession(this, socket, `bolt-${this.nextConnection++}`);
    this.sessions.add(session);
    socket.on('close', () => {
      this.stats.open -= 1;
      this.sockets.delete(socket);
      void session.dispose().finally(() => this.sessions.delete(session));
    });
    socket.on('error', () => undefined);
  }

  /** The version to speak, from the client's four proposals; null when none is served. */
  negotiate(proposals: Buffer): Version | null {
    for (let i = 0; i < 4; i++) {
      const range = proposals.readUInt8(i * 4 + 1);
      const minor = proposals.readUInt8(i * 4 + 2);
      const major = proposals.readUInt8(i * 4 + 3);
      if (major === 0 || major === 255) continue; // empty slot, or the handshake manifest (not served)
      let best: Version | null = null;
      for (const v of this.versions) {
        if (v.major === major && v.minor <= minor && v.minor >= minor - range && (!best || v.minor > best.minor)) best = v;
      }
      if (best) return best;
    }
    return null;
  }

  checkCredentials(auth: Record<string, unknown>): boolean {
    return auth.scheme === 'basic' && auth.principal === this.username && auth.credentials === this.password;
  }
}

type State = 'NEGOTIATION' | 'AUTHENTICATION' | 'READY' | 'STREAMING' | 'TX_READY' | 'TX_STREAMING' | 'FAILED' | 'DEFUNCT';

/** One client connection. */
class BoltSession {
  private buffer: Buffer = Buffer.alloc(0);
  private handshaken = false;
  private version: Version = { major: 0, minor: 0 };
  private state: State = 'NEGOTIATION';
  private readonly conn: Connection;
  private connReady: Promise<void>;
  private messageParts: Buffer[] = [];
  private work: Promise<void> = Promise.resolve();
  private tx: Transaction | null = null;
  private results = new Map<number, OpenResult>();
  private nextQid = 0;
  private disposed: Promise<void> | null = null;

  constructor(
    private readonly server: BoltStandIn,
    private readonly socket: Socket,
    private readonly connectionId: string,
  ) {
    this.conn = new kuzu.Connection(server.db);
    this.connReady = this.conn.init();
    socket.on('data', (data) => this.onData(data));
  }

  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.state = 'DEFUNCT';
      await this.work.catch(() => undefined);
      await this.endTransaction(false);
      await this.conn.close().catch(() => undefined);
    })();
    return this.disposed;
  }

  private onData(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    if (!this.handshaken) {
      if (this.buffer.length < 20) return;
      if (this.buffer.readUInt32BE(0) !== 0x6060b017) {
        this.socket.destroy();
        return;
      }
      const version = this.server.negotiate(this.buffer.subarray(4, 20));
      this.buffer = this.buffer.subarray(20);
      if (!version) {
        this.socket.end(Buffer.alloc(4));
        return;
      }
      this.version = version;
      this.handshaken = true;
      this.state = 'NEGOTIATION';
      this.server.stats.versions.push(`${version.major}.${version.minor}`);
      this.socket.write(Buffer.from([0, 0, version.minor, version.major]));
    }
    // Chunks: a 2-byte size then the bytes; a message ends with a zero-size chunk.
    while (this.buffer.length >= 2) {
      const size = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + size) break;
      const chunk = this.buffer.subarray(2, 2 + size);
      this.buffer = this.buffer.subarray(2 + size);
      if (size > 0) {
        this.messageParts.push(Buffer.from(chunk));
        continue;
      }
      if (this.messageParts.length === 0) continue; // a NOOP chunk (keep-alive)
      const message = Buffer.concat(this.messageParts);
      this.messageParts = [];
      this.work = this.work.then(() => this.handle(message)).catch(() => {
        this.socket.destroy();
      });
    }
  }

  private send(tag: number, fields: unknown[]): void {
    if (this.socket.destroyed) return;
    const w = new Writer();
    pack(w, new Struct(tag, fields));
    const body = w.result();
    const out = new Writer();
    for (let i = 0; i < body.length; i += 0xffff) {
      const part = body.subarray(i, Math.min(body.length, i + 0xffff));
      out.u16(part.length);
      out.bytes(part);
    }
    out.u16(0);
    this.socket.write(out.result());
  }

  private success(metadata: Record<string, unknown> = {}): void {
    this.send(MSG.SUCCESS, [metadata]);
  }

  private fail(error: BoltFailure): void {
    this.server.stats.failures.push(error.code);
    this.send(MSG.FAILURE, [{ code: error.code, message: error.message }]);
  }

  private get atLeast51(): boolean {
    return this.version.major > 5 || (this.version.major === 5 && this.version.minor >= 1);
  }

  private async handle(message: Buffer): Promise<void> {
    if (this.state === 'DEFUNCT') return;
    const decoded = new Reader(message).read();
    if (!(decoded instanceof Struct)) throw new Error('a Bolt message is a structure');
    const { tag, fields } = decoded;
    if (tag === MSG.GOODBYE) {
      this.state = 'DEFUNCT';
      await this.endTransaction(false);
      this.socket.end();
      return;
    }
    if (this.state === 'FAILED' && tag !== MSG.RESET) {
      this.send(MSG.IGNORED, []);
      return;
    }
    try {
      await this.dispatch(tag, fields);
    } catch (error) {
      const failure = failureOf(error);
      await this.endTransaction(false);
      this.fail(failure);
      if (failure.code === UNAUTHORIZED) {
        this.state = 'DEFUNCT';
        this.socket.end();
      } else {
        this.state = 'FAILED';
      }
    }
  }

  private async dispatch(tag: number, fields: unknown[]): Promise<void> {
    const map = (i: number): Record<string, unknown> => {
      const v = fields[i];
      return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Struct) ? (v as Record<string, unknown>) : {};
    };
    switch (tag) {
      case MSG.HELLO: {
        if (this.state !== 'NEGOTIATION') throw new BoltFailure('Neo.ClientError.Request.Invalid', 'HELLO is the first message only');
        const extra = map(0);
        if (!this.atLeast51) {
          if (!this.server.checkCredentials(extra)) {
            this.server.stats.authFailures += 1;
            throw new BoltFailure(UNAUTHORIZED, 'The client is unauthorized due to authentication failure.');
          }
          this.server.stats.authenticated += 1;
          this.state = 'READY';
        } else {
          this.state = 'AUTHENTICATION';
        }
        this.success({ server: 'Neo4j/5.26.0', connection_id: this.connectionId, hints: {} });
        return;
      }
      case MSG.LOGON: {
        if (!this.atLeast51 || this.state !== 'AUTHENTICATION') throw new BoltFailure('Neo.ClientError.Request.Invalid', `LOGON is not expected in state ${this.state}`);
        if (!this.server.checkCredentials(map(0))) {
          this.server.stats.authFailures += 1;
          throw new BoltFailure(UNAUTHORIZED, 'The client is unauthorized due to authentication failure.');
        }
        this.server.stats.authenticated += 1;
        this.state = 'READY';
        this.success();
        return;
      }
      case MSG.LOGOFF: {
        if (!this.atLeast51 || this.state !== 'READY') throw new BoltFailure('Neo.ClientError.Request.Invalid', `LOGOFF is not expected in state ${this.state}`);
        this.state = 'AUTHENTICATION';
        this.success();
        return;
      }
      case MSG.RESET: {
        await this.endTransaction(false);
        this.state = this.state === 'NEGOTIATION' || this.state === 'AUTHENTICATION' ? this.state : 'READY';
        this.success();
        return;
      }
      case MSG.TELEMETRY: {
        this.requireState('READY');
        this.success();
        return;
      }
      case MSG.ROUTE: {
        this.requireState('READY');
        this.server.stats.routes += 1;
        const extra = map(2);
        this.checkDatabase(extra.db);
        const address = `127.0.0.1:${this.server.port}`;
        this.success({
          rt: {
            ttl: 300,
            db: this.server.database,
            servers: [
              { addresses: [address], role: 'WRITE' },
              { addresses: [address], role: 'READ' },
              { addresses: [address], role: 'ROUTE' },
            ],
          },
        });
        return;
      }
      case MSG.BEGIN: {
        this.requireState('READY');
        const extra = map(0);
        this.checkDatabase(extra.db);
        this.tx = await this.beginTransaction(extra, false);
        this.state = 'TX_READY';
        this.success();
        return;
      }
      case MSG.RUN: {
        const query = fields[0];
        if (typeof query !== 'string') throw new BoltFailure('Neo.ClientError.Request.Invalid', 'RUN needs a query string');
        const params = toKuzuParams(map(1));
        const explicit = this.state === 'TX_READY' || this.state === 'TX_STREAMING';
        if (!explicit) this.requireState('READY');
        this.server.stats.queries += 1;
        this.server.stats.statements.push(query);
        if (!explicit) {
          const extra = map(2);
          this.checkDatabase(extra.db);
          this.tx = await this.beginTransaction(extra, true);
        }
        const opened = await this.execute(query, params);
        const qid = this.nextQid++;
        this.results.set(qid, { qid, ...opened });
        this.state = explicit ? 'TX_STREAMING' : 'STREAMING';
        this.success({ fields: opened.fields, t_first: 0, ...(explicit ? { qid } : {}) });
        return;
      }
      case MSG.PULL:
      case MSG.DISCARD: {
        if (this.state !== 'STREAMING' && this.state !== 'TX_STREAMING') {
          throw new BoltFailure('Neo.ClientError.Request.Invalid', `${tag === MSG.PULL ? 'PULL' : 'DISCARD'} is not expected in state ${this.state}`);
        }
        const extra = map(0);
        const n = typeof extra.n === 'number' ? extra.n : -1;
        const qidAsked = typeof extra.qid === 'number' ? extra.qid : -1;
        const qid = qidAsked === -1 ? Math.max(...this.results.keys()) : qidAsked;
        const open = this.results.get(qid);
        if (!open) throw new BoltFailure('Neo.ClientError.Request.Invalid', `no open result with qid ${qidAsked}`);
        let more = false;
        if (tag === MSG.PULL && open.result) {
          let sent = 0;
          while ((n < 0 || sent < n) && open.result.hasNext()) {
            this.checkTimeout();
            const row = open.result.getNextSync() as Record<string, KuzuValue> | null;
            if (row === null) break;
            this.send(MSG.RECORD, [open.fields.map((field, i) => this.toBolt(row[field], open.types[i] ?? ''))]);
            sent += 1;
          }
          more = open.result.hasNext();
        }
        if (more) {
          this.success({ has_more: true });
          return;
        }
        open.result?.close();
        this.results.delete(qid);
        const summary: Record<string, unknown> = { type: open.writes ? 'rw' : 'r', t_last: 0, db: this.server.database };
        if (this.state === 'STREAMING') {
          await this.endTransaction(true);
          summary.bookmark = this.server.nextBookmark();
          this.state = 'READY';
        } else if (this.results.size === 0) {
          this.state = 'TX_READY';
        }
        this.success(summary);
        return;
      }
      case MSG.COMMIT: {
        if (this.state !== 'TX_READY' && this.state !== 'TX_STREAMING') throw new BoltFailure('Neo.ClientError.Request.Invalid', `COMMIT is not expected in state ${this.state}`);
        await this.endTransaction(true);
        this.state = 'READY';
        this.success({ bookmark: this.server.nextBookmark() });
        return;
      }
      case MSG.ROLLBACK: {
        if (this.state !== 'TX_READY' && this.state !== 'TX_STREAMING') throw new BoltFailure('Neo.ClientError.Request.Invalid', `ROLLBACK is not expected in state ${this.state}`);
        await this.endTransaction(false);
        this.state = 'READY';
        this.success();
        return;
      }
      default:
        throw new BoltFailure('Neo.ClientError.Request.Invalid', `message 0x${tag.toString(16)} is not supported`);
    }
  }

  private requireState(state: State): void {
    if (this.state === 'AUTHENTICATION' || this.state === 'NEGOTIATION') {
      throw new BoltFailure(UNAUTHORIZED, 'The client is unauthorized due to authentication failure.');
    }
    if (this.state !== state) throw new BoltFailure('Neo.ClientError.Request.Invalid', `message not expected in state ${this.state}`);
  }

  private checkDatabase(db: unknown): void {
    if (db === undefined || db === null || db === '' || db === this.server.database) return;
    throw new BoltFailure('Neo.ClientError.Database.DatabaseNotFound', `Database does not exist. Database name: '${String(db)}'.`);
  }

  private async beginTransaction(extra: Record<string, unknown>, autoCommit: boolean): Promise<Transaction> {
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
    return { mode, started: Date.now(), timeoutMs, release, kuzuOpen: true, autoCommit };
  }

  /** Commits or rolls back the open transaction, if any, closing its results. */
  private async endTransaction(commit: boolean): Promise<void> {
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

  private checkTimeout(): void {
    const tx = this.tx;
    if (tx?.timeoutMs && Date.now() - tx.started > tx.timeoutMs) throw failureOf(new Error('Interrupted: transaction timeout'));
  }

  private async run(statement: string): Promise<void> {
    const result = await this.conn.query(statement);
    for (const each of Array.isArray(result) ? result : [result]) each.close();
  }

  /** Executes one statement in the open transaction. */
  private async execute(query: string, params: Record<string, KuzuValue>): Promise<Omit<OpenResult, 'qid'>> {
    const tx = this.tx!;
    const schema = schemaCommand(query);
    if (schema) {
      if (tx.mode === 'r') throw new BoltFailure('Neo.ClientError.Statement.AccessMode', 'Schema operations are not allowed in read access mode.');
      this.server.stats.schemaCommands.push(query.trim());
      return { result: null, fields: [], types: [], writes: true };
    }
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

  /** A Kuzu value as its Bolt value, given the column's Kuzu type. */
  private toBolt(value: unknown, type: string): unknown {
    const v5 = this.version.major >= 5;
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
        if (Array.isArray(o._nodes) && Array.isArray(o._rels)) return this.path(o._nodes as Record<string, unknown>[], o._rels as Record<string, unknown>[], convert);
        if (isKuzuId(o._id) && typeof o._label === 'string') {
          return isKuzuId(o._src) && isKuzuId(o._dst) ? this.relationship(o, convert) : this.node(o, convert);
        }
        const out: Record<string, unknown> = {};
        for (const [k, item] of Object.entries(o)) out[k] = convert(item, false);
        return out;
      }
      return String(x);
    };
    return convert(value, true);
  }

  private properties(o: Record<string, unknown>, convert: (x: unknown, top: boolean) => unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (k.startsWith('_') || v === null || v === undefined) continue;
      out[k] = convert(v, false);
    }
    return out;
  }

  private node(o: Record<string, unknown>, convert: (x: unknown, top: boolean) => unknown): Struct {
    const id = numericId(o._id as KuzuId);
    const fields: unknown[] = [id, [o._label], this.properties(o, convert)];
    if (this.version.major >= 5) fields.push(elementId(o._id as KuzuId));
    return new Struct(0x4e, fields);
  }

  private relationship(o: Record<string, unknown>, convert: (x: unknown, top: boolean) => unknown): Struct {
    const fields: unknown[] = [numericId(o._id as KuzuId), numericId(o._src as KuzuId), numericId(o._dst as KuzuId), o._label, this.properties(o, convert)];
    if (this.version.major >= 5) fields.push(elementId(o._id as KuzuId), elementId(o._src as KuzuId), elementId(o._dst as KuzuId));
    return new Struct(0x52, fields);
  }

  private path(nodes: Record<string, unknown>[], rels: Record<string, unknown>[], convert: (x: unknown, top: boolean) => unknown): Struct {
    const nodeStructs = nodes.map((n) => this.node(n, convert));
    const relStructs = rels.map((r) => {
      const fields: unknown[] = [numericId(r._id as KuzuId), r._label, this.properties(r, convert)];
      if (this.version.major >= 5) fields.push(elementId(r._id as KuzuId));
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
function toKuzuParams(params: Record<string, unknown>): Record<string, KuzuValue> {
  const convert = (v: unknown): KuzuValue => {
    if (v instanceof Float) return v.value;
    if (v instanceof Struct) throw new BoltFailure('Neo.ClientError.Request.Invalid', `parameters of structure type 0x${v.tag.toString(16)} are not supported by this stand-in`);
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

/** A schema command the stand-in accepts (see the header), or null for a plain Cypher statement. */
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
