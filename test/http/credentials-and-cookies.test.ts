import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, uniqueEmail, type TestServer } from '../helpers/harness.js';

/** D6 credential order, D5 cookie attributes and the CSRF rule, and CORS with credentials. */
const UI = 'http://ui.example.test';

function cookieAttributes(setCookie: string): Record<string, string | true> {
  const [pair, ...attrs] = setCookie.split(';').map((s) => s.trim());
  const out: Record<string, string | true> = { __pair: pair! };
  for (const attr of attrs) {
    const eq = attr.indexOf('=');
    if (eq < 0) out[attr.toLowerCase()] = true;
    else out[attr.slice(0, eq).toLowerCase()] = attr.slice(eq + 1);
  }
  return out;
}

describe('D6: credential resolution', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CORS_ALLOWED_ORIGINS: UI } });
  });
  after(() => server.close());

  it('D6: X-Api-Key wins over Bearer, Bearer over the cookie', async () => {
    const alice = server.client();
    const a = await alice.signUp(uniqueEmail('alice'));
    const aliceKey = (await alice.post('/api/v1/auth/api-keys', { json: {}, bearer: a.token })).body.key;
    const bob = server.client();
    const b = await bob.signUp(uniqueEmail('bob'));
    const aliceEmail = (await alice.get('/api/v1/auth/me', { bearer: a.token })).body.email;
    const bobEmail = (await bob.get('/api/v1/auth/me', { bearer: b.token })).body.email;

    const keyAndBearer = await bob.get('/api/v1/auth/me', { apiKey: aliceKey, bearer: b.token, cookies: false });
    assert.equal(keyAndBearer.body.email, aliceEmail);
    const bearerAndCookie = await bob.get('/api/v1/auth/me', { bearer: a.token }); // bob's cookie in the jar
    assert.equal(bearerAndCookie.body.email, aliceEmail);
    const cookieOnly = await bob.get('/api/v1/auth/me');
    assert.equal(cookieOnly.body.email, bobEmail);
  });

  it('D6: an invalid credential is skipped when a later one is valid; the same key in both headers works', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('fallthrough'));
    const key = (await c.post('/api/v1/auth/api-keys', { json: {}, bearer: token })).body.key;
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: 'f'.repeat(64), bearer: token, cookies: false })).status, 200);
    assert.equal((await c.get('/api/v1/auth/me', { bearer: 'garbage' })).status, 200, 'valid cookie behind a bad bearer');
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key, bearer: key, cookies: false })).status, 200);
  });

  it('D6: presented but invalid credentials are 401, never a fallback', async () => {
    const c = server.client();
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: 'f'.repeat(64) })).status, 401);
    assert.equal((await c.get('/api/v1/auth/me', { headers: { cookie: 'auth_token=garbage' } })).status, 401);
  });
});

describe('D6/D7: with authentication disabled', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false' } });
  });
  after(() => server.close());

  it('D6: no credential acts as the default user; an invalid or revoked credential is 401, not the default user', async () => {
    const c = server.client();
    assert.deepEqual((await c.get('/api/v1/auth/me')).body, { email: 'default_user@example.com' });
    assert.equal((await c.get('/api/v1/auth/me', { bearer: 'garbage.token.here' })).status, 401);
    const expired = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAiLCJleHAiOjF9.x';
    assert.equal((await c.get('/api/v1/auth/me', { bearer: expired })).status, 401);
    const user = server.client();
    const { token } = await user.signUp(uniqueEmail('off'));
    const key = (await user.post('/api/v1/auth/api-keys', { json: {}, bearer: token })).body;
    await user.delete(`/api/v1/auth/api-keys/${key.id}`, { bearer: token });
    const res = await c.get('/api/v1/auth/me', { apiKey: key.key });
    assert.equal(res.status, 401, 'a deleted key does not silently become the default user');
  });
});

