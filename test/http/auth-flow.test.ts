import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';

/** The reference's own auth flow (test_backend_auth.py::TestAuthFlow), over HTTP, with D3 applied. */
describe('reference auth flow: register → login → API key → cookie /auth/me → logout → key delete', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true', ENABLE_BACKEND_ACCESS_CONTROL: 'false' } });
  });
  after(() => server.close());

  it('walks the whole flow', async () => {
    const c = server.client();
    const email = uniqueEmail('flow');
    const password = strongPassword();

    const reg = await c.post('/api/v1/auth/register', { json: { email, password } });
    assert.equal(reg.status, 201);
    assert.deepEqual(Object.keys(reg.body).sort(), ['email', 'id', 'is_active', 'is_superuser', 'is_verified', 'parent_user_id', 'tenant_id']);
    assert.equal((await c.post('/api/v1/auth/register', { json: { email, password } })).body.detail, 'REGISTER_USER_ALREADY_EXISTS');

    const login = await c.post('/api/v1/auth/login', { form: { username: email, password } });
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, 'bearer');
    const token = login.body.access_token as string;
    assert.ok(c.jar.get('auth_token'), 'login sets the auth_token cookie');

    const key = await c.post('/api/v1/auth/api-keys', { json: {}, bearer: token, cookies: false });
    assert.equal(key.status, 200);
    assert.match(key.body.key, /^[0-9a-f]{64}$/);
    assert.ok(key.body.id);

    const me = await c.get('/api/v1/auth/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { email });

    const logout = await c.post('/api/v1/auth/logout', { headers: { origin: server.url } });
    assert.equal(logout.status, 200);
    assert.deepEqual(logout.body, {});
    assert.equal(c.jar.get('auth_token'), undefined, 'logout clears the cookie');

    const cookieAfter = await c.get('/api/v1/auth/me', { headers: { cookie: `auth_token=${login.body.access_token}` } });
    assert.equal(cookieAfter.status, 401, 'the logged-out cookie token no longer works');

    const viaKey = await c.get('/api/v1/auth/me', { apiKey: key.body.key });
    assert.equal(viaKey.status, 200);
    assert.equal(viaKey.body.email, email);

    const del = await c.delete(`/api/v1/auth/api-keys/${key.body.id}`, { apiKey: key.body.key });
    assert.equal(del.status, 200);
    assert.equal(del.text, 'null');
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key.body.key })).status, 401);

    // D3: unlike the reference, the bearer token dies with the logout too.
    assert.equal((await c.get('/api/v1/auth/me', { bearer: token, cookies: false })).status, 401);
  });
});
