import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { isUuid } from '../ids.js';

/**
 * JWTs (D1, D2, D4). Every token is HS256; nothing else is ever accepted. Access tokens carry
 * `aud: ["fastapi-users:auth"]`; reset and verification tokens have their own secrets and audiences,
 * so no kind of token can be used as another (RFC 8725 §3.12). A token without `aud` is an external
 * token (D2), judged by its own rules.
 */
export const AUTH_AUDIENCE = 'fastapi-users:auth';
export const RESET_AUDIENCE = 'fastapi-users:reset';
export const VERIFY_AUDIENCE = 'fastapi-users:verify';

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

export { isUuid };

export class InvalidTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidTokenError';
  }
}

const encoder = new TextEncoder();
const keyCache = new Map<string, Uint8Array>();
function key(secret: string): Uint8Array {
  let k = keyCache.get(secret);
  if (!k) {
    k = encoder.encode(secret);
    keyCache.set(secret, k);
  }
  return k;
}

/**
 * A UUIDv7: random, but its first 48 bits are the issue time in milliseconds. Used as `jti` so an
 * issued token's exact age is known (D3 compares it with the last password change).
 */
export function uuidv7(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidv7Time(id: string): number | undefined {
  if (!isUuid(id) || id[14] !== '7') return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

export interface IssuedClaims {
  readonly kind: 'issued';
  readonly userId: string;
  readonly jti: string | undefined;
  /** Best known issue time in ms: exact for our own UUIDv7 `jti`, else `iat` rounded up. */
  readonly issuedAtMs: number | undefined;
  readonly expMs: number | undefined;
}

export interface ExternalClaims {
  readonly kind: 'external';
  readonly userId: string;
  readonly tenantId: string | null;
  readonly roles: readonly string[];
  readonly jti: string | undefined;
  readonly issuedAtMs: number | undefined;
  readonly expMs: number;
}

export type AccessClaims = IssuedClaims | ExternalClaims;

const hmacKeyCache = new Map<string, Buffer>();
function hmacKey(secret: string): Buffer {
  let k = hmacKeyCache.get(secret);
  if (!k) {
    k = Buffer.from(secret, 'utf8');
    hmacKeyCache.set(secret, k);
  }
  return k;
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** One base64url segment of a compact JWS: the URL-safe alphabet, no padding, not empty. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a compact HS256 JWS and its time claims, synchronously with `node:crypto`: one HMAC of
 * a few hundred bytes costs microseconds, so it runs on the event loop rather than on libuv's thread
 * pool (where WebCrypto would queue it behind the argon2 hashes of a login storm). The rules are
 * jose's `jwtVerify` with `algorithms: ['HS256']` and no clock tolerance, a little stricter: the
 * header is a JSON object with `alg` exactly `HS256` and no `crit` (no extension is supported); the
 * signature is the canonical base64url of the HMAC-SHA256 of `header.payload`, compared in constant
 * time; the payload is a JSON object; `iat`, `nbf` and `exp` when present are finite numbers, `nbf` not in
 * the future and `exp` in the future (seconds, as jose counts them).
 */
function verifyHs256(token: string, secret: string): JWTPayload {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('bad length');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part))) throw new InvalidTokenError('malformed');
  const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
  const header = jsonObject(encodedHeader);
  if (!header) throw new InvalidTokenError('malformed');
  if (header.alg !== 'HS256') throw new InvalidTokenError('algorithm not allowed');
  if (header.crit !== undefined) throw new InvalidTokenError('ERR_JOSE_NOT_SUPPORTED');
  const expected = Buffer.from(createHmac('sha256', hmacKey(secret)).update(`${encodedHeader}.${encodedPayload}`).digest('base64url'), 'latin1');
  const presented = Buffer.from(signature, 'latin1');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw new InvalidTokenError('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  const payload = jsonObject(encodedPayload);
  if (!payload) throw new InvalidTokenError('ERR_JWT_INVALID');
  const now = Math.floor(Date.now() / 1000);
  const { iat, nbf, exp } = payload;
  if (iat !== undefined && !isFiniteNumber(iat)) throw new InvalidTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED');
  if (nbf !== undefined && (!isFiniteNumber(nbf) || nbf > now)) throw new InvalidTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED');
  if (exp !== undefined) {
    if (!isFiniteNumber(exp)) throw new InvalidTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED');
    if (exp <= now) throw new InvalidTokenError('ERR_JWT_EXPIRED');
  }
  return payload as JWTPayload;
}

function audiences(payload: JWTPayload): string[] | undefined {
  if (payload.aud === undefined) return undefined;
  return Array.isArray(payload.aud) ? payload.aud : [payload.aud];
}

function issuedAt(payload: JWTPayload): number | undefined {
  const fromJti = typeof payload.jti === 'string' ? uuidv7Time(payload.jti) : undefined;
  if (fromJti !== undefined) return fromJti;
  // Without an exact time, treat the token as issued at the end of its `iat` second: a token from
  // the very second of a password change is refused rather than accepted.
  return typeof payload.iat === 'number' ? payload.iat * 1000 + 999 : undefined;
}

/** Verifies a bearer or cookie token and classifies it as issued (D1) or external (D2). */
export async function verifyAccessToken(token: string, secret: string): Promise<AccessClaims> {
  const payload = verifyHs256(token, secret);
  const aud = audiences(payload);
  const expMs = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  const jti = typeof payload.jti === 'string' ? payload.jti : undefined;
  // Claims that reach the database must be storable (PostgreSQL text cannot hold NUL).
  if (jti?.includes('\u0000')) throw new InvalidTokenError('jti');
  if (aud !== undefined) {
    if (!aud.includes(AUTH_AUDIENCE)) throw new InvalidTokenError('audience');
    if (!isUuid(payload.sub)) throw new InvalidTokenError('sub');
    return { kind: 'issued', userId: payload.sub.toLowerCase(), jti, issuedAtMs: issuedAt(payload), expMs };
  }
  // External token (D2): user_id and exp are required; sub is ignored.
  const userId = (payload as { user_id?: unknown }).user_id;
  if (!isUuid(userId)) throw new InvalidTokenError('user_id');
  if (expMs === undefined) throw new InvalidTokenError('exp required');
  const rawTenant = (payload as { tenant_id?: unknown }).tenant_id;
  let tenantId: string | null = null;
  if (typeof rawTenant === 'string' && rawTenant.trim() !== '') {
    if (rawTenant.length > 255 || rawTenant.includes('\u0000')) throw new InvalidTokenError('tenant_id');
    tenantId = rawTenant.trim();
  } else if (rawTenant !== undefined && rawTenant !== null) {
    throw new InvalidTokenError('tenant_id');
  }
  const rawRoles = (payload as { roles?: unknown }).roles ?? [];
  if (
    !Array.isArray(rawRoles) ||
    rawRoles.length > 100 ||
    !rawRoles.every((r) => typeof r === 'string' && r.trim() !== '' && r.length <= 255 && !r.includes('\u0000'))
  ) {
    throw new InvalidTokenError('roles');
  }
  const roles = [...new Set((rawRoles as string[]).map((r) => r.trim()))];
  return { kind: 'external', userId: userId.toLowerCase(), tenantId, roles, jti, issuedAtMs: issuedAt(payload), expMs };
}

export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  readonly expMs: number;
}

