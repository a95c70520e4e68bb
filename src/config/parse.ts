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
