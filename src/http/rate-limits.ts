import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit';
import type { preHandlerAsyncHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import { ApiError } from '../errors.js';
import type { App } from './context.js';

/**
 * D9: the per-address limits on the account routes, by @fastify/rate-limit. One bucket per kind of
 * request; a bucket counts the requests of one client address (`request.ip`, which honours
 * TRUST_PROXY) in a fixed window of RATE_LIMIT_WINDOW_SECONDS. Counts live in this process, or in
 * Redis (shared by every instance) when a Redis client is given.
 */
export type AddressBucket = 'login' | 'register' | 'forgot-password' | 'reset-password' | 'verify';

const TOO_MANY = 'Too many requests. Try again later.';

/** Prefix of the counters' Redis keys (the lockout's keys share it). */
const REDIS_NAMESPACE = 'engram:rl:';

function maxOf(config: Config, bucket: AddressBucket): number {
  const rl = config.auth.rateLimit;
  return {
    login: rl.login,
    register: rl.register,
    'forgot-password': rl.forgotPassword,
    'reset-password': rl.forgotPassword,
    verify: rl.verify,
  }[bucket];
}

function bucketOptions(config: Config, bucket: AddressBucket): RateLimitOptions {
  return {
    max: maxOf(config, bucket),
    timeWindow: config.auth.rateLimit.windowSeconds * 1000,
    keyGenerator: (request) => `${bucket}:ip:${request.ip}`,
  };
}

/**
 * Registers the plugin for routes that ask for it (nothing is limited by default). Counted after
 * the body is parsed and validated (`preHandler`), so a malformed request neither counts nor gets a
 * 429. No `X-RateLimit-*` header; past the limit, 429 `{"detail": "Too many requests. Try again
 * later."}` with `Retry-After` in whole seconds (at least 1). A Redis failure is not skipped: the
 * request fails (500), as a failed count always did.
 */
export async function registerAddressLimits(app: App, config: Config, redis: Redis | undefined): Promise<void> {
  if (!config.auth.rateLimit.enabled) return;
  const off = { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false } as const;
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    skipOnError: false,
    ...(redis ? { redis, nameSpace: REDIS_NAMESPACE } : {}),
    addHeadersOnExceeding: off,
    addHeaders: { ...off, 'retry-after': false },
    errorResponseBuilder: (_request, context) => ApiError.detail(429, TOO_MANY, { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) }),
  });
}

/** Route `config` for a route that is the only one of its bucket (empty when limits are off). */
export function addressLimit(config: Config, bucket: AddressBucket): { rateLimit?: RateLimitOptions } {
  return config.auth.rateLimit.enabled ? { rateLimit: bucketOptions(config, bucket) } : {};
}

/**
 * One limiter for a bucket that several routes share (one count for all of them), to put in each
 * route's `preHandler`; undefined when limits are off. A route `config` with a common `groupId`
 * would not share the count in @fastify/rate-limit 10 (each route gets its own store).
 */
export function sharedAddressLimit(app: App, config: Config, bucket: AddressBucket): preHandlerAsyncHookHandler | undefined {
  return config.auth.rateLimit.enabled ? app.rateLimit(bucketOptions(config, bucket)) : undefined;
}
