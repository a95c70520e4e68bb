import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestServer, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * D6 credential order (X-Api-Key, then Bearer, then the cookie; presented-but-invalid is 401 in
 * every posture), D5 session cookie attributes and the CSRF rule for cookie-authenticated writes,
 * and CORS with credentials.
 */
const SECRET = 'credentials-suite-secret-0123456789-abcdefghijkl';
const UI = 'http://ui.example.test';
const EVIL = 'http://evil.example';
const UNAUTHORIZED = { detail: 'Unauthorized' };
const CSRF_FAILED = { detail: 'CSRF check failed: a cookie-authenticated request must come from an allowed origin' };
/** D25: a foreign origin is refused for every unsafe request, before any credential is looked at. */
const FOREIGN_ORIGIN = { detail: 'CSRF check failed: the request comes from an origin that is not allowed' };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
/** An access token as this server issues it (D1), forged with the known secret. */
function forgeIssued(sub: string, extra: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, aud: ['fastapi-users:auth'], iat: now(), exp: now() + 600, ...extra })}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

function cookieAttributes(setCookie: string): { pair: string; attrs: Record<string, string | true> } {
  const [pair, ...rest] = setCookie.split(';').map((s) => s.trim());
  const attrs: Record<string, string | true> = {};
  for (const attr of rest) {
    const eq = attr.indexOf('=');
    if (eq < 0) attrs[attr.toLowerCase()] = true;
    else attrs[attr.slice(0, eq).toLowerCase()] = attr.slice(eq + 1);
  }
  return { pair: pair!, attrs };
}

interface Account {
  readonly client: Client;
  readonly id: string;
  readonly email: string;
  readonly password: string;
  readonly token: string;
  readonly apiKey: string;
  readonly apiKeyId: string;
}

/** Registers, logs in (the session cookie lands in the client's jar) and creates an API key. */
async function account(server: TestServer, prefix: string): Promise<Account> {
  const client = server.client();
  const email = uniqueEmail(prefix);
  const { id, token, password } = await client.signUp(email);
  const key = await client.post('/api/v1/auth/api-keys', { json: {}, bearer: token, cookies: false });
  assert.equal(key.status, 200, key.text);
  return { client, id, email, password, token, apiKey: key.body.key, apiKeyId: key.body.id };
}

describe('D6: credential order with authentication required', () => {
  let server: TestServer;
  let alice: Account;
  let bob: Account;
  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET } });
    alice = await account(server, 'alice');
    bob = await account(server, 'bob');
  });
  after(() => server.close());

  /** GET on an AUTH and a STRICT route; both must answer 200 as `who`. */
  async function assertActsAs(c: Client, who: Account, options: Parameters<Client['get']>[1], label: string) {
    const me = await c.get('/api/v1/auth/me', options);
    assert.equal(me.status, 200, `${label}: ${me.text}`);
    assert.deepEqual(me.body, { email: who.email }, label);
    const strict = await c.get('/api/v1/users/me', options);
    assert.equal(strict.status, 200, `${label} (strict): ${strict.text}`);
    assert.equal(strict.body.id, who.id, label);
  }

  it("D6: X-Api-Key wins over Bearer (the answer is the API key's user, either way round)", async () => {
    const c = server.client();
    await assertActsAs(c, alice, { apiKey: alice.apiKey, bearer: bob.token }, "alice's key, bob's bearer");
    await assertActsAs(c, bob, { apiKey: bob.apiKey, bearer: alice.token }, "bob's key, alice's bearer");
  });

  it('D6: Bearer wins over the cookie', async () => {
    await assertActsAs(bob.client, alice, { bearer: alice.token }, "alice's bearer, bob's cookie");
    await assertActsAs(bob.client, bob, {}, "bob's cookie alone");
  });

  it('D6: an invalid X-Api-Key with a valid bearer answers 200 as the bearer user', async () => {
    const c = server.client();
    await assertActsAs(c, bob, { apiKey: 'f'.repeat(64), bearer: bob.token }, 'unknown key, valid bearer');
    await assertActsAs(c, bob, { apiKey: 'garbage', bearer: bob.token }, 'garbage key, valid bearer');
  });

  it('D6: a valid cookie with an invalid bearer answers 200 via the cookie', async () => {
    await assertActsAs(alice.client, alice, { bearer: 'garbage' }, 'garbage bearer, valid cookie');
    await assertActsAs(alice.client, alice, { bearer: forgeIssued(bob.id, { exp: now() - 10 }) }, "bob's expired bearer, alice's cookie");
  });

  it('D6: the same API key in X-Api-Key and Authorization: Bearer (as some clients send it) answers 200', async () => {
    const c = server.client();
    await assertActsAs(c, alice, { apiKey: alice.apiKey, bearer: alice.apiKey, cookies: false }, 'key in both headers');
  });

  it('D6: credentials that are all invalid answer 401, even with several presented', async () => {
    const c = server.client();
    const cases: [string, Parameters<Client['get']>[1]][] = [
      ['invalid key', { apiKey: 'f'.repeat(64) }],
      ['invalid bearer', { bearer: 'garbage' }],
      ['invalid cookie', { headers: { cookie: 'auth_token=garbage' } }],
      ['all three invalid', { apiKey: 'f'.repeat(64), bearer: 'garbage', headers: { cookie: 'auth_token=garbage' } }],
    ];
    for (const [label, options] of cases) {
      for (const path of ['/api/v1/auth/me', '/api/v1/users/me']) {
        const res = await c.get(path, options);
        assert.equal(res.status, 401, `${label} on ${path}`);
        assert.deepEqual(res.body, UNAUTHORIZED, `${label} on ${path}`);
      }
    }
  });
});

