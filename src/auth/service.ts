/**
 * Accounts (the reference's fastapi-users routes): login with account lockout (D9), logout,
 * registration, password reset, e-mail verification, user updates and deletion. Who a request acts
 * as is `credentials.ts`; every change to a user drops that user's cached credentials everywhere.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { ApiError } from '../errors.js';
import type { RelationalStore } from '../storage/index.js';
import { AgentService } from './agents.js';
import { ApiKeyService } from './api-keys.js';
import { ActivityReport } from './activity.js';
import { AgentConnections } from './connections.js';
import type { InvalidationBus } from './invalidation.js';
import type { Mailer } from './mailer.js';
import { dummyVerify, hashPassword, isUsableHash, passwordPolicyViolation, verifyPassword } from './passwords.js';
import { isServerAssignedEmail } from './reserved-emails.js';
import { lockoutAccount, lockoutAddress, type CounterStore } from './rate-limit.js';
import type { SigningSecrets } from './secrets.js';
import { issueAccessToken, issueResetToken, issueVerifyToken, passwordFingerprint, verifyResetToken, verifyVerifyToken, type IssuedToken } from './tokens.js';
import { Credentials, type AuthenticatedUser } from './credentials.js';
import { UserStore, isUniqueViolation, userRead, type User } from './user-store.js';

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

/** EmailStr-style normalisation: the domain is case-insensitive, the local part is kept. */
export function normaliseEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email.trim() : `${email.slice(0, at).trim()}${email.slice(at).toLowerCase().trim()}`;
}

export class AuthService {
  readonly users: UserStore;
  readonly apiKeys: ApiKeyService;
  readonly agents: AgentService;
  /** Agent connections (`/api/v1/agents/register`, `/connections`). */
  readonly connections: AgentConnections;
  /** Tenant members and agents' activity (`/api/v1/activity/users`, `/agents`). */
  readonly activity: ActivityReport;
  private readonly config: Config;
  private readonly secrets: SigningSecrets;
  private readonly counters: CounterStore;
  private readonly mailer: Mailer;
  private readonly log: Logger;
  /** Who a request acts as: credential resolution, its cache and the default user. */
  readonly credentials: Credentials;

  constructor(deps: AuthServiceDeps) {
    this.config = deps.config;
    this.secrets = deps.secrets;
    this.counters = deps.counters;
    this.mailer = deps.mailer;
    this.log = deps.log;
    this.users = new UserStore(deps.store.db);
    this.apiKeys = new ApiKeyService(deps.store.db, deps.store.dialect, {
      hash: deps.config.auth.hashApiKeys,
      maxPerUser: deps.config.auth.maxUserApiKeys,
    });
    this.agents = new AgentService(deps.store.db, this.users, this.apiKeys);
    this.connections = new AgentConnections(deps.store.db);
    this.activity = new ActivityReport(deps.store.db, deps.config.auth.defaultUserEmail);
    this.credentials = new Credentials({ ...deps, users: this.users, apiKeys: this.apiKeys });
  }

  /** Drops every cached credential of the user here and on every other instance. */
  invalidate(userId: string): Promise<void> {
    return this.credentials.invalidate(userId);
  }

  // ------------------------------------------------------------------------------------------
  // Account lockout (D9). The per-address limits are the HTTP layer's (http/rate-limits.ts).
  //
  // Failures are counted per account and client address: LOGIN_LOCKOUT_THRESHOLD failures lock
  // that address out of that account for LOGIN_LOCKOUT_SECONDS, and nobody else, so no one can
  // lock another person out. Unknown accounts count the same way as known ones, so the counting
  // shows nothing either. A completed password reset clears the account's locks and counts.

  private lockoutKeys(email: string, clientAddress: string) {
    if (!this.config.auth.rateLimit.enabled) return undefined;
    return { account: lockoutAccount(email), address: lockoutAddress(clientAddress) };
  }

  private async recordLoginFailure(keys: { account: string; address: string } | undefined) {
    if (!keys) return;
    const rl = this.config.auth.rateLimit;
    if (await this.counters.recordFailure(keys.account, keys.address, rl.lockoutThreshold, rl.lockoutSeconds * 1000)) {
      this.log.warn({ event: 'account-locked' }, 'account temporarily locked after repeated failed logins');
    }
  }

