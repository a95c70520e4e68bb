import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { resolveSecrets } from '../../src/auth/secrets.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-config-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const load = (env: Record<string, string>, cwd = tempDir()) => loadConfig(env, cwd);

const BOOLEANS: [string, (c: ReturnType<typeof loadConfig>) => boolean][] = [
  ['ENABLE_BACKEND_ACCESS_CONTROL', (c) => c.posture.multiTenant],
  ['TRUST_PROXY', (c) => c.http.trustProxy],
  ['AUTH_TOKEN_COOKIE_SECURE', (c) => c.auth.cookieSecure],
  ['HASH_API_KEY', (c) => c.auth.hashApiKeys],
  ['EXTERNAL_TOKEN_AUTO_PROVISION', (c) => c.auth.externalTokenAutoProvision],
  ['ALLOW_REGISTRATION', (c) => c.auth.allowRegistration],
  ['RATE_LIMIT_ENABLED', (c) => c.auth.rateLimit.enabled],
];

describe('D12: boolean variables', () => {
  for (const [name, read] of BOOLEANS) {
    it(`D12: ${name} accepts true/false/1/0/yes/no/on/off in any case and refuses anything else`, () => {
      for (const word of ['true', 'TRUE', '1', 'yes', 'Yes', 'on', 'ON']) assert.equal(read(load({ [name]: word })), true, `${name}=${word}`);
      for (const word of ['false', 'False', '0', 'no', 'NO', 'off', 'Off']) assert.equal(read(load({ [name]: word })), false, `${name}=${word}`);
      for (const word of ['maybe', '2', 'tru', 'y', '-1']) {
        assert.throws(
          () => load({ [name]: word }),
          (error: Error) => error instanceof ConfigError && error.message.startsWith(`${name}: `) && error.message.includes(JSON.stringify(word)),
          `${name}=${word}`,
        );
      }
    });
  }

  it('D12: an empty or blank value counts as unset', () => {
    assert.equal(load({ HASH_API_KEY: '' }).auth.hashApiKeys, true);
    assert.equal(load({ ALLOW_REGISTRATION: '   ' }).auth.allowRegistration, true);
    assert.equal(load({ ENABLE_BACKEND_ACCESS_CONTROL: '' }).posture.reason, 'default (no env vars set)');
  });

  it('SMTP_SECURE is a boolean too, defaulting to true on port 465', () => {
    assert.equal(load({ SMTP_HOST: 'mail', SMTP_PORT: '465' }).smtp!.secure, true);
    assert.equal(load({ SMTP_HOST: 'mail', SMTP_PORT: '587' }).smtp!.secure, false);
    assert.equal(load({ SMTP_HOST: 'mail', SMTP_SECURE: 'yes' }).smtp!.secure, true);
    assert.throws(() => load({ SMTP_HOST: 'mail', SMTP_SECURE: 'sometimes' }), /^ConfigError: SMTP_SECURE: |SMTP_SECURE: /);
  });
});

describe('numbers and choices', () => {
  it('integer variables refuse non-integers and out-of-range values, naming the variable', () => {
    for (const [name, value] of [
      ['HTTP_API_PORT', 'eighty'],
      ['HTTP_API_PORT', '70000'],
      ['JWT_LIFETIME_SECONDS', '1.5'],
      ['MAX_USER_API_KEYS', '0'],
      ['PASSWORD_MIN_LENGTH', '6'],
      ['PASSWORD_MIN_LENGTH', '65'],
      ['LOGIN_LOCKOUT_THRESHOLD', '30'],
      ['RATE_LIMIT_LOGIN', 'lots'],
    ] as const) {
      assert.throws(() => load({ [name]: value }), (e: Error) => e instanceof ConfigError && e.variable === name, `${name}=${value}`);
    }
  });

  it('D1: JWT_LIFETIME_SECONDS=0 is refused: a token must expire', () => {
    assert.throws(() => load({ JWT_LIFETIME_SECONDS: '0' }), (e: Error) => e instanceof ConfigError && e.variable === 'JWT_LIFETIME_SECONDS');
    assert.equal(load({ JWT_LIFETIME_SECONDS: '60' }).auth.jwtLifetimeSeconds, 60);
  });

  it('DB_PROVIDER is sqlite or postgres; defaults are documented ones', () => {
    assert.throws(() => load({ DB_PROVIDER: 'oracle' }), (e: Error) => e instanceof ConfigError && e.variable === 'DB_PROVIDER');
    const c = load({});
    assert.equal(c.db.provider, 'sqlite');
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 8000);
    assert.equal(c.auth.jwtLifetimeSeconds, 3600);
    assert.equal(c.auth.hashApiKeys, true);
    assert.equal(c.auth.maxUserApiKeys, 10);
    assert.deepEqual(c.http.corsOrigins, ['http://localhost:3000']);
    const pg = load({ DB_PROVIDER: 'postgres', DB_NAME: 'x', DB_PORT: '5433' });
    assert.equal(pg.db.provider, 'postgres');
    assert.ok(pg.db.provider === 'postgres' && pg.db.port === 5433 && pg.db.name === 'x');
  });

  it('the configuration object is frozen', () => {
    const c = load({});
    assert.throws(() => {
      (c.auth as { hashApiKeys: boolean }).hashApiKeys = false;
    }, TypeError);
  });
});

