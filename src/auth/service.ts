import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { ApiError } from '../errors.js';
import { provisionExternalScope, type ExternalScope } from '../access/index.js';
import type { RelationalStore } from '../storage/index.js';
import { AgentService } from './agents.js';
import { ApiKeyService } from './api-keys.js';
import { CredentialCache, credentialKey } from './credential-cache.js';
import type { InvalidationBus } from './invalidation.js';
import type { Mailer } from './mailer.js';
import { UNUSABLE_PASSWORD, dummyVerify, hashPassword, isUsableHash, passwordPolicyViolation, verifyPassword } from './passwords.js';
import type { CounterStore } from './rate-limit.js';
import type { SigningSecrets } from './secrets.js';
import {
  InvalidTokenError,
  issueAccessToken,
  issueResetToken,
  issueVerifyToken,
  passwordFingerprint,
  verifyAccessToken,
  verifyResetToken,
  verifyVerifyToken,
  type IssuedToken,
} from './tokens.js';
import { UserStore, isUniqueViolation, userRead, type User } from './user-store.js';

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

export interface AuthServiceDeps {
  readonly config: Config;
  readonly store: RelationalStore;
  readonly secrets: SigningSecrets;
  readonly bus: InvalidationBus;
  readonly counters: CounterStore;
  readonly mailer: Mailer;
  readonly log: Logger;
}

const LOGIN_BAD_CREDENTIALS = () => ApiError.detail(400, 'LOGIN_BAD_CREDENTIALS');
const NO_PASSWORD = () => ApiError.detail(400, 'This user does not have a password. Use API key authentication.');
const WELL_KNOWN_DEFAULT_PASSWORD = 'default_password';

/** EmailStr-style normalisation: the domain is case-insensitive, the local part is kept. */
export function normaliseEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email.trim() : `${email.slice(0, at).trim()}${email.slice(at).toLowerCase().trim()}`;
}

function externalEmail(userId: string): string {
  return `${userId}@external.invalid`;
}

export class AuthService {
  readonly users: UserStore;
  readonly apiKeys: ApiKeyService;
  readonly agents: AgentService;
  private readonly config: Config;
  private readonly secrets: SigningSecrets;
  private readonly bus: InvalidationBus;
  private readonly counters: CounterStore;
  private readonly mailer: Mailer;
  private readonly log: Logger;
  private readonly cache: CredentialCache<AuthenticatedUser>;
  /** Per cached API key: its id and when `last_used_at` was last written (ms, 0 = never). */
  private readonly apiKeyTouch = new Map<string, { keyId: string; lastUsedMs: number }>();
  private defaultUserId: string | undefined;