export async function issueAccessToken(
  secret: string,
  lifetimeSeconds: number,
  claims: { userId: string; tenantId: string | null; roles: readonly string[] },
): Promise<IssuedToken> {
  const now = Date.now();
  const jti = uuidv7(now);
  const iat = Math.floor(now / 1000);
  const exp = iat + lifetimeSeconds;
  const token = await new SignJWT({
    user_id: claims.userId,
    tenant_id: claims.tenantId,
    roles: [...claims.roles],
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.userId)
    .setAudience([AUTH_AUDIENCE])
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(key(secret));
  return { token, jti, expMs: exp * 1000 };
}

/** Reset tokens are bound to the current password hash, so each is single-use in effect. */
export function passwordFingerprint(hashedPassword: string): string {
  return createHash('sha256').update(hashedPassword).digest('hex');
}

export async function issueResetToken(secret: string, lifetimeSeconds: number, userId: string, hashedPassword: string) {
  return new SignJWT({ password_fgpt: passwordFingerprint(hashedPassword) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setAudience(RESET_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSeconds)
    .sign(key(secret));
}

export async function verifyResetToken(token: string, secret: string): Promise<{ userId: string; fingerprint: string }> {
  const payload = verifyHs256(token, secret);
  const aud = audiences(payload);
  const fingerprint = (payload as { password_fgpt?: unknown }).password_fgpt;
  if (!aud?.includes(RESET_AUDIENCE) || !isUuid(payload.sub) || typeof fingerprint !== 'string' || payload.exp === undefined) {
    throw new InvalidTokenError('reset token');
  }
  return { userId: payload.sub.toLowerCase(), fingerprint };
}

export async function issueVerifyToken(secret: string, lifetimeSeconds: number, userId: string, email: string) {
  return new SignJWT({ email })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setAudience(VERIFY_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + lifetimeSeconds)
    .sign(key(secret));
}

export async function verifyVerifyToken(token: string, secret: string): Promise<{ userId: string; email: string }> {
  const payload = verifyHs256(token, secret);
  const aud = audiences(payload);
  const email = (payload as { email?: unknown }).email;
  if (!aud?.includes(VERIFY_AUDIENCE) || !isUuid(payload.sub) || typeof email !== 'string' || payload.exp === undefined) {
    throw new InvalidTokenError('verify token');
  }
  return { userId: payload.sub.toLowerCase(), email };
}

export interface CreateJwtOptions {
  /** The server's FASTAPI_USERS_JWT_SECRET. */
  readonly secret: string;
  /** Default 3600 (one hour), as in the reference's get_token. */
  readonly lifetimeSeconds?: number;
}

/**
 * Mints an external token (D2), the equivalent of the reference's `get_token.create_jwt`: signed
 * with the server's secret, no audience, carrying `user_id`, `tenant_id`, `roles` and `exp`.
 */
export async function createJwt(userId: string, tenantId: string | null, roles: readonly string[], options: CreateJwtOptions): Promise<string> {
  if (!isUuid(userId)) throw new TypeError('userId must be a UUID');
  if (!options.secret || options.secret.length < 32) throw new TypeError('secret must be at least 32 characters');
  const lifetime = options.lifetimeSeconds ?? 3600;
  if (!Number.isInteger(lifetime) || lifetime <= 0) throw new TypeError('lifetimeSeconds must be a positive integer');
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  return new SignJWT({ user_id: userId, tenant_id: tenantId, roles: [...roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetime)
    .setJti(uuidv7(now))
    .sign(key(options.secret));
}
