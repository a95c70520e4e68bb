import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { ConfigError, bool, int, list, oneOf, raw, str, trustProxy, url, type Env } from './parse.js';
import { resolvePosture, type AuthPosture } from './posture.js';
import { loadMemoryConfig, type MemoryConfig } from './memory.js';
import { loadConnectionLimits, loadUserQuotas, type ConnectionLimits, type UserQuotas } from './limits.js';
import { loadSessionConfig, type SessionConfig } from './sessions.js';

export { ConfigError } from './parse.js';
export type { Env } from './parse.js';
export type { MemoryConfig, LlmConfig, EmbeddingConfig, PgvectorConnection } from './memory.js';
export type { ConnectionLimits, UserQuotas } from './limits.js';
export type { SessionConfig, ModelPrice } from './sessions.js';
export { resolvePosture, FORCED_ON_WARNING, type AuthPosture } from './posture.js';

export type DbProvider = 'sqlite' | 'postgres';

export interface RateLimitConfig {
  readonly enabled: boolean;
  readonly windowSeconds: number;
  readonly login: number;
  readonly register: number;
  readonly forgotPassword: number;
  readonly verify: number;
  readonly lockoutThreshold: number;
  readonly lockoutSeconds: number;
}

export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly from: string;
}

export interface Config {
  readonly env: string;
  readonly cwd: string;
  readonly logLevel: string;
  readonly posture: AuthPosture;
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly publicUrl: string;
    /**
     * TRUST_PROXY: false (the socket's address is the client), a number of trusted proxy hops
     * (`true` is 1), or the trusted proxies' addresses and CIDR ranges. Fastify's `trustProxy`.
     */
    readonly trustProxy: false | number | readonly string[];
    readonly bodyLimitBytes: number;
    /** Serve the web UI (dist/ui) from this server (`SERVE_UI`, default true). */
    readonly serveUi: boolean;
    readonly corsOrigins: readonly string[];
    /**
     * D25: the host names the server answers to (`ALLOWED_HOSTS`), lower case, IPv6 in brackets; a
     * leading dot also admits every subdomain, and `*` admits any name. Default: the loopback names
     * and the host of `PUBLIC_BASE_URL`.
     */
    readonly allowedHosts: readonly string[];
    /** Timeouts and connection caps of the HTTP server (slow clients, slowloris). */
    readonly connections: ConnectionLimits;
  };
  readonly systemRoot: string;
  readonly dataRoot: string;
  readonly db:
    | {
        readonly provider: 'sqlite';
        readonly path: string;
        /** SQLite's page cache for the relational store, in MiB (filled only as pages are read). */
        readonly cacheMib: number;
      }
    | {
        readonly provider: 'postgres';
        readonly host: string;
        readonly port: number;
        readonly name: string;
        readonly username: string;
        readonly password?: string;
        readonly poolSize: number;
      };
  readonly auth: {
    /** Raw values from the environment; undefined means "generate and keep under systemRoot" (D4). */
    readonly jwtSecret?: string;
    readonly resetSecret?: string;
    readonly verifySecret?: string;
    readonly jwtLifetimeSeconds: number;
    readonly resetTokenLifetimeSeconds: number;
    readonly verifyTokenLifetimeSeconds: number;
    readonly cookieName: string;
    readonly cookieDomain?: string;
    readonly cookieSecure: boolean;
    readonly hashApiKeys: boolean;
    readonly maxUserApiKeys: number;
    readonly defaultUserEmail: string;
    /** Only set when DEFAULT_USER_PASSWORD is set explicitly (D7). */
    readonly defaultUserPassword?: string;
    readonly externalTokenAutoProvision: boolean;
    readonly allowRegistration: boolean;
    readonly passwordMinLength: number;
    readonly authCacheTtlSeconds: number;
    readonly rateLimit: RateLimitConfig;
  };
  readonly memory: MemoryConfig;
  /** What one user may run and keep at once (pipeline runs, model calls, storage). */
  readonly quotas: UserQuotas;
  readonly sessions: SessionConfig;
  readonly redisUrl?: string;
  readonly smtp?: SmtpConfig;
}

/**
 * D13: a `.env` file in the working directory is read, but the real environment wins over it.
 * An empty value in the real environment still counts as set (and therefore as "unset" per D12),
 * so a deployment can blank out a stale file's value.
 */
export function mergeDotenv(processEnv: Env, cwd: string): Env {
  const file = resolve(cwd, '.env');
  if (!existsSync(file)) return { ...processEnv };
  const fromFile = parseDotenv(readFileSync(file));
  return { ...fromFile, ...processEnv };
}

const DEFAULT_SECRET_NAMES = ['super_secret'];