describe('D5: the session cookie', () => {
  it('D5: HttpOnly, SameSite=Lax, Path=/, Max-Age = token lifetime, not Secure by default; logout clears both cookie names', async () => {
    const server = await startTestServer({ env: { JWT_LIFETIME_SECONDS: '1234' } });
    try {
      const c = server.client();
      const email = uniqueEmail('cookie');
      const { password } = await c.signUp(email);
      const res = await c.post('/api/v1/auth/login', { form: { username: email, password } });
      const cookies = res.headers.getSetCookie();
      assert.equal(cookies.length, 1);
      const attrs = cookieAttributes(cookies[0]!);
      assert.equal(attrs.__pair, `auth_token=${res.body.access_token}`);
      assert.equal(attrs.httponly, true);
      assert.equal(attrs.samesite, 'Lax');
      assert.equal(attrs.path, '/');
      assert.equal(attrs['max-age'], '1234');
      assert.equal(attrs.secure, undefined);
      assert.equal(attrs.domain, undefined);

      const logout = await c.post('/api/v1/auth/logout', { bearer: res.body.access_token, cookies: false });
      const cleared = logout.headers.getSetCookie().map(cookieAttributes);
      assert.deepEqual(cleared.map((a) => a.__pair).sort(), ['auth_token=', 'fastapiusersauth=']);
      for (const a of cleared) assert.equal(a['max-age'], '0');
    } finally {
      await server.close();
    }
  });

  it('D5: AUTH_TOKEN_COOKIE_SECURE, AUTH_TOKEN_COOKIE_DOMAIN and AUTH_TOKEN_COOKIE_NAME are honoured', async () => {
    const server = await startTestServer({
      env: { AUTH_TOKEN_COOKIE_SECURE: 'true', AUTH_TOKEN_COOKIE_DOMAIN: 'example.test', AUTH_TOKEN_COOKIE_NAME: 'my_cookie' },
    });
    try {
      const c = server.client();
      const email = uniqueEmail('cookie2');
      const { password } = await c.signUp(email);
      const res = await c.post('/api/v1/auth/login', { form: { username: email, password } });
      const attrs = cookieAttributes(res.headers.getSetCookie()[0]!);
      assert.ok(String(attrs.__pair).startsWith('my_cookie='));
      assert.equal(attrs.secure, true);
      assert.equal(attrs.domain, 'example.test');
      const me = await c.get('/api/v1/auth/me', { headers: { cookie: `my_cookie=${res.body.access_token}` }, cookies: false });
      assert.equal(me.status, 200, 'the renamed cookie authenticates');
    } finally {
      await server.close();
    }
  });
});

describe('D5: CSRF protection of cookie-authenticated writes', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CORS_ALLOWED_ORIGINS: UI } });
  });
  after(() => server.close());

  it('D5: an unsafe request with only the cookie needs an allowed Origin or Referer', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('csrf'));
    const write = (headers: Record<string, string>) => c.post('/api/v1/auth/api-keys', { json: {}, headers });
    const none = await write({});
    assert.equal(none.status, 403);
    assert.match(none.body.detail, /CSRF/);
    assert.equal((await write({ origin: 'http://evil.example' })).status, 403);
    assert.equal((await write({ origin: 'null' })).status, 403);
    assert.equal((await write({ referer: 'http://evil.example/page' })).status, 403);
    assert.equal((await write({ origin: server.url })).status, 200, 'own origin');
    assert.equal((await write({ origin: UI })).status, 200, 'CORS allow-list');
    assert.equal((await write({ referer: `${server.url}/some/page` })).status, 200, 'own Referer');
    const keys = await c.get('/api/v1/auth/api-keys', { headers: { origin: 'http://evil.example' } });
    assert.equal(keys.status, 200, 'safe methods are not affected');
    const bearer = await c.post('/api/v1/auth/api-keys', { json: {}, bearer: token, cookies: false, headers: { origin: 'http://evil.example' } });
    assert.equal(bearer.status, 200, 'bearer requests are not affected');
  });

  it('CORS: credentials are allowed for allow-listed origins only', async () => {
    const c = server.client();
    const allowed = await c.request('OPTIONS', '/api/v1/auth/login', {
      headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(allowed.headers.get('access-control-allow-origin'), UI);
    assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true');
    assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /PATCH/);
    const foreign = await c.request('OPTIONS', '/api/v1/auth/login', {
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  });

  it('security headers and no-store caching on API answers', async () => {
    const res = await server.client().get('/api/v1/auth/me');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });
});
