import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FORCED_ON_WARNING } from '../../src/config/posture.js';
import { startTestServer } from '../helpers/harness.js';

/**
 * The posture table of the Security Controls document, row by row: the server is started under each
 * combination, and the startup line, the warning, the 401-vs-200 answer and the OpenAPI security
 * block are checked. D12 spellings and empty values (= unset) are rows too.
 */
type Row = {
  ebac?: string;
  ra?: string;
  required: boolean;
  multiTenant: boolean;
  reason: string;
  forced?: boolean;
};

const DEFAULT = 'default (no env vars set)';
const INHERITED = 'inherited from ENABLE_BACKEND_ACCESS_CONTROL';
const EXPLICIT = 'explicit REQUIRE_AUTHENTICATION';
const FORCED = 'forced on by multi-tenant mode (REQUIRE_AUTHENTICATION=false was ignored)';

const ROWS: Row[] = [
  { required: true, multiTenant: true, reason: DEFAULT },
  { ebac: 'true', required: true, multiTenant: true, reason: INHERITED },
  { ebac: 'false', required: false, multiTenant: false, reason: INHERITED },
  { ra: 'true', required: true, multiTenant: true, reason: EXPLICIT },
  { ebac: 'true', ra: 'true', required: true, multiTenant: true, reason: EXPLICIT },
  { ra: 'false', required: true, multiTenant: true, reason: FORCED, forced: true },
  { ebac: 'true', ra: 'false', required: true, multiTenant: true, reason: FORCED, forced: true },
  { ebac: 'false', ra: 'true', required: true, multiTenant: false, reason: EXPLICIT },
  { ebac: 'false', ra: 'false', required: false, multiTenant: false, reason: EXPLICIT },
  // Empty values count as unset (D12).
  { ebac: '', ra: '', required: true, multiTenant: true, reason: DEFAULT },
  { ebac: 'false', ra: '', required: false, multiTenant: false, reason: INHERITED },
  // D12 spellings: the reference reads "1" as false; Engram reads it as true.
  { ebac: '1', required: true, multiTenant: true, reason: INHERITED },
  { ebac: '0', required: false, multiTenant: false, reason: INHERITED },
  { ebac: 'no', ra: 'YES', required: true, multiTenant: false, reason: EXPLICIT },
  { ebac: 'Off', ra: 'off', required: false, multiTenant: false, reason: EXPLICIT },
  { ebac: 'ON', ra: 'False', required: true, multiTenant: true, reason: FORCED, forced: true },
];

function envOf(row: Row): Record<string, string> {
  const env: Record<string, string> = {};
  if (row.ebac !== undefined) env.ENABLE_BACKEND_ACCESS_CONTROL = row.ebac;
  if (row.ra !== undefined) env.REQUIRE_AUTHENTICATION = row.ra;
  return env;
}

describe('D12: the auth posture matrix', () => {
  for (const row of ROWS) {
    const name = `EBAC=${row.ebac ?? 'unset'} RA=${row.ra ?? 'unset'} → authentication=${row.required ? 'required' : 'disabled'}, multi_tenant=${row.multiTenant ? 'enabled' : 'disabled'}`;
    it(name, async () => {
      const server = await startTestServer({ env: envOf(row) });
      try {
        const expectedLine =
          `auth posture: authentication=${row.required ? 'required' : 'disabled'}, ` +
          `multi_tenant=${row.multiTenant ? 'enabled' : 'disabled'} (${row.reason})`;
        const postureLines = server.logs.lines.filter((l) => String(l.msg).startsWith('auth posture:'));
        assert.equal(postureLines.length, 1, 'the posture line is logged once');
        assert.equal(postureLines[0]!.msg, expectedLine);
        assert.equal(postureLines[0]!.level, 30, 'at INFO');

        const warnings = server.logs.lines.filter((l) => l.msg === FORCED_ON_WARNING);
        assert.equal(warnings.length, row.forced ? 1 : 0, 'the forced-on warning');
        if (row.forced) assert.equal(warnings[0]!.level, 40, 'at WARNING');

        const c = server.client();
        const me = await c.get('/api/v1/auth/me');
        if (row.required) {
          assert.equal(me.status, 401);
          assert.deepEqual(me.body, { detail: 'Unauthorized' });
        } else {
          assert.equal(me.status, 200);
          assert.deepEqual(me.body, { email: 'default_user@example.com' });
        }
        // STRICT routes always require a user.
        const users = await c.get('/api/v1/users/me');
        assert.equal(users.status, 401);

        // Public routes answer in every posture.
        assert.deepEqual((await c.get('/')).body, { message: 'Hello, World, I am alive!' });
        const health = await c.get('/health');
        assert.equal(health.status, 200);
        assert.equal(health.body.status, 'ready');
        assert.equal(health.body.health, 'healthy');

        const openapi = (await c.get('/openapi.json')).body;
        assert.deepEqual(Object.keys(openapi.components.securitySchemes).sort(), ['ApiKeyAuth', 'BearerAuth']);
        assert.deepEqual(openapi.components.securitySchemes.ApiKeyAuth, { type: 'apiKey', in: 'header', name: 'X-Api-Key' });
        if (row.required) assert.deepEqual(openapi.security, [{ BearerAuth: [] }, { ApiKeyAuth: [] }]);
        else assert.equal(openapi.security, undefined);
      } finally {
        await server.close();
      }
    });
  }

  for (const [variable, value] of [
    ['ENABLE_BACKEND_ACCESS_CONTROL', 'maybe'],
    ['REQUIRE_AUTHENTICATION', '2'],
    ['REQUIRE_AUTHENTICATION', 'truee'],
  ] as const) {
    it(`D12: ${variable}=${value} stops startup with a message naming the variable`, async () => {
      await assert.rejects(startTestServer({ env: { [variable]: value } }), (error: Error) => {
        assert.equal(error.name, 'ConfigError');
        assert.match(error.message, new RegExp(`^${variable}: `));
        assert.match(error.message, new RegExp(JSON.stringify(value)));
        return true;
      });
    });
  }

  it('the interactive API docs are served', async () => {
    const server = await startTestServer();
    try {
      const res = await server.client().get('/docs/');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(res.text, /swagger/i);
    } finally {
      await server.close();
    }
  });
});