/** The names a browser on this machine uses for it; a rebinding page cannot send them (D25). */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * D25: `ALLOWED_HOSTS`, comma-separated host names without a port: `name`, `.domain` (the domain and
 * its subdomains), an IPv4 or IPv6 address, or `*` (any name: the Host check is off).
 */
function hostList(env: Env, name: string): string[] | undefined {
  const entries = list(env, name);
  if (entries === undefined || entries.length === 0) return undefined;
  return entries.map((entry) => {
    const lower = entry.toLowerCase().replace(/\.$/, '');
    if (lower === '*') return lower;
    if (isIPv6(lower)) return `[${lower}]`;
    if (/^\[[0-9a-f:.]+\]$/.test(lower) && isIPv6(lower.slice(1, -1))) return lower;
    if (/^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(lower)) return lower;
    throw new ConfigError(name, `expected host names without a scheme or port (name, .domain, an address or *), got ${JSON.stringify(entry)}`);
  });
}

/** Parses every variable once into a frozen object, failing fast with the variable's name. */
export function loadConfig(processEnv: Env = process.env, cwd: string = process.cwd()): Config {
  const env = mergeDotenv(processEnv, cwd);
  const posture = resolvePosture(env);

  const systemRoot = resolve(cwd, str(env, 'SYSTEM_ROOT_DIRECTORY', '.engram/system'));
  const dataRoot = resolve(cwd, str(env, 'DATA_ROOT_DIRECTORY', '.engram/data'));

  const host = str(env, 'HTTP_API_HOST', '127.0.0.1');
  const port = int(env, 'HTTP_API_PORT', 8000, { min: 0, max: 65535 });
  const uiAppUrl = url(env, 'UI_APP_URL', 'http://localhost:3000') as string;
  const corsOrigins = list(env, 'CORS_ALLOWED_ORIGINS') ?? [uiAppUrl];
  const displayHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const publicUrl = (url(env, 'PUBLIC_BASE_URL') ?? `http://${displayHost.includes(':') ? `[${displayHost}]` : displayHost}:${port}`).replace(/\/+$/, '');
  const allowedHosts = hostList(env, 'ALLOWED_HOSTS') ?? [...new Set([...LOOPBACK_HOSTS, new URL(publicUrl).hostname.toLowerCase().replace(/\.$/, '')])];

  const provider = oneOf<DbProvider>(env, 'DB_PROVIDER', ['sqlite', 'postgres'], 'sqlite');
  const dbName = str(env, 'DB_NAME', provider === 'sqlite' ? 'engram_db' : 'engram');
  const db: Config['db'] =
    provider === 'sqlite'
      ? {
          provider,
          path: resolve(str(env, 'DB_PATH', resolve(systemRoot, 'databases')), dbName),
          cacheMib: int(env, 'DB_SQLITE_CACHE_MIB', 32, { min: 2, max: 4096 }),
        }
      : {
          provider,
          host: str(env, 'DB_HOST', '127.0.0.1'),
          port: int(env, 'DB_PORT', 5432, { min: 1, max: 65535 }),
          name: dbName,
          username: str(env, 'DB_USERNAME', 'postgres'),
          ...(raw(env, 'DB_PASSWORD') !== undefined ? { password: raw(env, 'DB_PASSWORD') } : {}),
          poolSize: int(env, 'DB_POOL_SIZE', 10, { min: 1, max: 200 }),
        };

  const jwtLifetimeSeconds = int(env, 'JWT_LIFETIME_SECONDS', 3600, { max: 60 * 60 * 24 * 365 });
  if (jwtLifetimeSeconds <= 0) {
    throw new ConfigError('JWT_LIFETIME_SECONDS', 'must be a positive number of seconds (a token must expire)');
  }

  const jwtSecret = raw(env, 'FASTAPI_USERS_JWT_SECRET');
  const resetSecret = raw(env, 'FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET');
  const verifySecret = raw(env, 'FASTAPI_USERS_VERIFICATION_TOKEN_SECRET');
  if (posture.requireAuthentication) {
    for (const [name, value] of [
      ['FASTAPI_USERS_JWT_SECRET', jwtSecret],
      ['FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET', resetSecret],
      ['FASTAPI_USERS_VERIFICATION_TOKEN_SECRET', verifySecret],
    ] as const) {
      if (value === undefined) continue;
      if (DEFAULT_SECRET_NAMES.includes(value)) {
        throw new ConfigError(
          name,
          'the well-known default secret is refused while authentication is required; unset it to have one generated, or set a random value of at least 32 characters',
        );
      }
      if (value.length < 32) {
        throw new ConfigError(name, `a secret must be at least 32 characters while authentication is required (got ${value.length})`);
      }
    }
  }

  const passwordMinLength = int(env, 'PASSWORD_MIN_LENGTH', 8, { min: 8, max: 64 });

  const smtpHost = raw(env, 'SMTP_HOST');
  const smtpPort = int(env, 'SMTP_PORT', 587, { min: 1, max: 65535 });
  // Read even without SMTP_HOST: a bad boolean always stops startup (D12).
  const smtpSecure = bool(env, 'SMTP_SECURE', smtpPort === 465);
  const smtp: SmtpConfig | undefined = smtpHost
    ? {
        host: smtpHost,
        port: smtpPort,
        secure: smtpSecure,
        ...(raw(env, 'SMTP_USERNAME') !== undefined ? { username: raw(env, 'SMTP_USERNAME') } : {}),
        ...(raw(env, 'SMTP_PASSWORD') !== undefined ? { password: raw(env, 'SMTP_PASSWORD') } : {}),
        from: str(env, 'SMTP_FROM', 'Engram <no-reply@localhost>'),
      }
    : undefined;

  const redisUrl = url(env, 'REDIS_URL');
  const defaultUserPassword = raw(env, 'DEFAULT_USER_PASSWORD');

  const config: Config = {
    env: str(env, 'ENV', 'prod'),
    cwd,
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    posture,
    http: {
      host,
      port,
      publicUrl,
      trustProxy: trustProxy(env, 'TRUST_PROXY'),
      bodyLimitBytes: int(env, 'HTTP_BODY_LIMIT_BYTES', 1024 * 1024, { min: 1024 }),
      serveUi: bool(env, 'SERVE_UI', true),
      corsOrigins,
      allowedHosts,
      connections: loadConnectionLimits(env),
    },
    systemRoot,
    dataRoot,
    db,
    auth: {
      ...(jwtSecret !== undefined ? { jwtSecret } : {}),
      ...(resetSecret !== undefined ? { resetSecret } : {}),
      ...(verifySecret !== undefined ? { verifySecret } : {}),
      jwtLifetimeSeconds,
      resetTokenLifetimeSeconds: int(env, 'RESET_PASSWORD_TOKEN_LIFETIME_SECONDS', 3600, { min: 60 }),
      verifyTokenLifetimeSeconds: int(env, 'VERIFICATION_TOKEN_LIFETIME_SECONDS', 3600, { min: 60 }),
      cookieName: str(env, 'AUTH_TOKEN_COOKIE_NAME', 'auth_token'),
      ...(raw(env, 'AUTH_TOKEN_COOKIE_DOMAIN') !== undefined ? { cookieDomain: raw(env, 'AUTH_TOKEN_COOKIE_DOMAIN') } : {}),
      cookieSecure: bool(env, 'AUTH_TOKEN_COOKIE_SECURE', false),
      hashApiKeys: bool(env, 'HASH_API_KEY', true),
      maxUserApiKeys: int(env, 'MAX_USER_API_KEYS', 10, { min: 1, max: 1000 }),
      defaultUserEmail: str(env, 'DEFAULT_USER_EMAIL', 'default_user@example.com'),
      ...(defaultUserPassword !== undefined ? { defaultUserPassword } : {}),
      externalTokenAutoProvision: bool(env, 'EXTERNAL_TOKEN_AUTO_PROVISION', true),
      allowRegistration: bool(env, 'ALLOW_REGISTRATION', true),
      passwordMinLength,
      authCacheTtlSeconds: int(env, 'AUTH_CACHE_TTL_SECONDS', 30, { min: 0, max: 3600 }),
      rateLimit: {
        enabled: bool(env, 'RATE_LIMIT_ENABLED', true),
        windowSeconds: int(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, { min: 1 }),
        login: int(env, 'RATE_LIMIT_LOGIN', 20, { min: 1 }),
        register: int(env, 'RATE_LIMIT_REGISTER', 10, { min: 1 }),
        forgotPassword: int(env, 'RATE_LIMIT_FORGOT_PASSWORD', 5, { min: 1 }),
        verify: int(env, 'RATE_LIMIT_VERIFY', 10, { min: 1 }),
        lockoutThreshold: int(env, 'LOGIN_LOCKOUT_THRESHOLD', 10, { min: 1, max: 29 }),
        lockoutSeconds: int(env, 'LOGIN_LOCKOUT_SECONDS', 900, { min: 1 }),
      },
    },
    memory: loadMemoryConfig(env, {
      multiTenant: posture.multiTenant,
      systemRoot,
      dataRoot,
      cwd,
      relationalIsPostgres: provider === 'postgres',
    }),
    quotas: loadUserQuotas(env),
    sessions: loadSessionConfig(env),
    ...(redisUrl !== undefined ? { redisUrl } : {}),
    ...(smtp !== undefined ? { smtp } : {}),
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
