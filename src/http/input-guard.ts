import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * Refuses NUL characters anywhere in a request's path parameters, query or parsed body (keys
 * included). No store can keep them (PostgreSQL text cannot hold U+0000) and no legitimate input has
 * them, so they are a 400 at the boundary rather than a failure deep in a store. Login keeps its
 * single answer for every bad input.
 */
const LOGIN_PATH = '/api/v1/auth/login';
const MAX_DEPTH = 64;

function findNul(value: unknown, path: (string | number)[], depth: number): (string | number)[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return undefined;
  if (Buffer.isBuffer(value)) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], [...path, i], depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (key.includes('\u0000')) return [...path, key];
    const found = findNul(inner, [...path, key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The `preHandler` hook, callback style (no promise per request). */
export function rejectNulCharacters(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) {
  let error: ApiError | undefined;
  try {
    checkNulCharacters(request);
  } catch (caught) {
    error = caught as ApiError;
  }
  done(error);
}

function checkNulCharacters(request: FastifyRequest) {
  const found = findNul(request.params, ['path'], 0) ?? findNul(request.query, ['query'], 0) ?? findNul(request.body, ['body'], 0);
  if (!found) return;
  if (request.url.split('?', 1)[0] === LOGIN_PATH) throw ApiError.detail(400, 'LOGIN_BAD_CREDENTIALS');
  throw new ApiError(400, {
    detail: [{ type: 'string_nul', loc: found, msg: 'NUL characters are not allowed' }],
    body: null,
  });
}