describe('D13: .env', () => {
  it('D13: a .env file in the working directory is read, and the real environment wins over it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'MAX_USER_API_KEYS=7\nHASH_API_KEY=false\nALLOW_REGISTRATION=false\n');
    const fromFile = loadConfig({}, dir);
    assert.equal(fromFile.auth.maxUserApiKeys, 7);
    assert.equal(fromFile.auth.hashApiKeys, false);
    const overridden = loadConfig({ MAX_USER_API_KEYS: '3', HASH_API_KEY: 'true' }, dir);
    assert.equal(overridden.auth.maxUserApiKeys, 3);
    assert.equal(overridden.auth.hashApiKeys, true);
    assert.equal(overridden.auth.allowRegistration, false, 'what the environment does not set still comes from the file');
  });

  it('D13: a bad value in .env stops startup naming the variable', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'ENABLE_BACKEND_ACCESS_CONTROL=maybe\n');
    assert.throws(() => loadConfig({}, dir), (e: Error) => e instanceof ConfigError && e.variable === 'ENABLE_BACKEND_ACCESS_CONTROL');
  });
});

describe('D4: secrets', () => {
  const SECRET_VARS = ['FASTAPI_USERS_JWT_SECRET', 'FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET', 'FASTAPI_USERS_VERIFICATION_TOKEN_SECRET'];

  for (const name of SECRET_VARS) {
    it(`D4: ${name}: the well-known default and short values are refused while authentication is required`, () => {
      for (const value of ['super_secret', 'x'.repeat(31)]) {
        assert.throws(() => load({ [name]: value }), (e: Error) => e instanceof ConfigError && e.variable === name, value);
      }
      assert.doesNotThrow(() => load({ [name]: 'x'.repeat(32) }));
      assert.doesNotThrow(() => load({ [name]: 'super_secret', ENABLE_BACKEND_ACCESS_CONTROL: 'false' }), 'accepted when authentication is disabled');
    });
  }

  it('D4: unset secrets are generated once (256 bits, mode 0600) and kept; configured ones are used verbatim', () => {
    const dir = tempDir();
    const config = load({ SYSTEM_ROOT_DIRECTORY: join(dir, 'system') }, dir);
    const first = resolveSecrets(config);
    const second = resolveSecrets(config);
    assert.deepEqual(first, second, 'a restart keeps the same secrets');
    assert.ok(first.jwt.length >= 43 && first.reset.length >= 43 && first.verify.length >= 43);
    assert.equal(new Set([first.jwt, first.reset, first.verify]).size, 3, 'each purpose has its own secret');
    const file = join(dir, 'system', 'secrets', 'jwt_secret');
    assert.equal(readFileSync(file, 'utf8'), first.jwt);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(first.sources.jwt, /^generated, kept in /);
    assert.ok(!first.sources.jwt.includes(first.jwt), 'the source never shows the value');

    const configured = resolveSecrets(load({ SYSTEM_ROOT_DIRECTORY: join(dir, 'other'), FASTAPI_USERS_JWT_SECRET: 'c'.repeat(40) }, dir));
    assert.equal(configured.jwt, 'c'.repeat(40));
    assert.equal(configured.sources.jwt, 'from FASTAPI_USERS_JWT_SECRET');
  });
});