describe('D6: credentials with authentication disabled', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET, ENABLE_BACKEND_ACCESS_CONTROL: 'false' } });
  });
  after(() => server.close());

  it('D6/D7: a request with no credential acts as default_user@example.com', async () => {
    const res = await server.client().get('/api/v1/auth/me');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { email: 'default_user@example.com' });
  });

  it('D6: an expired or garbage bearer is 401, not the default user', async () => {
    const a = await account(server, 'off');
    const c = server.client();
    // Control: the forged token with a live exp is accepted as its user.
    const live = await c.get('/api/v1/auth/me', { bearer: forgeIssued(a.id) });
    assert.deepEqual([live.status, live.body], [200, { email: a.email }]);
    const bearers: [string, string][] = [
      ['expired bearer', `Bearer ${forgeIssued(a.id, { exp: now() - 10 })}`],
      ['garbage bearer', 'Bearer garbage'],
      ['garbage three-part bearer', 'Bearer a.b.c'],
      ['two tokens in one bearer', `Bearer ${a.token} ${a.token}`],
      ['non-ASCII bearer', 'Bearer ééé.ééé.ééé'],
    ];
    for (const [label, authorization] of bearers) {
      const res = await c.get('/api/v1/auth/me', { headers: { authorization } });
      assert.equal(res.status, 401, `${label}: ${res.status} ${res.text}`);
      assert.deepEqual(res.body, UNAUTHORIZED, label);
    }
    const cookie = await c.get('/api/v1/auth/me', { headers: { cookie: 'auth_token=garbage' } });
    assert.deepEqual([cookie.status, cookie.body], [401, UNAUTHORIZED], 'garbage cookie');
  });

  it('D6: a logged-out token is 401, not the default user', async () => {
    const a = await account(server, 'off-logout');
    assert.equal((await a.client.post('/api/v1/auth/logout', { bearer: a.token, cookies: false })).status, 200);
    const res = await server.client().get('/api/v1/auth/me', { bearer: a.token });
    assert.deepEqual([res.status, res.body], [401, UNAUTHORIZED]);
  });

  it('D6: a deleted API key is 401, not the default user', async () => {
    const a = await account(server, 'off-key');
    const c = server.client();
    const before = await c.get('/api/v1/auth/me', { apiKey: a.apiKey });
    assert.deepEqual([before.status, before.body], [200, { email: a.email }], 'the key works before deletion');
    const del = await c.delete(`/api/v1/auth/api-keys/${a.apiKeyId}`, { bearer: a.token });
    assert.equal(del.status, 200);
    const res = await c.get('/api/v1/auth/me', { apiKey: a.apiKey });
    assert.deepEqual([res.status, res.body], [401, UNAUTHORIZED]);
  });
});

