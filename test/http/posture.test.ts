import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, FORCED_ON_WARNING } from '../../src/config/index.js';
import { TEST_DB, createPgDatabase, startTestServer, type TestServer } from '../helpers/harness.js';

/**
 * The auth posture table of the Security Controls document (the reference's §4 table), row by row,
 * over HTTP. Every row starts a real server with (ENABLE_BACKEND_ACCESS_CONTROL,
 * REQUIRE_AUTHENTICATION) set as given and checks:
 *   - the one startup line `auth posture: authentication=…, multi_tenant=… (<reason>)` at INFO;
 *   - the forced-on WARNING (level 40), exactly when multi-tenant mode overrides
 *     REQUIRE_AUTHENTICATION=false, and never otherwise;
 *   - GET /api/v1/auth/me without a credential: 401 when required, the default user when disabled;
 *   - GET /api/v1/users/* without a credential: always 401 (those routes always require a user);
 *   - the OpenAPI document: the global `security` block exactly when required, both schemes always;
 *   - the public routes (/, /health, /docs) answer without a credential in every posture.
 * D12: the empty string counts as unset, and 1/0, yes/no, on/off in any case are booleans (the
 * reference reads `1` as false).
 */

const DEFAULT = 'default (no env vars set)';
const INHERITED = 'inherited from ENABLE_BACKEND_ACCESS_CONTROL';
const EXPLICIT = 'explicit REQUIRE_AUTHENTICATION';
const FORCED = 'forced on by multi-tenant mode (REQUIRE_AUTHENTICATION=false was ignored)';

/** The reference's exact WARNING text for the forced-on case. */
const FORCED_WARNING_TEXT =
  'REQUIRE_AUTHENTICATION=false is incompatible with ENABLE_BACKEND_ACCESS_CONTROL=true: multi-tenant mode requires ' +
  'authentication. Forcing REQUIRE_AUTHENTICATION=true. To disable auth for a single-user deployment, also set ' +
  'ENABLE_BACKEND_ACCESS_CONTROL=false.';

