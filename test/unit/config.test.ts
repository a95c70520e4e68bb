import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig, type Config } from '../../src/config/index.js';
import { resolveSecrets } from '../../src/auth/secrets.js';
import { startTestServer } from '../helpers/harness.js';

/**
 * Configuration units: every variable loadConfig reads is parsed once, and a bad value stops startup
 * with a ConfigError naming the variable. D12 (booleans), D13 (.env), D1 (a token must expire),
 * D4 (no well-known or short secrets; generated secrets kept under the system root).
 */

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-config-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** loadConfig in an empty working directory (no .env), with exactly the given environment. */
const load = (env: Record<string, string>, cwd = tempDir()) => loadConfig(env, cwd);

/** Asserts that `fn` throws a ConfigError for `variable`, whose message starts with the variable's name. */
function assertConfigError(fn: () => unknown, variable: string, what: string, message?: string): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `${what}: expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.variable, variable, what);
  assert.ok(caught.message.startsWith(`${variable}: `), `${what}: the message names the variable: ${caught.message}`);
  if (message !== undefined) assert.equal(caught.message, message, what);
  return caught;
}

/** The variables the config module reads with a given reader, taken from its source. */
function variablesReadWith(readers: string[]): string[] {
  const source = ['src/config/index.ts', 'src/config/posture.ts'].map((f) => readFileSync(join(process.cwd(), f), 'utf8')).join('\n');
  const pattern = new RegExp(`\\b(?:${readers.join('|')})\\(env, '([A-Z0-9_]+)'`, 'g');
  return [...new Set([...source.matchAll(pattern)].map((m) => m[1]!))].sort();
}

// ------------------------------------------------------------------------------------------------
// D12: booleans

interface BooleanVariable {
  /** Other variables needed for this one to matter. */
  readonly context: Record<string, string>;
  readonly read: (c: Config) => boolean;
  readonly fallback: boolean;
}

const BOOLEANS: Record<string, BooleanVariable> = {
  ENABLE_BACKEND_ACCESS_CONTROL: { context: {}, read: (c) => c.posture.multiTenant, fallback: true },
  // With multi-tenant mode off, REQUIRE_AUTHENTICATION alone decides.
  REQUIRE_AUTHENTICATION: {
    context: { ENABLE_BACKEND_ACCESS_CONTROL: 'false' },
    read: (c) => c.posture.requireAuthentication,
    fallback: false,
  },
  SERVE_UI: { context: {}, read: (c) => c.http.serveUi, fallback: true },
  AUTH_TOKEN_COOKIE_SECURE: { context: {}, read: (c) => c.auth.cookieSecure, fallback: false },
  HASH_API_KEY: { context: {}, read: (c) => c.auth.hashApiKeys, fallback: true },
  EXTERNAL_TOKEN_AUTO_PROVISION: { context: {}, read: (c) => c.auth.externalTokenAutoProvision, fallback: true },
  ALLOW_REGISTRATION: { context: {}, read: (c) => c.auth.allowRegistration, fallback: true },
  RATE_LIMIT_ENABLED: { context: {}, read: (c) => c.auth.rateLimit.enabled, fallback: true },
  SMTP_SECURE: { context: { SMTP_HOST: 'mail.example.com' }, read: (c) => c.smtp!.secure, fallback: false },
};

const TRUE_WORDS = ['true', 'TRUE', 'True', 'tRuE', '1', 'yes', 'YES', 'Yes', 'on', 'ON', 'On', ' true '];
const FALSE_WORDS = ['false', 'FALSE', 'False', 'fAlSe', '0', 'no', 'NO', 'No', 'off', 'OFF', 'Off', ' 0 '];
const NOT_BOOLEANS = ['maybe', '2', '-1', '10', '01', '00', 't', 'f', 'y', 'n', 'tru', 'truee', 'enabled', 'disabled', 'none', 'null', 'yes!', 'on off'];

describe('D12: boolean variables', () => {
  it('D12: the table below covers every boolean variable the config module reads', () => {
    assert.deepEqual(variablesReadWith(['bool', 'optionalBool']), Object.keys(BOOLEANS).sort());
  });

  for (const [name, { context, read, fallback }] of Object.entries(BOOLEANS)) {
    it(`D12: ${name} accepts true/false/1/0/yes/no/on/off in any case`, () => {
      for (const word of TRUE_WORDS) assert.equal(read(load({ ...context, [name]: word })), true, `${name}=${JSON.stringify(word)}`);
      for (const word of FALSE_WORDS) assert.equal(read(load({ ...context, [name]: word })), false, `${name}=${JSON.stringify(word)}`);
    });

    it(`D12: ${name} refuses any other value with a ConfigError naming it`, () => {
      for (const word of NOT_BOOLEANS) {
        assertConfigError(
          () => load({ ...context, [name]: word }),
          name,
          `${name}=${JSON.stringify(word)}`,
          `${name}: expected a boolean (true/false, 1/0, yes/no, on/off), got ${JSON.stringify(word)}`,
        );
      }
    });

    it(`D12: ${name} unset, empty or blank takes its default (${fallback})`, () => {
      assert.equal(read(load({ ...context })), fallback, 'unset');
      assert.equal(read(load({ ...context, [name]: '' })), fallback, 'empty');
      assert.equal(read(load({ ...context, [name]: '   ' })), fallback, 'blank');
    });
  }

  it('D12: a bad boolean stops startup even when the feature it belongs to is off (SMTP_SECURE without SMTP_HOST)', () => {
    assertConfigError(() => load({ SMTP_SECURE: 'sometimes' }), 'SMTP_SECURE', 'SMTP_SECURE without SMTP_HOST');
  });

  it('SMTP_SECURE defaults to true on port 465 and false otherwise', () => {
    assert.equal(load({ SMTP_HOST: 'mail', SMTP_PORT: '465' }).smtp!.secure, true);
    assert.equal(load({ SMTP_HOST: 'mail', SMTP_PORT: '587' }).smtp!.secure, false);
    assert.equal(load({ SMTP_HOST: 'mail', SMTP_PORT: '465', SMTP_SECURE: 'off' }).smtp!.secure, false);
  });
});

describe('TRUST_PROXY: a boolean, a number of hops, or the trusted proxies', () => {
  const read = (value: string) => load({ TRUST_PROXY: value }).http.trustProxy;

  it('unset, blank and the D12 false words trust no proxy', () => {
    assert.equal(load({}).http.trustProxy, false);
    for (const word of ['', '   ', ...FALSE_WORDS]) assert.equal(read(word), false, JSON.stringify(word));
  });

  it('the D12 true words mean one hop (the nearest proxy), never "trust every hop"', () => {
    for (const word of TRUE_WORDS) assert.equal(read(word), 1, JSON.stringify(word));
  });

  it('a whole number is a number of hops', () => {
    assert.equal(read('2'), 2);
    assert.equal(read(' 10 '), 10);
    assert.equal(read('999'), 999);
  });

  it('a comma-separated list of addresses, CIDR ranges and range names is the trusted proxies', () => {
    assert.deepEqual(read('10.0.0.1'), ['10.0.0.1']);
    assert.deepEqual(read('10.0.0.0/8, 192.168.1.7 ,2001:DB8::/32,::1,loopback,UniqueLocal'), [
      '10.0.0.0/8',
      '192.168.1.7',
      '2001:db8::/32',
      '::1',
      'loopback',
      'uniquelocal',
    ]);
  });

  it('anything else stops startup with a ConfigError naming TRUST_PROXY', () => {
    for (const value of [
      'maybe',
      '-1',
      '01',
      '00',
      '1000',
      '1.5',
      '10.0.0.0/33',
      '2001:db8::/129',
      '10.0.0.0/',
      '10.0.0.0/8,',
      'proxy.example.com',
      '10.0.0.300',
      '*',
    ]) {
      assertConfigError(() => read(value), 'TRUST_PROXY', `TRUST_PROXY=${JSON.stringify(value)}`);
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Integers

interface IntegerVariable {
  readonly context: Record<string, string>;
  readonly valid: string;
  readonly read: (c: Config) => number;
}

const PG = { DB_PROVIDER: 'postgres' };
const INTEGERS: Record<string, IntegerVariable> = {
  HTTP_API_PORT: { context: {}, valid: '8123', read: (c) => c.http.port },
  DB_PORT: { context: PG, valid: '5433', read: (c) => (c.db.provider === 'postgres' ? c.db.port : NaN) },
  DB_POOL_SIZE: { context: PG, valid: '5', read: (c) => (c.db.provider === 'postgres' ? c.db.poolSize : NaN) },
  DB_SQLITE_CACHE_MIB: { context: {}, valid: '64', read: (c) => (c.db.provider === 'sqlite' ? c.db.cacheMib : NaN) },
  JWT_LIFETIME_SECONDS: { context: {}, valid: '60', read: (c) => c.auth.jwtLifetimeSeconds },
  PASSWORD_MIN_LENGTH: { context: {}, valid: '12', read: (c) => c.auth.passwordMinLength },
  SMTP_PORT: { context: { SMTP_HOST: 'mail' }, valid: '2525', read: (c) => c.smtp!.port },
  HTTP_BODY_LIMIT_BYTES: { context: {}, valid: '2048', read: (c) => c.http.bodyLimitBytes },
  RESET_PASSWORD_TOKEN_LIFETIME_SECONDS: { context: {}, valid: '600', read: (c) => c.auth.resetTokenLifetimeSeconds },
  VERIFICATION_TOKEN_LIFETIME_SECONDS: { context: {}, valid: '600', read: (c) => c.auth.verifyTokenLifetimeSeconds },
  MAX_USER_API_KEYS: { context: {}, valid: '3', read: (c) => c.auth.maxUserApiKeys },
  AUTH_CACHE_TTL_SECONDS: { context: {}, valid: '0', read: (c) => c.auth.authCacheTtlSeconds },
  RATE_LIMIT_WINDOW_SECONDS: { context: {}, valid: '30', read: (c) => c.auth.rateLimit.windowSeconds },
  RATE_LIMIT_LOGIN: { context: {}, valid: '5', read: (c) => c.auth.rateLimit.login },
  RATE_LIMIT_REGISTER: { context: {}, valid: '4', read: (c) => c.auth.rateLimit.register },
  RATE_LIMIT_FORGOT_PASSWORD: { context: {}, valid: '2', read: (c) => c.auth.rateLimit.forgotPassword },
  RATE_LIMIT_VERIFY: { context: {}, valid: '3', read: (c) => c.auth.rateLimit.verify },
  LOGIN_LOCKOUT_THRESHOLD: { context: {}, valid: '5', read: (c) => c.auth.rateLimit.lockoutThreshold },
  LOGIN_LOCKOUT_SECONDS: { context: {}, valid: '60', read: (c) => c.auth.rateLimit.lockoutSeconds },
};

const NOT_INTEGERS = ['abc', '1.5', '12abc', '0x10', '1e3', 'ten', '1,000', '+'];

describe('integer variables', () => {
  it('the table below covers every integer variable the config module reads', () => {
    assert.deepEqual(variablesReadWith(['int']), Object.keys(INTEGERS).sort());
  });

  for (const [name, { context, valid, read }] of Object.entries(INTEGERS)) {
    it(`${name} takes an integer and refuses non-integers with a ConfigError naming it`, () => {
      assert.equal(read(load({ ...context, [name]: valid })), Number(valid));
      for (const value of NOT_INTEGERS) {
        assertConfigError(() => load({ ...context, [name]: value }), name, `${name}=${value}`, `${name}: expected an integer, got ${JSON.stringify(value)}`);
      }
    });
  }

  it('out-of-range integers are refused, naming the variable', () => {
    for (const [name, value, context] of [
      ['HTTP_API_PORT', '70000', {}],
      ['HTTP_API_PORT', '-1', {}],
      ['DB_PORT', '0', PG],
      ['DB_SQLITE_CACHE_MIB', '1', {}],
      ['DB_SQLITE_CACHE_MIB', '4097', {}],
      ['MAX_USER_API_KEYS', '0', {}],
      ['PASSWORD_MIN_LENGTH', '6', {}],
      ['PASSWORD_MIN_LENGTH', '65', {}],
      ['LOGIN_LOCKOUT_THRESHOLD', '30', {}],
      ['RESET_PASSWORD_TOKEN_LIFETIME_SECONDS', '59', {}],
      ['HTTP_BODY_LIMIT_BYTES', '99999999999999999999', {}],
    ] as const) {
      assertConfigError(() => load({ ...context, [name]: value }), name, `${name}=${value}`);
    }
  });

  it('D1: JWT_LIFETIME_SECONDS=0 is refused (a token must expire), as is a negative lifetime', () => {
    for (const value of ['0', '-1', '-3600']) {
      assertConfigError(() => load({ JWT_LIFETIME_SECONDS: value }), 'JWT_LIFETIME_SECONDS', `JWT_LIFETIME_SECONDS=${value}`);
    }
    assert.equal(load({}).auth.jwtLifetimeSeconds, 3600, 'the default is one hour');
    assert.equal(load({ JWT_LIFETIME_SECONDS: '1' }).auth.jwtLifetimeSeconds, 1);
  });
});

describe('other variables', () => {
  it('DB_PROVIDER is sqlite or postgres, naming the variable otherwise', () => {
    assertConfigError(() => load({ DB_PROVIDER: 'oracle' }), 'DB_PROVIDER', 'DB_PROVIDER=oracle');
    assert.equal(load({ DB_PROVIDER: 'POSTGRES' }).db.provider, 'postgres');
  });

  it('URL variables refuse what is not an http(s) or redis URL, naming the variable', () => {
    assertConfigError(() => load({ REDIS_URL: 'not a url' }), 'REDIS_URL', 'REDIS_URL');
    assertConfigError(() => load({ PUBLIC_BASE_URL: 'ftp://example.com' }), 'PUBLIC_BASE_URL', 'PUBLIC_BASE_URL');
    assertConfigError(() => load({ UI_APP_URL: 'javascript:alert(1)' }), 'UI_APP_URL', 'UI_APP_URL');
  });

  it("defaults: loopback on port 8000, SQLite under the working directory, the reference's CORS origin", () => {
    const cwd = tempDir();
    const c = load({}, cwd);
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 8000);
    assert.deepEqual(c.http.corsOrigins, ['http://localhost:3000']);
    assert.equal(c.systemRoot, join(cwd, '.engram/system'));
    assert.ok(c.db.provider === 'sqlite' && c.db.path === join(cwd, '.engram/system/databases/engram_db'));
    assert.equal(c.auth.cookieName, 'auth_token');
    assert.equal(c.auth.defaultUserEmail, 'default_user@example.com');
    assert.equal(c.auth.defaultUserPassword, undefined, 'D7: no default password unless set');
    assert.equal(c.auth.jwtSecret, undefined, 'D4: no secret unless set');
  });

  it('the configuration object is deeply frozen', () => {
    const c = load({});
    assert.throws(() => {
      (c.auth as { hashApiKeys: boolean }).hashApiKeys = false;
    }, TypeError);
    assert.throws(() => {
      (c.auth.rateLimit as { login: number }).login = 1;
    }, TypeError);
  });
});

// ------------------------------------------------------------------------------------------------
// D13: .env

describe('D13: .env in the working directory', () => {
  it('D13: a .env file in the working directory is read', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), '# a comment\nMAX_USER_API_KEYS=7\nHASH_API_KEY=false\nDEFAULT_USER_EMAIL="quoted@example.com"\n');
    const c = loadConfig({}, dir);
    assert.equal(c.auth.maxUserApiKeys, 7);
    assert.equal(c.auth.hashApiKeys, false);
    assert.equal(c.auth.defaultUserEmail, 'quoted@example.com');
  });

  it('D13: the real environment wins over .env; what the environment does not set still comes from the file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'MAX_USER_API_KEYS=7\nHASH_API_KEY=false\nALLOW_REGISTRATION=false\nENABLE_BACKEND_ACCESS_CONTROL=false\n');
    const c = loadConfig({ MAX_USER_API_KEYS: '3', HASH_API_KEY: 'true', ENABLE_BACKEND_ACCESS_CONTROL: 'true' }, dir);
    assert.equal(c.auth.maxUserApiKeys, 3);
    assert.equal(c.auth.hashApiKeys, true);
    assert.equal(c.posture.multiTenant, true);
    assert.equal(c.posture.requireAuthentication, true);
    assert.equal(c.auth.allowRegistration, false, 'from the file');
  });

  it('D13: an empty value in the real environment blanks the .env value, which then counts as unset (D12)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'ENABLE_BACKEND_ACCESS_CONTROL=false\nMAX_USER_API_KEYS=7\n');
    const c = loadConfig({ ENABLE_BACKEND_ACCESS_CONTROL: '', MAX_USER_API_KEYS: '' }, dir);
    assert.equal(c.posture.reason, 'default (no env vars set)');
    assert.equal(c.auth.maxUserApiKeys, 10);
  });

  it("D13: only the working directory's .env is read, and reading it does not change process.env", () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'ENGRAM_TEST_ONLY_MARKER=1\nMAX_USER_API_KEYS=7\n');
    const other = tempDir();
    assert.equal(loadConfig({}, other).auth.maxUserApiKeys, 10, 'another directory has no .env');
    assert.equal(loadConfig({}, dir).auth.maxUserApiKeys, 7);
    assert.equal(process.env.ENGRAM_TEST_ONLY_MARKER, undefined);
  });

  it('D13: a bad value in .env stops startup naming the variable', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'ENABLE_BACKEND_ACCESS_CONTROL=maybe\n');
    assertConfigError(() => loadConfig({}, dir), 'ENABLE_BACKEND_ACCESS_CONTROL', '.env');
    writeFileSync(join(dir, '.env'), 'JWT_LIFETIME_SECONDS=0\n');
    assertConfigError(() => loadConfig({}, dir), 'JWT_LIFETIME_SECONDS', '.env');
    // ... unless the real environment overrides it.
    assert.equal(loadConfig({ JWT_LIFETIME_SECONDS: '60' }, dir).auth.jwtLifetimeSeconds, 60);
  });

  it('D13: a relative SYSTEM_ROOT_DIRECTORY is resolved against the working directory', () => {
    const dir = tempDir();
    assert.equal(loadConfig({ SYSTEM_ROOT_DIRECTORY: 'sys' }, dir).systemRoot, join(dir, 'sys'));
  });
});

// ------------------------------------------------------------------------------------------------
// D4: secrets

const SECRET_VARS = ['FASTAPI_USERS_JWT_SECRET', 'FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET', 'FASTAPI_USERS_VERIFICATION_TOKEN_SECRET'] as const;
const CONFIGURED_SECRET: Record<(typeof SECRET_VARS)[number], (c: Config) => string | undefined> = {
  FASTAPI_USERS_JWT_SECRET: (c) => c.auth.jwtSecret,
  FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET: (c) => c.auth.resetSecret,
  FASTAPI_USERS_VERIFICATION_TOKEN_SECRET: (c) => c.auth.verifySecret,
};

/** Postures in which authentication is required, and in which it is disabled. */
const REQUIRED_POSTURES: Record<string, string>[] = [
  {},
  { ENABLE_BACKEND_ACCESS_CONTROL: 'true' },
  { ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'true' },
  { REQUIRE_AUTHENTICATION: 'false' },
];
const DISABLED_POSTURES: Record<string, string>[] = [
  { ENABLE_BACKEND_ACCESS_CONTROL: 'false' },
  { ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'false' },
];

describe('D4: configured secrets', () => {
  for (const name of SECRET_VARS) {
    it(`D4: ${name}=super_secret (the reference's default) is refused while authentication is required`, () => {
      for (const posture of REQUIRED_POSTURES) {
        for (const value of ['super_secret', ' super_secret ']) {
          const error = assertConfigError(() => load({ ...posture, [name]: value }), name, `${JSON.stringify(posture)} ${name}=${JSON.stringify(value)}`);
          assert.ok(!error.message.includes('super_secret'), 'the message does not repeat the secret');
        }
      }
    });

    it(`D4: ${name} shorter than 32 characters is refused while authentication is required; 32 characters are accepted`, () => {
      const short = 'k'.repeat(31);
      for (const posture of REQUIRED_POSTURES) {
        const error = assertConfigError(() => load({ ...posture, [name]: short }), name, `${JSON.stringify(posture)} 31 characters`);
        assert.ok(!error.message.includes(short), 'the message does not repeat the secret');
        assertConfigError(() => load({ ...posture, [name]: 'x' }), name, `${JSON.stringify(posture)} 1 character`);
        const ok = 'K'.repeat(32);
        assert.equal(CONFIGURED_SECRET[name](load({ ...posture, [name]: ok })), ok, `${JSON.stringify(posture)} 32 characters`);
      }
    });

    it(`D4: with authentication disabled, a weak ${name} is accepted as given`, () => {
      for (const posture of DISABLED_POSTURES) {
        assert.equal(CONFIGURED_SECRET[name](load({ ...posture, [name]: 'super_secret' })), 'super_secret');
        assert.equal(CONFIGURED_SECRET[name](load({ ...posture, [name]: 'short' })), 'short');
      }
    });

    it(`D4: ${name} unset or empty means "generate one"`, () => {
      assert.equal(CONFIGURED_SECRET[name](load({})), undefined);
      assert.equal(CONFIGURED_SECRET[name](load({ [name]: '' })), undefined);
    });
  }
});