  // ------------------------------------------------------------------------------------------
  // Accounts.

  /**
   * `clientAddress` is the request's address as TRUST_PROXY resolves it (`request.ip`): the lockout
   * counts per account and address.
   */
  async login(username: string, password: string, clientAddress: string): Promise<IssuedToken> {
    const email = username.trim();
    const keys = this.lockoutKeys(email, clientAddress);
    const locked = keys !== undefined && (await this.counters.isLocked(keys.account, keys.address));
    const user = await this.users.findByEmail(email);
    if (!user || locked) {
      // Same cost as a real check, so neither unknown accounts nor locks show in the timing.
      await dummyVerify(password);
      if (!locked) await this.recordLoginFailure(keys);
      throw LOGIN_BAD_CREDENTIALS();
    }
    const result = await verifyPassword(password, user.hashedPassword);
    if (result.status === 'unusable') {
      await dummyVerify(password);
      throw NO_PASSWORD();
    }
    if (result.status === 'invalid') {
      await this.recordLoginFailure(keys);
      throw LOGIN_BAD_CREDENTIALS();
    }
    if (!user.isActive) throw LOGIN_BAD_CREDENTIALS();
    if (keys) await this.counters.clearFailures(keys.account, keys.address);
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

  /** The default user's e-mail (`DEFAULT_USER_EMAIL`), which no one may register or take. */
  private isReserved(email: string): boolean {
    return email.toLowerCase() === normaliseEmail(this.config.auth.defaultUserEmail).toLowerCase();
  }

  async register(input: { email: string; password: string }) {
    if (!this.config.auth.allowRegistration) throw ApiError.detail(403, 'REGISTER_DISABLED');
    const email = normaliseEmail(input.email);
    this.policy(input.password, email, 'REGISTER_INVALID_PASSWORD');
    // The default user's e-mail is taken whether or not that account exists yet (D25): whoever held
    // it would become the superuser anonymous requests act as once authentication is off. Agents'
    // and external users' addresses are the server's to assign: taken, they would block an agent
    // name or an external user.
    if (this.isReserved(email) || isServerAssignedEmail(email) || (await this.users.findByEmail(email))) {
      throw ApiError.detail(400, 'REGISTER_USER_ALREADY_EXISTS');
    }
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
    // Whoever failed or was locked out before, the owner now holds a new password: start afresh.
    if (this.config.auth.rateLimit.enabled) await this.counters.clearAccount(lockoutAccount(user.email));
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
      const reserved = (this.isReserved(email) && !this.isReserved(target.email)) || isServerAssignedEmail(email);
      if ((other && other.id !== target.id) || reserved) {
        throw ApiError.detail(400, 'UPDATE_USER_EMAIL_ALREADY_EXISTS');
      }
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
    if (endSessions) change.tokensValidAfter = await this.users.nextSessionStamp(target.id, Date.now());
    let updated: User | undefined;
    try {
      updated = await this.users.update(target.id, change);
    } catch (error) {
      if (isUniqueViolation(error)) throw ApiError.detail(400, 'UPDATE_USER_EMAIL_ALREADY_EXISTS');
      throw error;
    }
    if (!updated) throw ApiError.notFound();
    await this.invalidate(target.id);
    // D24: the user's agents are deactivated and reactivated with it.
    for (const agent of await this.users.followActivation(target, updated)) await this.invalidate(agent);
    return userRead(updated);
  }

  /**
   * Deletes the user and (D24) the user's agents, and ends their sessions and keys everywhere.
   * Answers the ids of the user's personal datasets marked for deletion (`UserStore.delete`): the
   * caller deletes them whole.
   */
  async deleteUser(id: string): Promise<string[]> {
    const { users, doomedDatasets } = await this.users.delete(id);
    if (users.length === 0) throw ApiError.notFound();
    for (const user of users) {
      this.credentials.forgetUser(user);
      await this.invalidate(user);
    }
    return doomedDatasets;
  }

  async deleteApiKey(userId: string, keyId: string): Promise<void> {
    await this.apiKeys.delete(userId, keyId);
    await this.invalidate(userId);
  }
}