const VERSION = (JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version;

interface Row {
  /** ENABLE_BACKEND_ACCESS_CONTROL; undefined = not in the environment. */
  readonly ebac?: string;
  /** REQUIRE_AUTHENTICATION; undefined = not in the environment. */
  readonly ra?: string;
  readonly required: boolean;
  readonly multiTenant: boolean;
  readonly reason: string;
}

/** The table itself, with canonical spellings: {unset, true, false}². */
const TABLE: Row[] = [
  { required: true, multiTenant: true, reason: DEFAULT },
  { ra: 'true', required: true, multiTenant: true, reason: EXPLICIT },
  { ra: 'false', required: true, multiTenant: true, reason: FORCED },
  { ebac: 'true', required: true, multiTenant: true, reason: INHERITED },
  { ebac: 'true', ra: 'true', required: true, multiTenant: true, reason: EXPLICIT },
  { ebac: 'true', ra: 'false', required: true, multiTenant: true, reason: FORCED },
  { ebac: 'false', required: false, multiTenant: false, reason: INHERITED },
  { ebac: 'false', ra: 'true', required: true, multiTenant: false, reason: EXPLICIT },
  { ebac: 'false', ra: 'false', required: false, multiTenant: false, reason: EXPLICIT },
];

/** D12: an empty value counts as unset, for either variable. */
const EMPTY: Row[] = [
  { ebac: '', required: true, multiTenant: true, reason: DEFAULT },
  { ra: '', required: true, multiTenant: true, reason: DEFAULT },
  { ebac: '', ra: '', required: true, multiTenant: true, reason: DEFAULT },
  { ebac: '', ra: 'true', required: true, multiTenant: true, reason: EXPLICIT },
  { ebac: '', ra: 'false', required: true, multiTenant: true, reason: FORCED },
  { ebac: 'true', ra: '', required: true, multiTenant: true, reason: INHERITED },
  { ebac: 'false', ra: '', required: false, multiTenant: false, reason: INHERITED },
];

/** D12: the other spellings of true and false, in mixed case, in the rows where the value decides the outcome. */
const SPELLINGS: [string, string][] = [
  ['1', '0'],
  ['yes', 'no'],
  ['on', 'off'],
  ['TRUE', 'False'],
  ['Yes', 'OFF'],
];
const SPELLED: Row[] = SPELLINGS.flatMap(([t, f]) => [
  { ebac: t, required: true, multiTenant: true, reason: INHERITED },
  { ebac: f, required: false, multiTenant: false, reason: INHERITED },
  { ebac: f, ra: t, required: true, multiTenant: false, reason: EXPLICIT },
  { ebac: f, ra: f, required: false, multiTenant: false, reason: EXPLICIT },
  { ebac: t, ra: f, required: true, multiTenant: true, reason: FORCED },
  { ra: f, required: true, multiTenant: true, reason: FORCED },
]);

function envOf(row: Row): Record<string, string> {
  const env: Record<string, string> = {};
  if (row.ebac !== undefined) env.ENABLE_BACKEND_ACCESS_CONTROL = row.ebac;
  if (row.ra !== undefined) env.REQUIRE_AUTHENTICATION = row.ra;
  return env;
}

const show = (value: string | undefined) => (value === undefined ? 'unset' : JSON.stringify(value));

function rowName(row: Row): string {
  return (
    `ENABLE_BACKEND_ACCESS_CONTROL=${show(row.ebac)}, REQUIRE_AUTHENTICATION=${show(row.ra)} → ` +
    `authentication=${row.required ? 'required' : 'disabled'}, multi_tenant=${row.multiTenant ? 'enabled' : 'disabled'} (${row.reason})`
  );
}

/** Everything one row must show, on a running server. */
async function checkPosture(server: TestServer, row: Row): Promise<void> {
  // (a) The startup line, once, at INFO.
  const expectedLine =
    `auth posture: authentication=${row.required ? 'required' : 'disabled'}, ` + `multi_tenant=${row.multiTenant ? 'enabled' : 'disabled'} (${row.reason})`;
  const postureLines = server.logs.lines.filter((l) => String(l.msg).startsWith('auth posture:'));
  assert.deepEqual(
    postureLines.map((l) => [l.level, l.msg]),
    [[30, expectedLine]],
    'exactly one posture line, at INFO',
  );

  // (b) The forced-on warning, at WARNING, exactly in the forced rows; no other warning about the posture.
  const forced = row.reason === FORCED;
  const postureWarnings = server.logs.lines.filter(
    (l) => Number(l.level) >= 40 && /REQUIRE_AUTHENTICATION|ENABLE_BACKEND_ACCESS_CONTROL|posture/.test(String(l.msg)),
  );
  assert.deepEqual(
    postureWarnings.map((l) => [l.level, l.msg]),
    forced ? [[40, FORCED_WARNING_TEXT]] : [],
    forced ? 'the forced-on warning at WARNING' : 'no posture warning',
  );

  const c = server.client();

  // (c) AUTH routes follow the posture.
  const me = await c.get('/api/v1/auth/me');
  if (row.required) {
    assert.deepEqual([me.status, me.body], [401, { detail: 'Unauthorized' }]);
  } else {
    assert.deepEqual([me.status, me.body], [200, { email: 'default_user@example.com' }]);
  }
  // D6: a credential that was presented but is invalid is 401 in every posture, never the default user.
  const bad = await c.get('/api/v1/auth/me', { bearer: 'not-a-token' });
  assert.deepEqual([bad.status, bad.body], [401, { detail: 'Unauthorized' }], 'an invalid bearer token');

  // (d) The /api/v1/users routes always require a user, whatever the posture.
  const usersMe = await c.get('/api/v1/users/me');
  assert.deepEqual([usersMe.status, usersMe.body], [401, { detail: 'Unauthorized' }], 'GET /api/v1/users/me');
  const usersById = await c.get('/api/v1/users/6763554c-91bd-432c-aba8-d42cd72ed659');
  assert.deepEqual([usersById.status, usersById.body], [401, { detail: 'Unauthorized' }], 'GET /api/v1/users/{id}');

  // (e) The OpenAPI document: global security exactly when required; both schemes always.
  const openapi = await c.get('/openapi.json');
  assert.equal(openapi.status, 200);
  assert.deepEqual(openapi.body.components.securitySchemes, {
    BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    ApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
  });
  if (row.required) {
    assert.deepEqual(openapi.body.security, [{ BearerAuth: [] }, { ApiKeyAuth: [] }]);
  } else {
    assert.equal('security' in openapi.body, false, 'no global security block when authentication is disabled');
  }

  // Public routes answer without a credential in every posture.
  const root = await c.get('/');
  assert.deepEqual([root.status, root.body], [200, { message: 'Hello, World, I am alive!' }]);
  const health = await c.get('/health');
  assert.deepEqual([health.status, health.body], [200, { status: 'ready', health: 'healthy', version: VERSION }]);
  const docs = await c.get('/docs');
  assert.equal(docs.status, 200);
  assert.match(docs.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(docs.text, /<title>Swagger UI<\/title>/);
}

/**
 * The rows of the table itself get a fresh store each (a cold start in every posture). The rows that
 * only vary the spelling share one PostgreSQL database, restarted under each posture, to stay fast.
 */
let shared: { env: Record<string, string>; drop(): Promise<void> } | undefined;
before(async () => {
  if (TEST_DB === 'postgres') shared = await createPgDatabase();
});
after(async () => {
  await shared?.drop();
});

async function runRow(row: Row, options: { sharedDb?: boolean } = {}): Promise<void> {
  const server = await startTestServer({
    env: envOf(row),
    ...(options.sharedDb && shared ? { dbEnv: shared.env } : {}),
  });
  try {
    await checkPosture(server, row);
  } finally {
    await server.close();
  }
}

describe('D12: the auth posture table', () => {
  it('D12: the forced-on warning is the reference text, word for word', () => {
    assert.equal(FORCED_ON_WARNING, FORCED_WARNING_TEXT);
  });
  for (const row of TABLE) it(`D12: ${rowName(row)}`, () => runRow(row));
});

describe('D12: an empty value counts as unset', () => {
  for (const row of EMPTY) it(`D12: ${rowName(row)}`, () => runRow(row));
});

describe('D12: 1/0, yes/no, on/off in any case are booleans', () => {
  for (const row of SPELLED) it(`D12: ${rowName(row)}`, () => runRow(row, { sharedDb: true }));
});

describe('D12: a value that is not a boolean stops startup', () => {
  for (const [env, variable, value] of [
    [{ ENABLE_BACKEND_ACCESS_CONTROL: 'maybe' }, 'ENABLE_BACKEND_ACCESS_CONTROL', 'maybe'],
    [{ REQUIRE_AUTHENTICATION: '2' }, 'REQUIRE_AUTHENTICATION', '2'],
    [{ ENABLE_BACKEND_ACCESS_CONTROL: 'enabled', REQUIRE_AUTHENTICATION: 'true' }, 'ENABLE_BACKEND_ACCESS_CONTROL', 'enabled'],
    [{ ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'truee' }, 'REQUIRE_AUTHENTICATION', 'truee'],
    [{ REQUIRE_AUTHENTICATION: '-1' }, 'REQUIRE_AUTHENTICATION', '-1'],
  ] as const) {
    it(`D12: ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')} makes startup fail with a ConfigError naming ${variable}`, async () => {
      await assert.rejects(startTestServer({ env, ...(shared ? { dbEnv: shared.env } : {}) }), (error: unknown) => {
        assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
        assert.equal(error.variable, variable);
        assert.equal(error.message, `${variable}: expected a boolean (true/false, 1/0, yes/no, on/off), got ${JSON.stringify(value)}`);
        return true;
      });
    });
  }
});

describe('D13: the posture from a .env file', () => {
  it('D13: the posture variables are read from .env in the working directory, and the real environment wins over them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'engram-posture-'));
    try {
      writeFileSync(join(root, '.env'), 'ENABLE_BACKEND_ACCESS_CONTROL=false\nREQUIRE_AUTHENTICATION=false\n');
      const fromFile = await startTestServer({ root });
      try {
        await checkPosture(fromFile, { ebac: 'false', ra: 'false', required: false, multiTenant: false, reason: EXPLICIT });
      } finally {
        await fromFile.close();
      }
      const overridden = await startTestServer({ root, env: { REQUIRE_AUTHENTICATION: 'true' } });
      try {
        await checkPosture(overridden, { ebac: 'false', ra: 'true', required: true, multiTenant: false, reason: EXPLICIT });
      } finally {
        await overridden.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('D13: a non-boolean posture value in .env stops startup naming the variable', async () => {
    const root = mkdtempSync(join(tmpdir(), 'engram-posture-'));
    try {
      writeFileSync(join(root, '.env'), 'REQUIRE_AUTHENTICATION=sometimes\n');
      await assert.rejects(startTestServer({ root }), (error: unknown) => error instanceof ConfigError && error.variable === 'REQUIRE_AUTHENTICATION');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