describe('D5: the session cookie', () => {
  it('D5: login sets HttpOnly, SameSite=Lax, Path=/, Max-Age = JWT_LIFETIME_SECONDS, no Secure or Domain by default; logout clears it and fastapiusersauth', async () => {
    const server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET, JWT_LIFETIME_SECONDS: '1234' } });
    try {
      const c = server.client();
      const email = uniqueEmail('cookie');
      const { password } = await c.signUp(email);
      const login = await c.post('/api/v1/auth/login', { form: { username: email, password }, cookies: false });
      assert.equal(login.status, 200);
      const token = login.body.access_token as string;
      const set = login.headers.getSetCookie();
      assert.equal(set.length, 1, set.join(' | '));
      const { pair, attrs } = cookieAttributes(set[0]!);
      assert.equal(pair, `auth_token=${token}`);
      assert.equal(attrs.httponly, true);
      assert.equal(attrs.samesite, 'Lax');
      assert.equal(attrs.path, '/');
      assert.equal(attrs['max-age'], '1234');
      assert.equal(attrs.secure, undefined);
      assert.equal(attrs.domain, undefined);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number; exp: number };
      assert.equal(claims.exp - claims.iat, 1234, 'the token lifetime matches the cookie');

      const me = await c.get('/api/v1/auth/me', { headers: { cookie: `auth_token=${token}` }, cookies: false });
      assert.deepEqual([me.status, me.body], [200, { email }], 'the cookie authenticates');

      const logout = await c.post('/api/v1/auth/logout', { headers: { cookie: `auth_token=${token}`, origin: server.url }, cookies: false });
      assert.equal(logout.status, 200);
      const cleared = logout.headers.getSetCookie().map(cookieAttributes);
      assert.deepEqual(cleared.map((x) => x.pair).sort(), ['auth_token=', 'fastapiusersauth=']);
      for (const { pair: p, attrs: a } of cleared) {
        assert.equal(a['max-age'], '0', p);
        assert.equal(a.path, '/', p);
      }
      const after = await c.get('/api/v1/auth/me', { headers: { cookie: `auth_token=${token}` }, cookies: false });
      assert.deepEqual([after.status, after.body], [401, UNAUTHORIZED], 'the logged-out cookie token is revoked');
    } finally {
      await server.close();
    }
  });

  it('D5: AUTH_TOKEN_COOKIE_SECURE, AUTH_TOKEN_COOKIE_DOMAIN and AUTH_TOKEN_COOKIE_NAME are honoured, also by logout', async () => {
    const server = await startTestServer({
      env: {
        FASTAPI_USERS_JWT_SECRET: SECRET,
        AUTH_TOKEN_COOKIE_SECURE: 'true',
        AUTH_TOKEN_COOKIE_DOMAIN: 'example.test',
        AUTH_TOKEN_COOKIE_NAME: 'my_cookie',
      },
    });
    try {
      const c = server.client();
      const email = uniqueEmail('cookie2');
      const { password } = await c.signUp(email);
      const login = await c.post('/api/v1/auth/login', { form: { username: email, password }, cookies: false });
      const token = login.body.access_token as string;
      const set = login.headers.getSetCookie();
      assert.equal(set.length, 1);
      const { pair, attrs } = cookieAttributes(set[0]!);
      assert.equal(pair, `my_cookie=${token}`);
      assert.equal(attrs.secure, true);
      assert.equal(attrs.domain, 'example.test');
      assert.equal(attrs.httponly, true);
      assert.equal(attrs.samesite, 'Lax');
      assert.equal(attrs.path, '/');
      assert.equal(attrs['max-age'], '3600', 'default lifetime');

      const renamed = await c.get('/api/v1/auth/me', { headers: { cookie: `my_cookie=${token}` }, cookies: false });
      assert.deepEqual([renamed.status, renamed.body], [200, { email }], 'the renamed cookie authenticates');
      const oldName = await c.get('/api/v1/auth/me', { headers: { cookie: `auth_token=${token}` }, cookies: false });
      assert.deepEqual([oldName.status, oldName.body], [401, UNAUTHORIZED], 'the default name is not read any more');

      const logout = await c.post('/api/v1/auth/logout', { headers: { cookie: `my_cookie=${token}`, origin: server.url }, cookies: false });
      assert.equal(logout.status, 200);
      const cleared = logout.headers.getSetCookie().map(cookieAttributes);
      assert.deepEqual(cleared.map((x) => x.pair).sort(), ['fastapiusersauth=', 'my_cookie=']);
      for (const { pair: p, attrs: a } of cleared) {
        assert.equal(a['max-age'], '0', p);
        assert.equal(a.domain, 'example.test', `${p} is cleared on the domain it was set for`);
        assert.equal(a.secure, true, p);
      }
    } finally {
      await server.close();
    }
  });
});

