import { EventEmitter } from 'node:events';
import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * Tells every instance that what it cached about a user is stale: after a logout, password change,
 * deactivation, deletion, role or tenant change, or API key deletion. Each instance drops its cached
 * credentials for that user; the next request reads the relational store (the source of truth).
 *
 * Transports: in-process always; PostgreSQL LISTEN/NOTIFY when the relational store is PostgreSQL;
 * Redis pub/sub when REDIS_URL is set.
 */
export interface InvalidationBus {
  publish(userId: string): Promise<void>;
  subscribe(listener: (userId: string) => void): void;
  close(): Promise<void>;
}

const CHANNEL = 'engram_auth_invalidation';

export class LocalBus implements InvalidationBus {
  protected readonly emitter = new EventEmitter().setMaxListeners(100);
  async publish(userId: string) {
    this.emitter.emit('user', userId);
  }
  subscribe(listener: (userId: string) => void) {
    this.emitter.on('user', listener);
  }
  protected deliver(userId: string) {
    this.emitter.emit('user', userId);
  }
  async close() {
    this.emitter.removeAllListeners();
  }
}

export class PostgresBus extends LocalBus {
  private listener?: pg.Client;
  private closed = false;
  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly notify: (channel: string, payload: string) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {
    super();
  }

  async start(): Promise<void> {
    const client = new pg.Client(this.connection);
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload) this.deliver(message.payload);
    });
    client.on('error', (error) => {
      this.onError(error);
      if (!this.closed) setTimeout(() => void this.start().catch(this.onError), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  override async publish(userId: string) {
    // Delivered to every listener, this instance included.
    await this.notify(CHANNEL, userId);
  }

  override async close() {
    this.closed = true;
    await this.listener?.end().catch(() => {});
    await super.close();
  }
}

export class RedisBus extends LocalBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  constructor(url: string, onError: (error: unknown) => void) {
    super();
    this.pub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.sub = new Redis(url, { lazyConnect: true });
    this.pub.on('error', onError);
    this.sub.on('error', onError);
    this.sub.on('message', (channel: string, payload: string) => {
      if (channel === CHANNEL) this.deliver(payload);
    });
  }
  async start() {
    await Promise.all([this.pub.connect(), this.sub.connect()]);
    await this.sub.subscribe(CHANNEL);
  }
  override async publish(userId: string) {
    // Local delivery first: this instance must not depend on a round trip to honour its own change.
    this.deliver(userId);
    await this.pub.publish(CHANNEL, userId);
  }
  override async close() {
    this.pub.disconnect();
    this.sub.disconnect();
    await super.close();
  }
}