describe('D4: resolveSecrets', () => {
  const FILES = { jwt: 'jwt_secret', reset: 'reset_password_secret', verify: 'verification_secret' } as const;

  it('D4: unset secrets are generated under <SYSTEM_ROOT_DIRECTORY>/secrets/ with file mode 0600, at least 32 characters, one per purpose', () => {
    const dir = tempDir();
    const secrets = resolveSecrets(load({ SYSTEM_ROOT_DIRECTORY: join(dir, 'system') }, dir));
    const secretsDir = join(dir, 'system', 'secrets');
    assert.equal(statSync(secretsDir).mode & 0o077, 0, 'the secrets directory is private to its owner');
    for (const [key, file] of Object.entries(FILES) as [keyof typeof FILES, string][]) {
      const path = join(secretsDir, file);
      assert.equal(statSync(path).mode & 0o777, 0o600, `${file} has mode 0600`);
      assert.equal(readFileSync(path, 'utf8').trim(), secrets[key]);
      assert.ok(secrets[key].length >= 32, `${key} is at least 32 characters`);
      assert.match(secrets[key], /^[A-Za-z0-9_-]{43,}$/, `${key} carries 256 random bits`);
      assert.equal(secrets.sources[key], `generated, kept in ${path}`);
    }
    assert.equal(new Set([secrets.jwt, secrets.reset, secrets.verify]).size, 3, 'each purpose has its own secret');
  });

  it('D4: generated secrets are stable across calls and restarts (sessions survive a restart), and differ between system roots', () => {
    const dir = tempDir();
    const env = { SYSTEM_ROOT_DIRECTORY: join(dir, 'system') };
    const first = resolveSecrets(load(env, dir));
    assert.deepEqual(resolveSecrets(load(env, dir)), first, 'a second call');
    assert.deepEqual(resolveSecrets(loadConfig(env, dir)), first, 'a fresh configuration (a restart)');
    const elsewhere = resolveSecrets(load({ SYSTEM_ROOT_DIRECTORY: join(dir, 'other') }, dir));
    assert.notEqual(elsewhere.jwt, first.jwt);
  });

  it('D4: a configured secret is used verbatim, is not written to disk, and the others are still generated', () => {
    const dir = tempDir();
    const jwt = 'j'.repeat(40);
    const secrets = resolveSecrets(load({ SYSTEM_ROOT_DIRECTORY: join(dir, 'system'), FASTAPI_USERS_JWT_SECRET: jwt }, dir));
    assert.equal(secrets.jwt, jwt);
    assert.equal(secrets.sources.jwt, 'from FASTAPI_USERS_JWT_SECRET');
    assert.equal(existsSync(join(dir, 'system', 'secrets', FILES.jwt)), false, 'no file for a configured secret');
    assert.match(secrets.sources.reset, /^generated, kept in /);
    assert.match(secrets.sources.verify, /^generated, kept in /);

    const all = resolveSecrets(
      load(
        {
          SYSTEM_ROOT_DIRECTORY: join(dir, 'all'),
          FASTAPI_USERS_JWT_SECRET: 'a'.repeat(32),
          FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET: 'b'.repeat(33),
          FASTAPI_USERS_VERIFICATION_TOKEN_SECRET: 'c'.repeat(34),
        },
        dir,
      ),
    );
    assert.deepEqual([all.jwt, all.reset, all.verify], ['a'.repeat(32), 'b'.repeat(33), 'c'.repeat(34)]);
    assert.deepEqual(all.sources, {
      jwt: 'from FASTAPI_USERS_JWT_SECRET',
      reset: 'from FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET',
      verify: 'from FASTAPI_USERS_VERIFICATION_TOKEN_SECRET',
    });
    assert.equal(existsSync(join(dir, 'all', 'secrets')), false, 'nothing is generated when everything is configured');
  });

  it('D4: a damaged stored secret stops startup instead of being silently replaced', () => {
    const dir = tempDir();
    const secretsDir = join(dir, 'system', 'secrets');
    mkdirSync(secretsDir, { recursive: true });
    writeFileSync(join(secretsDir, FILES.jwt), 'short', { mode: 0o600 });
    assert.throws(() => resolveSecrets(load({ SYSTEM_ROOT_DIRECTORY: join(dir, 'system') }, dir)), /jwt_secret is damaged/);
    assert.equal(readFileSync(join(secretsDir, FILES.jwt), 'utf8'), 'short', 'the file is left for the operator');
  });
});

