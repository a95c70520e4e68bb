import { Redis } from 'ioredis';

/**
 * Fixed-window counters for the per-account login lockout (D9). In-process by default; shared by
 * every instance through Redis when REDIS_URL is set. (The per-address limits are
 * @fastify/rate-limit's, in http/rate-limits.ts; with Redis they use this store's connection.)
 */
export interface CounterStore {
  /** Adds one to `key` and returns the count in the current window (which starts at the first hit). */
  hit(key: string, windowMs: number): Promise<{ count: number }>;
  /** Current count without adding (0 if none). */
  peek(key: string): Promise<{ count: number; resetInMs: number }>;
  /** Sets a flag that expires after `ttlMs`. */
  setFlag(key: string, ttlMs: number): Promise<void>;
  /** Remaining ms of a flag, 0 if unset. */
  flagTtl(key: string): Promise<number>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

export class MemoryCounterStore implements CounterStore {
  private readonly counters = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), 60_000).unref();
  }

  async hit(key: string, windowMs: number) {
    const now = Date.now();
    let entry = this.counters.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + windowMs };
      this.counters.set(key, entry);
    }
    entry.count += 1;
    return { count: entry.count };
  }

  async peek(key: string) {
    const now = Date.now();
    const entry = this.counters.get(key);
    if (!entry || entry.resetAt <= now) return { count: 0, resetInMs: 0 };
    return { count: entry.count, resetInMs: entry.resetAt - now };
  }

  async setFlag(key: string, ttlMs: number) {
    this.counters.set(key, { count: 1, resetAt: Date.now() + ttlMs });
  }

  async flagTtl(key: string) {
    const { count, resetInMs } = await this.peek(key);
    return count > 0 ? resetInMs : 0;
  }

  async reset(key: string) {
    this.counters.delete(key);
  }

  async close() {
    clearInterval(this.sweeper);
  }

  private sweep() {
    const now = Date.now();
    for (const [key, entry] of this.counters) if (entry.resetAt <= now) this.counters.delete(key);
  }
}

const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
`;

export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis;
  constructor(
    url: string,
    onError: (error: unknown) => void,
    private readonly prefix = 'engram:rl:',
  ) {
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.redis.on('error', onError);
  }
  async start() {
    await this.redis.connect();
  }
  /** The connection, for the per-address limits to count on as well (same retry and error handling). */
  get client(): Redis {
    return this.redis;
  }
  async hit(key: string, windowMs: number) {
    const count = (await this.redis.eval(HIT_SCRIPT, 1, this.prefix + key, String(windowMs))) as number;
    return { count };
  }
  async peek(key: string) {
    const [value, ttl] = await Promise.all([this.redis.get(this.prefix + key), this.redis.pttl(this.prefix + key)]);
    return { count: value ? Number(value) : 0, resetInMs: Math.max(0, ttl) };
  }
  async setFlag(key: string, ttlMs: number) {
    await this.redis.set(this.prefix + key, '1', 'PX', ttlMs);
  }
  async flagTtl(key: string) {
    return Math.max(0, await this.redis.pttl(this.prefix + key));
  }
  async reset(key: string) {
    await this.redis.del(this.prefix + key);
  }
  async close() {
    this.redis.disconnect();
  }
}
