/**
 * The Bolt stand-in's TCP listener (see index.ts): it starts an in-memory Kuzu database with the
 * Neo4j graph store's layout, accepts connections on a free loopback port (one BoltSession each),
 * and holds what the tests configure (credentials, versions, database name) and observe (stats,
 * direct queries).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import kuzu from 'kuzu';
import type { Connection, Database, KuzuValue } from 'kuzu';
import { parseVersion, type Version } from './protocol.js';
import { BoltSession } from './session.js';

const SCHEMA = [
  'CREATE NODE TABLE IF NOT EXISTS Node(pk STRING PRIMARY KEY, id STRING, dataset_id STRING, name STRING, type STRING, properties STRING, created_at STRING, updated_at STRING)',
  'CREATE REL TABLE IF NOT EXISTS EDGE(FROM Node TO Node, relationship_name STRING, properties STRING, created_at STRING, updated_at STRING)',
];

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