describe('D4: the startup log names the secret source, never the secret', () => {
  it('D4: configured secrets: the log says "from <variable>" and no log line contains a secret value', async () => {
    const values = {
      FASTAPI_USERS_JWT_SECRET: `jwt-${'J'.repeat(40)}`,
      FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET: `reset-${'R'.repeat(40)}`,
      FASTAPI_USERS_VERIFICATION_TOKEN_SECRET: `verify-${'V'.repeat(40)}`,
    };
    const server = await startTestServer({ env: values });
    try {
      // Exercise the routes that sign tokens with each secret, then look at everything logged.
      const c = server.client();
      const { id } = await c.signUp('secret-log@example.com');
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal((await c.post('/api/v1/auth/forgot-password', { json: { email: 'secret-log@example.com' } })).status, 202);
      assert.equal((await c.post('/api/v1/auth/request-verify-token', { json: { email: 'secret-log@example.com' } })).status, 202);

      assert.ok(
        server.logs
          .messages()
          .includes(
            'jwt secret: from FASTAPI_USERS_JWT_SECRET; reset secret: from FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET; ' +
              'verification secret: from FASTAPI_USERS_VERIFICATION_TOKEN_SECRET',
          ),
        'the source line',
      );
      const text = server.logs.text();
      for (const [name, value] of Object.entries(values)) assert.ok(!text.includes(value), `${name} is not in the log`);
    } finally {
      await server.close();
    }
  });

  it('D4: generated secrets: the log names the files and never contains their contents', async () => {
    const server = await startTestServer();
    try {
      const secretsDir = join(server.root, 'system', 'secrets');
      assert.ok(
        server.logs
          .messages()
          .includes(
            `jwt secret: generated, kept in ${join(secretsDir, 'jwt_secret')}; ` +
              `reset secret: generated, kept in ${join(secretsDir, 'reset_password_secret')}; ` +
              `verification secret: generated, kept in ${join(secretsDir, 'verification_secret')}`,
          ),
        'the source line',
      );
      await server.client().signUp('generated-log@example.com');
      const text = server.logs.text();
      for (const file of ['jwt_secret', 'reset_password_secret', 'verification_secret']) {
        const value = readFileSync(join(secretsDir, file), 'utf8').trim();
        assert.ok(value.length >= 32);
        assert.ok(!text.includes(value), `${file} is not in the log`);
      }
    } finally {
      await server.close();
    }
  });

  it('D4: with authentication disabled, a weak FASTAPI_USERS_JWT_SECRET starts the server with a WARNING that does not repeat it', async () => {
    const server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false', FASTAPI_USERS_JWT_SECRET: 'super_secret' } });
    try {
      const warning = server.logs.find(/^FASTAPI_USERS_JWT_SECRET is weak/);
      assert.deepEqual([warning?.level, warning?.msg], [40, 'FASTAPI_USERS_JWT_SECRET is weak; it would be refused with authentication required']);
      assert.ok(!server.logs.text().includes('super_secret'), 'the weak value is not logged');
      const me = await server.client().get('/api/v1/auth/me');
      assert.deepEqual([me.status, me.body], [200, { email: 'default_user@example.com' }]);
    } finally {
      await server.close();
    }
  });

  it('D4: with authentication required, startEngram refuses FASTAPI_USERS_JWT_SECRET=super_secret with a ConfigError naming it', async () => {
    await assert.rejects(
      startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: 'super_secret' } }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'FASTAPI_USERS_JWT_SECRET',
    );
  });
});

describe('session limits', () => {
  it('bound what one recall reads: SESSION_RECALL_WINDOW × SESSION_ENTRY_MAX_BYTES past 64 MiB stops startup naming the window', () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-session-config-'));
    try {
      const defaults = loadConfig({}, dir).sessions;
      assert.deepEqual([defaults.entryMaxBytes, defaults.recallWindow], [64 * 1024, 200]);
      assert.equal(loadConfig({ SESSION_ENTRY_MAX_BYTES: String(64 * 1024), SESSION_RECALL_WINDOW: '1024' }, dir).sessions.recallWindow, 1024);
      assert.throws(
        () => loadConfig({ SESSION_ENTRY_MAX_BYTES: String(64 * 1024), SESSION_RECALL_WINDOW: '1025' }, dir),
        (error: unknown) => error instanceof ConfigError && error.variable === 'SESSION_RECALL_WINDOW',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
