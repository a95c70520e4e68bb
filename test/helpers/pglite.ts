/**
 * An in-process PostgreSQL with pgvector for tests: PGlite served over the PostgreSQL wire
 * protocol by PGLiteSocketServer, reached with the real `pg` client.
 *
 * PGLiteSocketServer 0.2.17 accepts several connections (`maxConnections`, 1 by default: further
 * ones are refused with "Too many connections"), but PGlite is a single backend: the server queues
 * the messages of all connections and runs them one at a time on that one session, keeping a
 * transaction's statements together. Several connections therefore work (pools with max > 1),
 * with no parallelism and with session state (SET, temporary tables, prepared statement names)
 * shared between them.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';

export interface PgliteServer {
  readonly host: string;
  readonly port: number;
  /** A new pool on the server (one connection by default); stop() ends it. */
  pool(max?: number): pg.Pool;
  stop(): Promise<void>;
}

/** Starts PGlite with the pgvector extension available, on a free loopback port. */
export async function startPglite(options: { maxConnections?: number } = {}): Promise<PgliteServer> {
  const db = await PGlite.create({ extensions: { vector } });
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: options.maxConnections ?? 16 });
  await server.start();
  // The bound port is private; getServerConn() returns "host:port".
  const conn = server.getServerConn();
  const host = conn.slice(0, conn.lastIndexOf(':'));
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`unexpected PGlite socket address: ${conn}`);
  const pools: pg.Pool[] = [];
  let stopped = false;
  return {
    host,
    port,
    pool(max = 1) {
      const pool = new pg.Pool({ host, port, user: 'postgres', database: 'postgres', max });
      pools.push(pool);
      return pool;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(pools.map((pool) => (pool.ended ? undefined : pool.end())));
      await server.stop();
      await db.close();
    },
  };
}