  constructor(deps: AuthServiceDeps) {
    this.config = deps.config;
    this.secrets = deps.secrets;
    this.bus = deps.bus;
    this.counters = deps.counters;
    this.mailer = deps.mailer;
    this.log = deps.log;
    this.users = new UserStore(deps.store.db);
    this.apiKeys = new ApiKeyService(deps.store.db, deps.store.dialect, {
      hash: deps.config.auth.hashApiKeys,
      maxPerUser: deps.config.auth.maxUserApiKeys,
    });
    this.agents = new AgentService(deps.store.db, this.users, this.apiKeys);
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
    if (presented.apiKey !== undefined) {
      const key = credentialKey('api_key', presented.apiKey);
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
      const principal = kind === 'api_key' ? await this.fromApiKey(value) : await this.fromToken(value, kind);
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

  /** Called at startup. Never leaves an account with a well-known password while auth is required. */
  async ensureDefaultUser(): Promise<void> {
    const { defaultUserEmail: email, defaultUserPassword: password } = this.config.auth;
    const required = this.config.posture.requireAuthentication;
    const existing = await this.users.findByEmailExact(email);
    if (existing) {
      this.defaultUserId = existing.id;
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
        hashedPassword: password !== undefined ? await hashPassword(password) : UNUSABLE_PASSWORD,
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

  // ------------------------------------------------------------------------------------------
  // Account lockout (D9). The per-address limits are the HTTP layer's (http/rate-limits.ts).

  private lockKey(email: string) {
    return `lock:${email.toLowerCase()}`;
  }

  private async recordLoginFailure(email: string) {
    const rl = this.config.auth.rateLimit;
    const failKey = `fail:${email.toLowerCase()}`;
    const { count } = await this.counters.hit(failKey, rl.lockoutSeconds * 1000);
    if (count >= rl.lockoutThreshold) {
      await this.counters.setFlag(this.lockKey(email), rl.lockoutSeconds * 1000);
      await this.counters.reset(failKey);
      this.log.warn({ event: 'account-locked' }, 'account temporarily locked after repeated failed logins');
    }
  }

  // ------------------------------------------------------------------------------------------
  // Accounts.

  async login(username: string, password: string): Promise<IssuedToken> {
    const email = username.trim();
    const locked = this.config.auth.rateLimit.enabled && (await this.counters.flagTtl(this.lockKey(email))) > 0;
    const user = await this.users.findByEmail(email);
    if (!user || locked) {
      // Same cost as a real check, so neither unknown accounts nor locks show in the timing.
      await dummyVerify(password);
      throw LOGIN_BAD_CREDENTIALS();
    }
    const result = await verifyPassword(password, user.hashedPassword);
    if (result.status === 'unusable') {
      await dummyVerify(password);
      throw NO_PASSWORD();
    }
    if (result.status === 'invalid') {
      if (this.config.auth.rateLimit.enabled) await this.recordLoginFailure(email);
      throw LOGIN_BAD_CREDENTIALS();
    }
    if (!user.isActive) throw LOGIN_BAD_CREDENTIALS();
    if (this.config.auth.rateLimit.enabled) await this.counters.reset(`fail:${email.toLowerCase()}`);
    if (result.needsRehash) {
      await this.users.update(user.id, { hashedPassword: await hashPassword(password) });
      this.log.info({ userId: user.id }, 'password hash upgraded to argon2id');
    }
    return this.issueFor(user);
  }

  async issueFor(user: User): Promise<IssuedToken> {
    const roles = await this.users.roleNamesInTenant(user.id, user.tenantId);
    return issueAccessToken(this.secrets.jwt, this.config.auth.jwtLifetimeSeconds, {
      userId: user.id,
      tenantId: user.tenantId,
      roles,
    });
  }

  async logout(principal: AuthenticatedUser): Promise<void> {
    if (principal.token) {
      await this.users.revokeToken(principal.token.revocationId, principal.user.id, principal.token.expMs);
      await this.invalidate(principal.user.id);
    }
  }

  private policy(password: string, email: string, code: string) {
    const reason = passwordPolicyViolation(password, { minLength: this.config.auth.passwordMinLength, email });
    if (reason) throw ApiError.detail(400, { code, reason });
  }

  async register(input: { email: string; password: string }) {
    if (!this.config.auth.allowRegistration) throw ApiError.detail(403, 'REGISTER_DISABLED');
    const email = normaliseEmail(input.email);
    this.policy(input.password, email, 'REGISTER_INVALID_PASSWORD');
    if (await this.users.findByEmail(email)) throw ApiError.detail(400, 'REGISTER_USER_ALREADY_EXISTS');
    let user: User;
    try {
      user = await this.users.create({ email, hashedPassword: await hashPassword(input.password) });
    } catch (error) {
      if (isUniqueViolation(error)) throw ApiError.detail(400, 'REGISTER_USER_ALREADY_EXISTS');
      throw error;
    }
    this.log.info({ userId: user.id }, `User ${user.id} has registered.`);
    return userRead(user);
  }

  /** Always 202, whether or not the account exists; the e-mail goes out in the background. */
  async forgotPassword(emailInput: string): Promise<void> {
    const user = await this.users.findByEmail(normaliseEmail(emailInput));
    if (!user || !user.isActive || !isUsableHash(user.hashedPassword)) return;
    const token = await issueResetToken(this.secrets.reset, this.config.auth.resetTokenLifetimeSeconds, user.id, user.hashedPassword);
    this.deliver({
      kind: 'reset-password',
      userId: user.id,
      to: user.email,
      token,
      link: `${this.config.http.publicUrl}/reset-password?token=${encodeURIComponent(token)}`,
    });
  }

  async resetPassword(token: string, password: string): Promise<void> {
    const bad = () => ApiError.detail(400, 'RESET_PASSWORD_BAD_TOKEN');
    let claims;
    try {
      claims = await verifyResetToken(token, this.secrets.reset);
    } catch {
      throw bad();
    }
    const user = await this.users.findById(claims.userId);
    if (!user || !user.isActive || passwordFingerprint(user.hashedPassword) !== claims.fingerprint) throw bad();
    this.policy(password, user.email, 'RESET_PASSWORD_INVALID_PASSWORD');
    await this.users.update(user.id, { hashedPassword: await hashPassword(password), tokensValidAfter: Date.now() });
    await this.invalidate(user.id);
    this.log.info({ userId: user.id }, `User ${user.id} has reset their password.`);
  }

  async requestVerifyToken(emailInput: string): Promise<void> {
    const user = await this.users.findByEmail(normaliseEmail(emailInput));
    if (!user || !user.isActive || user.isVerified) return;
    const token = await issueVerifyToken(this.secrets.verify, this.config.auth.verifyTokenLifetimeSeconds, user.id, user.email);
    this.deliver({
      kind: 'verify-email',
      userId: user.id,
      to: user.email,
      token,
      link: `${this.config.http.publicUrl}/verify?token=${encodeURIComponent(token)}`,
    });
  }

  async verify(token: string) {
    const bad = () => ApiError.detail(400, 'VERIFY_USER_BAD_TOKEN');
    let claims;
    try {
      claims = await verifyVerifyToken(token, this.secrets.verify);
    } catch {
      throw bad();
    }
    const user = await this.users.findById(claims.userId);
    if (!user || !user.isActive || user.email !== claims.email) throw bad();
    if (user.isVerified) throw ApiError.detail(400, 'VERIFY_USER_ALREADY_VERIFIED');
    const updated = await this.users.update(user.id, { isVerified: true });
    await this.invalidate(user.id);
    this.log.info({ userId: user.id }, `User ${user.id} has been verified`);
    return userRead(updated!);
  }

  private deliver(message: Parameters<Mailer['send']>[0]) {
    // Only the message and code: an SMTP error object can carry the AUTH command with credentials.
    this.mailer
      .send(message)
      .catch((error: { message?: string; code?: string }) =>
        this.log.error(
          { error: { message: String(error?.message ?? error).slice(0, 300), code: error?.code }, userId: message.userId, event: message.kind },
          'failed to send account e-mail',
        ),
      );
  }

  // ------------------------------------------------------------------------------------------
  // Users router.

  async updateUser(
    target: User,
    patch: {
      email?: string | null | undefined;
      password?: string | null | undefined;
      is_active?: boolean | null | undefined;
      is_superuser?: boolean | null | undefined;
      is_verified?: boolean | null | undefined;
    },
    privileged: boolean,
  ) {
    const change: Parameters<UserStore['update']>[1] = {};
    let endSessions = false;
    const email = patch.email != null ? normaliseEmail(patch.email) : undefined;
    if (email !== undefined && email !== target.email) {
      const other = await this.users.findByEmail(email);
      if (other && other.id !== target.id) throw ApiError.detail(400, 'UPDATE_USER_EMAIL_ALREADY_EXISTS');
      change.email = email;
      change.isVerified = false;
    }
    if (patch.password != null) {
      if (!isUsableHash(target.hashedPassword) && !privileged) {
        throw ApiError.detail(400, { code: 'UPDATE_USER_INVALID_PASSWORD', reason: 'This account cannot have a password' });
      }
      this.policy(patch.password, email ?? target.email, 'UPDATE_USER_INVALID_PASSWORD');
      change.hashedPassword = await hashPassword(patch.password);
      endSessions = true;
    }
    if (privileged) {
      if (patch.is_active != null) {
        change.isActive = patch.is_active;
        if (!patch.is_active) endSessions = true;
      }
      if (patch.is_superuser != null) change.isSuperuser = patch.is_superuser;
      if (patch.is_verified != null) change.isVerified = patch.is_verified;
    }
    if (endSessions) change.tokensValidAfter = Date.now();
    let updated: User | undefined;
    try {
      updated = await this.users.update(target.id, change);
    } catch (error) {
      if (isUniqueViolation(error)) throw ApiError.detail(400, 'UPDATE_USER_EMAIL_ALREADY_EXISTS');
      throw error;
    }
    if (!updated) throw ApiError.notFound();
    await this.invalidate(target.id);
    return userRead(updated);
  }

  async deleteUser(id: string): Promise<void> {
    if (!(await this.users.delete(id))) throw ApiError.notFound();
    if (id === this.defaultUserId) this.defaultUserId = undefined;
    await this.invalidate(id);
  }

  async deleteApiKey(userId: string, keyId: string): Promise<void> {
    await this.apiKeys.delete(userId, keyId);
    await this.invalidate(userId);
  }
}
