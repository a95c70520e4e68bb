/**
 * Who a request acts as (D6, D7): resolves the credentials a request presents — `X-Api-Key`, then
 * `Authorization: Bearer`, then the session cookie; the first that resolves an active user wins —
 * through a per-instance cache that every instance drops for a user when the user changes
 * (`invalidate`, published on the invalidation bus), and provides the default user of a server
 * that does not require authentication.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { provisionExternalScope, type ExternalScope } from '../access/index.js';
import type { Config } from '../config/index.js';
import { ApiError } from '../errors.js';
import type { ApiKeyService } from './api-keys.js';
import { CredentialCache, credentialKey } from './credential-cache.js';
import type { InvalidationBus } from './invalidation.js';
import { UNUSABLE_PASSWORD, hashPassword, isUsableHash, passwordPolicyViolation, verifyPassword } from './passwords.js';
import { EXTERNAL_DOMAIN } from './reserved-emails.js';
import type { SigningSecrets } from './secrets.js';
import { InvalidTokenError, verifyAccessToken } from './tokens.js';
import { isUniqueViolation, type User, type UserStore } from './user-store.js';

export type CredentialKind = 'api_key' | 'bearer' | 'cookie' | 'default';

/** Who a request acts as, once its credential is resolved. */
export interface AuthenticatedUser {
  readonly user: User;
  readonly via: CredentialKind;
  /** For a JWT: what logout revokes. */
  readonly token?: { readonly revocationId: string; readonly expMs: number };
  /** D2: an external token's tenant and roles, which replace the stored ones for this request. */
  readonly external?: ExternalScope;
}

export interface PresentedCredentials {
  readonly apiKey?: string | undefined;
  readonly bearer?: string | undefined;
  readonly cookie?: string | undefined;
}

export interface Resolution {
  readonly principal?: AuthenticatedUser;
  /** True when at least one credential was presented (D6: then failure is always 401). */
  readonly presented: boolean;
}

function externalEmail(userId: string): string {
  return `${userId}@${EXTERNAL_DOMAIN}`;
}

const WELL_KNOWN_DEFAULT_PASSWORD = 'default_password';

/**
 * A bearer value that cannot be a JWT (a JWT always has dots; API keys are hex) is an API key
 * (D25). Each value is resolved one way only, and cached under that kind, so a key is never tried
 * as a token nor a token as a key, and the cache answers only for the exact credential and kind.
 */
export function isBearerApiKey(value: string): boolean {
  return !value.includes('.');
}

export interface CredentialsDeps {
  readonly config: Config;
  readonly secrets: SigningSecrets;
  readonly bus: InvalidationBus;
  readonly log: Logger;
  readonly users: UserStore;
  readonly apiKeys: ApiKeyService;
}

export class Credentials {
  private readonly config: Config;
  private readonly secrets: SigningSecrets;
  private readonly bus: InvalidationBus;
  private readonly log: Logger;
  private readonly users: UserStore;
  private readonly apiKeys: ApiKeyService;
  private readonly cache: CredentialCache<AuthenticatedUser>;
  /** Per cached API key: its id and when `last_used_at` was last written (ms, 0 = never). */
  private readonly apiKeyTouch = new Map<string, { keyId: string; lastUsedMs: number }>();
  private defaultUserId: string | undefined;

  constructor(deps: CredentialsDeps) {
    this.config = deps.config;
    this.secrets = deps.secrets;
    this.bus = deps.bus;
    this.log = deps.log;
    this.users = deps.users;
    this.apiKeys = deps.apiKeys;
    this.cache = new CredentialCache(deps.config.auth.authCacheTtlSeconds * 1000);
    this.bus.subscribe((userId) => this.cache.invalidateUser(userId));
  }

  /** Drops every cached credential of the user here and on every other instance. */
  async invalidate(userId: string): Promise<void> {
    this.cache.invalidateUser(userId);
    try {
      await this.bus.publish(userId);
    } catch (error) {
      this.log.error({ err: error, userId }, 'failed to publish credential invalidation');
    }
  }

  // ------------------------------------------------------------------------------------------
  // Credential resolution (D6): X-Api-Key, then Bearer, then the cookie; the first that resolves
  // an active user wins.

