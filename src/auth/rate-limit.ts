import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { Redis } from 'ioredis';

/**
 * The counters of the login lockout (D9): failed logins counted per account *and* client address,
 * so repeated failures lock that address out of that account, and nobody else. In-process by
 * default; shared by every instance through Redis when REDIS_URL is set. (The per-address limits
 * are @fastify/rate-limit's, in http/rate-limits.ts; with Redis they use this store's connection.)
 *
 * Accounts and addresses are opaque keys here (the service derives them). A failure window starts
 * at an address's first failure on the account and lasts `windowMs`; reaching `threshold` failures
 * in it locks that address out of the account for `windowMs` from then.
 */
export interface CounterStore {
  /** Whether `address` is locked out of `account` now. */
  isLocked(account: string, address: string): Promise<boolean>;
  /** Counts one failure of `address` on `account`; true when it reached the threshold and set the lock. */
  recordFailure(account: string, address: string, threshold: number, windowMs: number): Promise<boolean>;
  /** Forgets the failures of `address` on `account` (a successful login from it); a lock stays. */
  clearFailures(account: string, address: string): Promise<void>;
  /** Forgets every failure and lock on `account`, from every address (a completed password reset). */
  clearAccount(account: string): Promise<void>;
  close(): Promise<void>;
}

/** The lockout's key of an account: a digest of the lower-cased e-mail, so no store holds the address. */
export function lockoutAccount(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
}

/**
 * The lockout's key of a client address (`request.ip`, as TRUST_PROXY resolves it). An IPv4 address
 * as it is (also when written IPv4-mapped, `::ffff:a.b.c.d`); an IPv6 address by its /64, the
 * smallest block one client is given, so a client cannot step through its own addresses for fresh
 * attempts. Anything else (a hop count can make a forwarded value that is no address) by a digest.
 */
export function lockoutAddress(ip: string): string {
  const bare = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(bare)) return bare;
  const address = bare.split('%', 1)[0]!;
  if (isIPv6(address)) return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
  return `other:${createHash('sha256').update(ip).digest('base64url').slice(0, 22)}`;
}

/** The eight groups of an IPv6 address, without leading zeros (an embedded IPv4 tail converted). */
function expandIPv6(address: string): string[] {
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((group) => parseInt(group, 16).toString(16));
}

interface AddressState {
  count: number;
  /** End of the failure window (ms). */
  windowEnd: number;
  /** End of the lock (ms); 0 when not locked. */
  lockedUntil: number;
}

export class MemoryCounterStore implements CounterStore {
  private readonly accounts = new Map<string, Map<string, AddressState>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), 60_000).unref();
  }

  async isLocked(account: string, address: string) {
    return (this.accounts.get(account)?.get(address)?.lockedUntil ?? 0) > Date.now();
  }

  async recordFailure(account: string, address: string, threshold: number, windowMs: number) {
    const now = Date.now();
    let addresses = this.accounts.get(account);
    if (!addresses) this.accounts.set(account, (addresses = new Map()));
    let state = addresses.get(address);
    if (!state) addresses.set(address, (state = { count: 0, windowEnd: 0, lockedUntil: 0 }));
    if (state.windowEnd <= now) {
      state.count = 0;
      state.windowEnd = now + windowMs;
    }
    state.count += 1;
    if (state.count < threshold) return false;
    state.lockedUntil = now + windowMs;
    state.count = 0;
    state.windowEnd = 0;
    return true;
  }

  async clearFailures(account: string, address: string) {
    const state = this.accounts.get(account)?.get(address);
    if (!state) return;
    state.count = 0;
    state.windowEnd = 0;
  }

  async clearAccount(account: string) {
    this.accounts.delete(account);
  }

  async close() {
    clearInterval(this.sweeper);
  }

  private sweep() {
    const now = Date.now();
    for (const [account, addresses] of this.accounts) {
      for (const [address, state] of addresses) if (state.windowEnd <= now && state.lockedUntil <= now) addresses.delete(address);
      if (addresses.size === 0) this.accounts.delete(account);
    }
  }
}

/**
 * One Redis hash per account (`engram:rl:lockout:<account>`), with per address a failure count
 * (`c:`), the end of its window (`w:`) and the end of a lock (`l:`), in Redis's own clock so every
 * instance agrees. The hash expires `windowMs` after its last failure, when all of it has expired;
 * a password reset deletes it. Expired addresses are pruned once the hash grows large.
 */
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const IS_LOCKED_SCRIPT = `${NOW}
local until_ = tonumber(redis.call('HGET', KEYS[1], 'l:' .. ARGV[1]) or '0')
if until_ > now then return 1 end
return 0
`;

const FAILURE_SCRIPT = `${NOW}
local address = ARGV[1]
local threshold = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local key = KEYS[1]
if redis.call('HLEN', key) > 3000 then
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local name = fields[i]
    local kind = string.sub(name, 1, 2)
    if (kind == 'w:' or kind == 'l:') and tonumber(fields[i + 1]) <= now then
      redis.call('HDEL', key, name)
      if kind == 'w:' then redis.call('HDEL', key, 'c:' .. string.sub(name, 3)) end
    end
  end
end
local windowEnd = tonumber(redis.call('HGET', key, 'w:' .. address) or '0')
local count
if windowEnd <= now then
  count = 1
  redis.call('HSET', key, 'c:' .. address, 1, 'w:' .. address, now + window)
else
  count = redis.call('HINCRBY', key, 'c:' .. address, 1)
end
local locked = 0
if count >= threshold then
  redis.call('HSET', key, 'l:' .. address, now + window)
  redis.call('HDEL', key, 'c:' .. address, 'w:' .. address)
  locked = 1
end
redis.call('PEXPIRE', key, window)
return locked
`;

export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis;
  constructor(
    url: string,
    onError: (error: unknown) => void,
    private readonly prefix = 'engram:rl:lockout:',
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
  async isLocked(account: string, address: string) {
    return (await this.redis.eval(IS_LOCKED_SCRIPT, 1, this.prefix + account, address)) === 1;
  }
  async recordFailure(account: string, address: string, threshold: number, windowMs: number) {
    return (await this.redis.eval(FAILURE_SCRIPT, 1, this.prefix + account, address, String(threshold), String(windowMs))) === 1;
  }
  async clearFailures(account: string, address: string) {
    await this.redis.hdel(this.prefix + account, `c:${address}`, `w:${address}`);
  }
  async clearAccount(account: string) {
    await this.redis.del(this.prefix + account);
  }
  async close() {
    this.redis.disconnect();
  }
}
