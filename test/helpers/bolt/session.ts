/**
 * One client connection of the Bolt stand-in (see index.ts): the handshake, then the Bolt state
 * machine (HELLO, LOGON, LOGOFF, BEGIN, RUN, PULL, DISCARD, COMMIT, ROLLBACK, RESET, GOODBYE, ROUTE,
 * TELEMETRY), running each statement through its KuzuTransactions.
 */
import type { Socket } from 'node:net';
import type { KuzuValue } from 'kuzu';
import { Dechunker, Struct, encodeMessage, unpack } from './codec.js';
import { BoltFailure, MSG, UNAUTHORIZED, failureOf, type Version } from './protocol.js';
import type { BoltStandIn } from './server.js';
import { KuzuTransactions } from './transactions.js';
import { toBolt, toKuzuParams } from './values.js';

type State = 'NEGOTIATION' | 'AUTHENTICATION' | 'READY' | 'STREAMING' | 'TX_READY' | 'TX_STREAMING' | 'FAILED' | 'DEFUNCT';

/** One client connection. */
export class BoltSession {
  /** Bytes received before the handshake is complete. */
  private buffer: Buffer = Buffer.alloc(0);
  private handshaken = false;
  private version: Version = { major: 0, minor: 0 };
  private state: State = 'NEGOTIATION';
  private readonly kuzu: KuzuTransactions;
  private readonly dechunker = new Dechunker();
  private work: Promise<void> = Promise.resolve();
  private disposed: Promise<void> | null = null;

  constructor(
    private readonly server: BoltStandIn,
    private readonly socket: Socket,
    private readonly connectionId: string,
  ) {
    this.kuzu = new KuzuTransactions(server);
    socket.on('data', (data) => this.onData(data));
  }

  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.state = 'DEFUNCT';
      await this.work.catch(() => undefined);
      await this.kuzu.end(false);
      await this.kuzu.close();
    })();
    return this.disposed;
  }

  private onData(data: Buffer): void {
    let chunks = data;
    if (!this.handshaken) {
      this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
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
      // What followed the handshake is the first chunks.
      chunks = this.buffer;
      this.buffer = Buffer.alloc(0);
    }
    for (const message of this.dechunker.push(chunks)) {
      this.work = this.work
        .then(() => this.handle(message))
        .catch(() => {
          this.socket.destroy();
        });
    }
  }

  private send(tag: number, fields: unknown[]): void {
    if (this.socket.destroyed) return;
    this.socket.write(encodeMessage(tag, fields));
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
    const decoded = unpack(message);
    if (!(decoded instanceof Struct)) throw new Error('a Bolt message is a structure');
    const { tag, fields } = decoded;
    if (tag === MSG.GOODBYE) {
      this.state = 'DEFUNCT';
      await this.kuzu.end(false);
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
      await this.kuzu.end(false);
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
        if (!this.atLeast51 || this.state !== 'AUTHENTICATION')
          throw new BoltFailure('Neo.ClientError.Request.Invalid', `LOGON is not expected in state ${this.state}`);
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
        if (!this.atLeast51 || this.state !== 'READY')
          throw new BoltFailure('Neo.ClientError.Request.Invalid', `LOGOFF is not expected in state ${this.state}`);
        this.state = 'AUTHENTICATION';
        this.success();
        return;
      }
      case MSG.RESET: {
        await this.kuzu.end(false);
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
        await this.kuzu.begin(extra, false);
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
          await this.kuzu.begin(extra, true);
        }
        const opened = await this.kuzu.execute(query, params);
        this.state = explicit ? 'TX_STREAMING' : 'STREAMING';
        this.success({ fields: opened.fields, t_first: 0, ...(explicit ? { qid: opened.qid } : {}) });
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
        const qid = qidAsked === -1 ? Math.max(...this.kuzu.results.keys()) : qidAsked;
        const open = this.kuzu.results.get(qid);
        if (!open) throw new BoltFailure('Neo.ClientError.Request.Invalid', `no open result with qid ${qidAsked}`);
        let more = false;
        if (tag === MSG.PULL && open.result) {
          let sent = 0;
          while ((n < 0 || sent < n) && open.result.hasNext()) {
            this.kuzu.checkTimeout();
            const row = open.result.getNextSync() as Record<string, KuzuValue> | null;
            if (row === null) break;
            this.send(MSG.RECORD, [open.fields.map((field, i) => toBolt(row[field], open.types[i] ?? '', this.version))]);
            sent += 1;
          }
          more = open.result.hasNext();
        }
        if (more) {
          this.success({ has_more: true });
          return;
        }
        open.result?.close();
        this.kuzu.results.delete(qid);
        const summary: Record<string, unknown> = { type: open.writes ? 'rw' : 'r', t_last: 0, db: this.server.database };
        if (this.state === 'STREAMING') {
          await this.kuzu.end(true);
          summary.bookmark = this.server.nextBookmark();
          this.state = 'READY';
        } else if (this.kuzu.results.size === 0) {
          this.state = 'TX_READY';
        }
        this.success(summary);
        return;
      }
      case MSG.COMMIT: {
        if (this.state !== 'TX_READY' && this.state !== 'TX_STREAMING')
          throw new BoltFailure('Neo.ClientError.Request.Invalid', `COMMIT is not expected in state ${this.state}`);
        await this.kuzu.end(true);
        this.state = 'READY';
        this.success({ bookmark: this.server.nextBookmark() });
        return;
      }
      case MSG.ROLLBACK: {
        if (this.state !== 'TX_READY' && this.state !== 'TX_STREAMING')
          throw new BoltFailure('Neo.ClientError.Request.Invalid', `ROLLBACK is not expected in state ${this.state}`);
        await this.kuzu.end(false);
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
}