  /**
   * The hot path: when the first credential presented is already cached, it is the one that wins
   * (D6 order), so the request is resolved without any await. Otherwise undefined: call `resolve`.
   */
  resolveCached(presented: PresentedCredentials): AuthenticatedUser | undefined {
    const apiKey = presented.apiKey ?? (presented.bearer !== undefined && isBearerApiKey(presented.bearer) ? presented.bearer : undefined);
    if (apiKey !== undefined) {
      const key = credentialKey('api_key', apiKey);
      const cached = this.cache.get(key);
      if (cached) this.touchApiKey(key);
      return cached;
    }
    const token = presented.bearer ?? presented.cookie;
    if (token === undefined) return undefined;
    const via = presented.bearer !== undefined ? 'bearer' : 'cookie';
    const cached = this.cache.get(credentialKey('jwt', token));
    return cached && (cached.via === via ? cached : { ...cached, via });
  }

  async resolve(presented: PresentedCredentials): Promise<Resolution> {
    const attempts: ['api_key' | 'bearer' | 'cookie', string | undefined][] = [
      ['api_key', presented.apiKey],
      ['bearer', presented.bearer],
      ['cookie', presented.cookie],
    ];
    let any = false;
    for (const [kind, value] of attempts) {
      if (value === undefined) continue;
      any = true;
      // D25: an API key may come as a bearer (the reference's MCP server sends it so); a bearer
      // that is not JWT-shaped is looked up as a key and only as a key, a JWT only as a token.
      const asKey = kind === 'api_key' || (kind === 'bearer' && isBearerApiKey(value));
      const principal = asKey ? await this.fromApiKey(value) : await this.fromToken(value, kind as 'bearer' | 'cookie');
      if (principal) return { principal, presented: true };
    }
    return { presented: any };
  }

  private async fromApiKey(raw: string): Promise<AuthenticatedUser | undefined> {
    const key = credentialKey('api_key', raw);
    const cached = this.cache.get(key);
    if (cached) {
      this.touchApiKey(key);
      return cached;
    }
    const match = await this.apiKeys.match(raw);
    if (!match) return undefined;
    const user = await this.users.findById(match.userId);
    if (!user || !user.isActive) return undefined;
    const principal: AuthenticatedUser = { user, via: 'api_key' };
    this.cache.set(key, user.id, principal);
    this.apiKeyTouch.set(key, { keyId: match.keyId, lastUsedMs: match.lastUsedAt ? Date.parse(match.lastUsedAt) : 0 });
    this.touchApiKey(key);
    return principal;
  }

  /** Keeps `last_used_at` fresh at most every five minutes, off the request's critical path. */
  private touchApiKey(cacheKey: string) {
    const state = this.apiKeyTouch.get(cacheKey);
    if (!state) return;
    const now = Date.now();
    if (!this.apiKeys.needsTouch(state.lastUsedMs, now)) return;
    state.lastUsedMs = now;
    this.apiKeys.touch(state.keyId, new Date(now)).catch((error) => this.log.warn({ err: error }, 'Failed to update API key last_used_at'));
  }

  private async fromToken(token: string, via: 'bearer' | 'cookie'): Promise<AuthenticatedUser | undefined> {
    const key = credentialKey('jwt', token);
    const cached = this.cache.get(key);
    if (cached) return cached.via === via ? cached : { ...cached, via };

    let claims;
    try {
      claims = await verifyAccessToken(token, this.secrets.jwt);
    } catch (error) {
      if (error instanceof InvalidTokenError) return undefined;
      throw error;
    }
    // D1: a token must expire.
    if (claims.expMs === undefined) return undefined;
    const revocationId = claims.jti ?? `sha256:${createHash('sha256').update(token).digest('base64url')}`;
    const tooOld = (user: User) => user.tokensValidAfter > 0 && (claims.issuedAtMs === undefined || claims.issuedAtMs <= user.tokensValidAfter);

    let principal: AuthenticatedUser;
    if (claims.kind === 'issued') {
      const { user, revoked } = await this.users.findForToken(claims.userId, revocationId);
      if (!user || revoked || !user.isActive || tooOld(user)) return undefined;
      principal = { user, via, token: { revocationId, expMs: claims.expMs } };
    } else {
      const deletedAt = await this.users.deletedAt(claims.userId);
      if (deletedAt !== undefined && (claims.issuedAtMs === undefined || claims.issuedAtMs <= deletedAt)) {
        return undefined;
      }
      const found = await this.users.findForToken(claims.userId, revocationId);
      if (found.revoked) return undefined;
      let user = found.user;
      if (!user) {
        if (!this.config.auth.externalTokenAutoProvision) return undefined;
        user = await this.provisionExternalUser(claims.userId);
      }
      if (!user.isActive || tooOld(user)) return undefined;
      const external = await provisionExternalScope(this.users.db, user.id, claims.tenantId, claims.roles);
      principal = { user, via, token: { revocationId, expMs: claims.expMs }, external };
    }
    this.cache.set(key, principal.user.id, principal, claims.expMs);
    return principal;
  }