describe('D5: CSRF protection of cookie-authenticated writes, and CORS', () => {
  let server: TestServer;
  let a: Account;
  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET, CORS_ALLOWED_ORIGINS: UI } });
    a = await account(server, 'csrf');
    assert.ok(a.client.jar.get('auth_token'), 'the login left the session cookie in the jar');
  });
  after(() => server.close());

  const keyCount = async () => {
    const res = await a.client.get('/api/v1/auth/api-keys', { bearer: a.token, cookies: false });
    assert.equal(res.status, 200);
    return (res.body as unknown[]).length;
  };
  /** POST /auth/api-keys authenticated by the cookie alone, with the given origin headers. */
  const cookieWrite = (headers: Record<string, string>) => a.client.post('/api/v1/auth/api-keys', { json: {}, headers });

  it('D5: a cookie-only POST without Origin and Referer is 403 and does nothing', async () => {
    const before = await keyCount();
    const res = await cookieWrite({});
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, CSRF_FAILED);
    assert.equal(await keyCount(), before, 'no key was created');
  });

  it('D5 D25: a cookie-only POST from a foreign origin is 403', async () => {
    const before = await keyCount();
    const cases: [string, Record<string, string>][] = [
      ['foreign Origin', { origin: EVIL }],
      ['Origin "null"', { origin: 'null' }],
      ['look-alike Origin', { origin: `${server.url}.evil.example` }],
      ['foreign Referer', { referer: `${EVIL}/page` }],
      ['foreign Origin with own Referer', { origin: EVIL, referer: `${server.url}/page` }],
      ['unparsable Referer', { referer: 'not a url' }],
    ];
    for (const [label, headers] of cases) {
      const res = await cookieWrite(headers);
      assert.equal(res.status, 403, label);
      assert.deepEqual(res.body, FOREIGN_ORIGIN, label);
    }
    assert.equal(await keyCount(), before, 'no key was created');
  });

  it('D5: logout forwarded by a server with the cookie alone (no Origin, no Referer) ends the session; with a foreign origin it is refused', async () => {
    // The reference frontend's sign-out route calls logout from its server, forwarding only the cookie.
    const other = await account(server, 'csrf-logout');
    const foreign: Record<string, string>[] = [{ origin: EVIL }, { referer: `${EVIL}/page` }, { origin: 'null' }];
    for (const headers of foreign) {
      const refused = await other.client.post('/api/v1/auth/logout', { headers });
      assert.deepEqual([refused.status, refused.body], [403, FOREIGN_ORIGIN], JSON.stringify(headers));
      assert.equal((await other.client.get('/api/v1/auth/me')).status, 200, 'the session survived');
    }
    const cookie = `auth_token=${other.client.jar.get('auth_token')}`;
    const forwarded = await server.client().post('/api/v1/auth/logout', { headers: { cookie } });
    assert.deepEqual([forwarded.status, forwarded.body], [200, {}]);
    const after = await server.client().get('/api/v1/auth/me', { headers: { cookie } });
    assert.equal(after.status, 401, 'the token is revoked');
    // Every other cookie-only write without an origin stays refused (the case above this one).
    const write = await server.client().post('/api/v1/auth/api-keys', { json: {}, headers: { cookie: `auth_token=${a.client.jar.get('auth_token')}` } });
    assert.deepEqual([write.status, write.body], [403, CSRF_FAILED]);
  });

  it('D5 D25: cookie-only PATCH and DELETE from a foreign origin are 403 too', async () => {
    const patch = await a.client.patch('/api/v1/users/me', { json: {}, headers: { origin: EVIL } });
    assert.deepEqual([patch.status, patch.body], [403, FOREIGN_ORIGIN]);
    const del = await a.client.delete(`/api/v1/auth/api-keys/${a.apiKeyId}`, { headers: { origin: EVIL } });
    assert.deepEqual([del.status, del.body], [403, FOREIGN_ORIGIN]);
    const stillThere = await a.client.get('/api/v1/auth/me', { apiKey: a.apiKey, cookies: false });
    assert.equal(stillThere.status, 200, 'the key was not deleted');
  });

  it("D5: a cookie-only POST from the server's own origin, an allow-listed origin or with an own Referer is 200", async () => {
    const before = await keyCount();
    const cases: [string, Record<string, string>][] = [
      ['own Origin', { origin: server.url }],
      ['Origin in CORS_ALLOWED_ORIGINS', { origin: UI }],
      ['own Referer only', { referer: `${server.url}/some/page?x=1` }],
      ['Origin "null" with own Referer', { origin: 'null', referer: `${server.url}/` }],
    ];
    for (const [label, headers] of cases) {
      const res = await cookieWrite(headers);
      assert.equal(res.status, 200, `${label}: ${res.text}`);
      assert.match(res.body.key, /^[0-9a-f]{64}$/, label);
    }
    assert.equal(await keyCount(), before + cases.length);
  });

  it('D5 D25: with a bearer token or an API key (no cookie) no Origin is needed; a foreign one is refused as for every request (D25)', async () => {
    const before = await keyCount();
    const noOrigin = await a.client.post('/api/v1/auth/api-keys', { json: {}, bearer: a.token, cookies: false });
    assert.equal(noOrigin.status, 200, 'no Origin needed without the cookie');
    const viaKey = await a.client.post('/api/v1/auth/api-keys', { json: {}, apiKey: a.apiKey, cookies: false });
    assert.equal(viaKey.status, 200, viaKey.text);
    const bearer = await a.client.post('/api/v1/auth/api-keys', { json: {}, bearer: a.token, cookies: false, headers: { origin: EVIL } });
    assert.deepEqual([bearer.status, bearer.body], [403, FOREIGN_ORIGIN]);
    const keyForeign = await a.client.post('/api/v1/auth/api-keys', { json: {}, apiKey: a.apiKey, cookies: false, headers: { origin: EVIL } });
    assert.deepEqual([keyForeign.status, keyForeign.body], [403, FOREIGN_ORIGIN]);
    assert.equal(await keyCount(), before + 2);
  });

  it('D5: a GET with the cookie and a foreign Origin is 200 (safe methods are not checked)', async () => {
    const me = await a.client.get('/api/v1/auth/me', { headers: { origin: EVIL } });
    assert.deepEqual([me.status, me.body], [200, { email: a.email }]);
    const keys = await a.client.get('/api/v1/auth/api-keys', { headers: { origin: EVIL, referer: `${EVIL}/x` } });
    assert.equal(keys.status, 200);
  });

  it('CORS: a preflight from an allowed origin is granted with credentials; one from a foreign origin gets no allow-origin', async () => {
    const c = server.client();
    const preflight = (origin: string) =>
      c.request('OPTIONS', '/api/v1/auth/api-keys', {
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        cookies: false,
      });
    const allowed = await preflight(UI);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), UI);
    assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true');
    assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);

    const foreign = await preflight(EVIL);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);

    // The actual responses follow the same rule.
    const get = await c.get('/api/v1/auth/me', { bearer: a.token, headers: { origin: UI }, cookies: false });
    assert.equal(get.headers.get('access-control-allow-origin'), UI);
    assert.equal(get.headers.get('access-control-allow-credentials'), 'true');
    const foreignGet = await c.get('/api/v1/auth/me', { bearer: a.token, headers: { origin: EVIL }, cookies: false });
    assert.equal(foreignGet.status, 200);
    assert.equal(foreignGet.headers.get('access-control-allow-origin'), null);
  });
});
