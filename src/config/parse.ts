import { isIP } from 'node:net';

/**
 * Typed readers for environment variables. Each reader names the variable in its error, so a bad
 * value stops startup with a message an operator can act on (D12).
 */

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/** The raw value, or undefined when unset or empty (an empty value counts as unset). */
export function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** D12: true/false/1/0/yes/no/on/off in any case; anything else is an error naming the variable. */
export function optionalBool(env: Env, name: string): boolean | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (TRUE_WORDS.has(lower)) return true;
  if (FALSE_WORDS.has(lower)) return false;
  throw new ConfigError(name, `expected a boolean (true/false, 1/0, yes/no, on/off), got ${JSON.stringify(value)}`);
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  return optionalBool(env, name) ?? fallback;
}

export function int(env: Env, name: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) {
    throw new ConfigError(name, `expected an integer, got ${JSON.stringify(value)}`);
  }
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new ConfigError(name, `integer out of range: ${value}`);
  if (bounds.min !== undefined && parsed < bounds.min) {
    throw new ConfigError(name, `must be at least ${bounds.min}, got ${parsed}`);
  }
  if (bounds.max !== undefined && parsed > bounds.max) {
    throw new ConfigError(name, `must be at most ${bounds.max}, got ${parsed}`);
  }
  return parsed;
}

export function str(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase() as T;
  if (!allowed.includes(lower)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return lower;
}

export function list(env: Env, name: string): string[] | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function url(env: Env, name: string, fallback?: string): string | undefined {
  const value = raw(env, name) ?? fallback;
  if (value === undefined) return undefined;
  try {
    const parsed = new URL(value);
    if (!['http:', 'https:', 'redis:', 'rediss:'].includes(parsed.protocol)) {
      throw new Error('unsupported scheme');
    }
  } catch {
    throw new ConfigError(name, `expected a URL, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The named address ranges a proxy list may use (Fastify's proxy-addr knows them). */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY: which hops in front of the server are trusted to report the client address.
 * - a D12 boolean: false trusts nobody (the socket's address is the client); true is one hop;
 * - a whole number of hops (1 is the nearest proxy, which is the socket's peer);
 * - a comma-separated list of proxy addresses or CIDR ranges (or `loopback`, `linklocal`,
 *   `uniquelocal`): only those hops are skipped.
 * In every case the client address is the right-most one not trusted, never the left-most a client
 * can write itself.
 */
export function trustProxy(env: Env, name: string): false | number | readonly string[] {
  const value = raw(env, name);
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  if (FALSE_WORDS.has(lower)) return false;
  if (TRUE_WORDS.has(lower)) return 1;
  if (/^[1-9][0-9]{0,2}$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  const bad = entries.find((entry) => !isProxyEntry(entry));
  if (bad !== undefined) {
    throw new ConfigError(
      name,
      `expected a boolean, a number of proxy hops (1-999), or a comma-separated list of proxy addresses or CIDR ranges; ${JSON.stringify(bad)} is none of them`,
    );
  }
  return entries.map((entry) => entry.toLowerCase());
}

function isProxyEntry(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry.toLowerCase())) return true;
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return false;
  if (slash < 0) return true;
  const prefix = entry.slice(slash + 1);
  return /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}