  private async provisionExternalUser(userId: string): Promise<User> {
    try {
      const user = await this.users.create({
        id: userId,
        email: externalEmail(userId),
        hashedPassword: UNUSABLE_PASSWORD,
        isVerified: true,
        isExternal: true,
      });
      this.log.info({ userId }, 'provisioned user from external token');
      return user;
    } catch (error) {
      const raced = await this.users.findById(userId);
      if (raced) return raced;
      throw error;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Default user (D7).

  /**
   * Called at startup. Never leaves an account with a well-known password while auth is required.
   * With authentication disabled (and only then), a default user without a usable password gets the
   * reference's `default_password`, so clients that bootstrap by logging in as it (the reference's
   * plugins and frontend) can; the next start with authentication required disables it again and
   * ends the sessions it opened.
   */
  async ensureDefaultUser(): Promise<void> {
    const { defaultUserEmail: email, defaultUserPassword: password } = this.config.auth;
    const required = this.config.posture.requireAuthentication;
    const existing = await this.users.findByEmailExact(email);
    if (existing) {
      this.defaultUserId = existing.id;
      if (!required && password === undefined && !isUsableHash(existing.hashedPassword)) {
        await this.users.update(existing.id, { hashedPassword: await hashPassword(WELL_KNOWN_DEFAULT_PASSWORD) });
        this.log.info({ userId: existing.id }, `default user ${email} accepts the reference's default password while authentication is disabled`);
      }
      if (required && password === undefined && isUsableHash(existing.hashedPassword)) {
        const check = await verifyPassword(WELL_KNOWN_DEFAULT_PASSWORD, existing.hashedPassword);
        if (check.status === 'valid') {
          await this.users.update(existing.id, { hashedPassword: UNUSABLE_PASSWORD, tokensValidAfter: Date.now() });
          await this.invalidate(existing.id);
          this.log.warn(
            { userId: existing.id },
            `default user ${email} had the well-known password; its password was disabled (set DEFAULT_USER_PASSWORD or use "engram user create")`,
          );
        }
      }
      return;
    }
    if (required && password === undefined) return;
    if (password !== undefined) {
      const reason = passwordPolicyViolation(password, { minLength: this.config.auth.passwordMinLength, email });
      if (reason) throw new Error(`DEFAULT_USER_PASSWORD is refused by the password policy: ${reason}`);
    }
    try {
      const user = await this.users.create({
        email,
        // Here authentication is disabled unless a password was set (see above).
        hashedPassword: await hashPassword(password ?? WELL_KNOWN_DEFAULT_PASSWORD),
        isSuperuser: true,
        isVerified: true,
      });
      this.defaultUserId = user.id;
      this.log.info({ userId: user.id }, `created default user ${email}`);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      this.defaultUserId = (await this.users.findByEmailExact(email))?.id;
    }
  }

  /** The default user, for anonymous requests when authentication is disabled. */
  async defaultPrincipal(): Promise<AuthenticatedUser> {
    const cached = this.cache.get('default');
    if (cached) return cached;
    let user = this.defaultUserId ? await this.users.findById(this.defaultUserId) : undefined;
    if (!user) {
      try {
        await this.ensureDefaultUser();
        user = this.defaultUserId ? await this.users.findById(this.defaultUserId) : undefined;
      } catch (error) {
        throw ApiError.detail(500, `Failed to create default user: ${(error as Error).message}`);
      }
    }
    if (!user || !user.isActive) throw ApiError.detail(500, 'Failed to create default user: the default user is unavailable');
    const principal: AuthenticatedUser = { user, via: 'default' };
    this.cache.set('default', user.id, principal);
    return principal;
  }

  /** Forgets the default user's id when that user is deleted (it is created again on demand). */
  forgetUser(userId: string): void {
    if (userId === this.defaultUserId) this.defaultUserId = undefined;
  }
}
