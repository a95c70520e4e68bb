import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { startTestServer, strongPassword, uniqueEmail, type Client, type HttpResult, type TestServer } from '../helpers/harness.js';

/**
 * D25: every posture checks origins. Whether or not authentication is on, an unsafe request
 * (POST/PUT/PATCH/DELETE) whose Origin (or, without one, Referer) is foreign is refused, a route
 * accepts only the content types it declares (a JSON route answers 415 to a form or text body, so
 * a cross-site HTML form cannot write), and the Host must be one of the configured names (no DNS
 * rebinding). Clients that send no Origin (SDKs, agents, curl) are not affected. Also: a cross-site
 * login form sets no cookie (login CSRF), and the default user's e-mail cannot be registered.
 */

const EVIL = 'http://evil.example';
const FOREIGN_ORIGIN = { detail: 'CSRF check failed: the request comes from an origin that is not allowed' };
const MISDIRECTED = { detail: 'Misdirected Request: the Host header does not name this server (ALLOWED_HOSTS)' };
const UNSUPPORTED = { detail: 'Unsupported Media Type' };
const DEFAULT_EMAIL = 'default_user@example.com';

interface Posture {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly required: boolean;
}

const POSTURES: Posture[] = [
  { name: 'authentication off (single user)', env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'false' }, required: false },
  { name: 'authentication on, single user', env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'true' }, required: true },
  { name: 'authentication on, multi-tenant', env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true', REQUIRE_AUTHENTICATION: 'true' }, required: true },
  {
    name: 'multi-tenant with REQUIRE_AUTHENTICATION=false (forced on)',
    env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true', REQUIRE_AUTHENTICATION: 'false' },
    required: true,
  },
];

/** A request with a Host header of our choosing (fetch cannot set one). */
function withHost(base: string, method: string, path: string, host: string, options: { body?: string; headers?: Record<string, string> } = {}) {
  const url = new URL(base);
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { host, ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}), ...(options.headers ?? {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

for (const posture of POSTURES) {
  describe(`D25: origins, content types and Host in every posture — ${posture.name}`, () => {
    let server: TestServer;
    let port: string;
    /** The caller: in the authenticated postures a signed-in browser (cookie) or its bearer token. */
    let browser: Client;
    let token: string | undefined;
    const auth = () => (token ? { bearer: token, cookies: false as const } : {});
    const names = async (): Promise<string[]> => {
      const res = await browser.get('/api/v1/datasets', auth());
      assert.equal(res.status, 200, res.text);
      return (res.body as { name: string }[]).map((d) => d.name).sort();
    };

    before(async () => {
      server = await startTestServer({ env: posture.env });
      port = new URL(server.url).port;
      browser = server.client();
      if (posture.required) {
        const { token: t } = await browser.signUp(uniqueEmail('origin'));
        token = t;
      }
    });
    after(() => server?.close());

    it('D25: an unsafe request with a foreign Origin, Origin "null" or a foreign Referer is 403 and changes nothing', async () => {
      const before = await names();
      const cases: [string, Record<string, string>][] = [
        ['foreign Origin', { origin: EVIL }],
        ['Origin "null"', { origin: 'null' }],
        ['look-alike Origin', { origin: `${server.url}.evil.example` }],
        ['own host on another port', { origin: 'http://127.0.0.1' }],
        ['foreign Referer', { referer: `${EVIL}/page` }],
        ['foreign Origin with own Referer', { origin: EVIL, referer: `${server.url}/` }],
      ];
      for (const [label, headers] of cases) {
        // As a browser would send it: the session cookie (when there is one), no bearer.
        const viaCookie = await browser.post('/api/v1/datasets', { json: { name: 'planted_cookie' }, headers });
        assert.equal(viaCookie.status, 403, `${label}: ${viaCookie.text}`);
        // The same with a bearer token (or anonymously): the rule does not depend on the credential.
        const viaToken = await browser.post('/api/v1/datasets', { json: { name: 'planted_token' }, headers, ...auth() });
        assert.deepEqual([viaToken.status, viaToken.body], [403, FOREIGN_ORIGIN], label);
      }
      const del = await browser.delete('/api/v1/datasets/00000000-0000-0000-0000-000000000000', { headers: { origin: EVIL }, ...auth() });
      assert.deepEqual([del.status, del.body], [403, FOREIGN_ORIGIN]);
      assert.deepEqual(await names(), before, 'no dataset was created');
    });

    it('D25: the same request from the own origin, an own Referer or with no Origin at all (an SDK, an agent, curl) is served', async () => {
      const own = await browser.post('/api/v1/datasets', { json: { name: 'from_own_origin' }, headers: { origin: server.url }, ...auth() });
      assert.equal(own.status, 200, own.text);
      const localhost = await browser.post('/api/v1/datasets', {
        json: { name: 'from_own_referer' },
        headers: { referer: `${server.url}/datasets` },
        ...auth(),
      });
      assert.equal(localhost.status, 200, localhost.text);
      const sdk = await browser.post('/api/v1/datasets', { json: { name: 'from_sdk' }, ...auth() });
      assert.equal(sdk.status, 200, sdk.text);
      const safe = await browser.get('/api/v1/datasets', { headers: { origin: EVIL }, ...auth() });
      assert.equal(safe.status, 200, 'safe methods are not checked');
      assert.ok(['from_own_origin', 'from_own_referer', 'from_sdk'].every((n) => safe.body.some((d: { name: string }) => d.name === n)));
    });

    it('D25: a JSON route answers 415 to a form, text or multipart body (what an HTML form can send) and changes nothing', async () => {
      const before = await names();
      const bodies: [string, Partial<Record<'form' | 'raw', unknown>>, Record<string, string>][] = [
        ['form', { form: { name: 'formed' } }, {}],
        ['text/plain', { raw: '{"name":"texted"}' }, { 'content-type': 'text/plain' }],
        [
          'multipart',
          { raw: '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nmultiparted\r\n--b--\r\n' },
          { 'content-type': 'multipart/form-data; boundary=b' },
        ],
      ];
      for (const [label, body, headers] of bodies) {
        const res: HttpResult = await browser.post('/api/v1/datasets', { ...(body as object), headers, ...auth() });
        assert.deepEqual([res.status, res.body], [415, UNSUPPORTED], label);
      }
      // From an allowed frontend (UI_APP_URL, by default http://localhost:3000) the same refusal is readable (CORS).
      const fromUi = await browser.post('/api/v1/datasets', { form: { name: 'formed_ui' }, headers: { origin: 'http://localhost:3000' }, ...auth() });
      assert.deepEqual([fromUi.status, fromUi.body], [415, UNSUPPORTED]);
      assert.equal(fromUi.headers.get('access-control-allow-origin'), 'http://localhost:3000');
      assert.deepEqual(await names(), before, 'no dataset was created');
      // An upload route takes multipart only.
      const json = await browser.post('/api/v1/add', { json: { datasetName: 'x' }, ...auth() });
      assert.deepEqual([json.status, json.body], [415, UNSUPPORTED]);
    });

    it('D25: a Host that is not one of the configured names is 421 (DNS rebinding); loopback names are served', async () => {
      for (const host of [`evil.example:${port}`, `evil.example`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example`]) {
        const read = await withHost(server.url, 'GET', '/api/v1/datasets', host, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        assert.deepEqual([read.status, read.body], [421, MISDIRECTED], host);
        const write = await withHost(server.url, 'POST', '/api/v1/datasets', host, {
          body: '{"name":"rebound"}',
          headers: { 'content-type': 'application/json', origin: `http://${host}`, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        });
        assert.deepEqual([write.status, write.body], [421, MISDIRECTED], host);
      }
      assert.ok(!(await names()).includes('rebound'));
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, 'localhost']) {
        const res = await withHost(server.url, 'GET', '/api/v1/datasets', host, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        assert.equal(res.status, 200, host);
      }
      // The names just served are remembered as allowed; a foreign one is still refused after them.
      assert.deepEqual(await withHost(server.url, 'GET', '/api/v1/datasets', `evil.example:${port}`), { status: 421, body: MISDIRECTED });
      // A same-origin write through an allowed name (the browser's Origin matches its Host).
      const own = await withHost(server.url, 'POST', '/api/v1/datasets', `localhost:${port}`, {
        body: '{"name":"via_localhost"}',
        headers: { 'content-type': 'application/json', origin: `http://localhost:${port}`, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      assert.equal(own.status, 200, JSON.stringify(own.body));
      // Health probes address the server by whatever name or address they have.
      assert.equal((await withHost(server.url, 'GET', '/health', '10.1.2.3:8000')).status, 200);
    });

    it('D25: a cross-site login form is refused and sets no cookie (login CSRF); the same form from the own origin signs in', async () => {
      const email = uniqueEmail('login-csrf');
      const password = strongPassword();
      assert.equal((await server.client().post('/api/v1/auth/register', { json: { email, password } })).status, 201);
      const crossSite: Record<string, string>[] = [{ origin: EVIL }, { origin: 'null' }, { referer: `${EVIL}/login` }];
      for (const headers of crossSite) {
        const c = server.client();
        const res = await c.post('/api/v1/auth/login', { form: { username: email, password }, headers });
        assert.deepEqual([res.status, res.body], [403, FOREIGN_ORIGIN], JSON.stringify(headers));
        assert.deepEqual(res.headers.getSetCookie(), [], 'no session cookie');
      }
      const c = server.client();
      const own = await c.post('/api/v1/auth/login', { form: { username: email, password }, headers: { origin: server.url } });
      assert.equal(own.status, 200);
      assert.ok(c.jar.has('auth_token'));
    });

    it("D25: the default user's e-mail (DEFAULT_USER_EMAIL) cannot be registered or taken by an e-mail change", async () => {
      const password = strongPassword();
      for (const email of [DEFAULT_EMAIL, 'DEFAULT_USER@EXAMPLE.COM', ' default_user@Example.com ']) {
        const res = await server.client().post('/api/v1/auth/register', { json: { email, password } });
        assert.deepEqual([res.status, res.body], [400, { detail: 'REGISTER_USER_ALREADY_EXISTS' }], email);
      }
      const login = await server.client().post('/api/v1/auth/login', { form: { username: DEFAULT_EMAIL, password } });
      assert.equal(login.status, 400, 'no account with that password exists');
      assert.equal(login.body.access_token, undefined);
      if (token) {
        const change = await browser.patch('/api/v1/users/me', { json: { email: 'Default_User@example.com' }, ...auth() });
        assert.deepEqual([change.status, change.body], [400, { detail: 'UPDATE_USER_EMAIL_ALREADY_EXISTS' }]);
      }
    });
  });
}

describe('D25: ALLOWED_HOSTS and PUBLIC_BASE_URL name the hosts a deployment answers to', () => {
  let listed: TestServer;
  let published: TestServer;
  before(async () => {
    const env = { ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'false' };
    listed = await startTestServer({ env: { ...env, ALLOWED_HOSTS: 'memory.example.test, .corp.example.test' } });
    published = await startTestServer({ env: { ...env, PUBLIC_BASE_URL: 'https://engram.example.test' } });
  });
  after(async () => {
    await listed?.close();
    await published?.close();
  });

  it('D25: the configured names (and subdomains of a leading-dot entry) are served; loopback names are not when the list is set', async () => {
    for (const host of ['memory.example.test', 'memory.example.test:8000', 'corp.example.test', 'a.b.corp.example.test:443']) {
      assert.equal((await withHost(listed.url, 'GET', '/api/v1/datasets', host)).status, 200, host);
    }
    for (const host of ['localhost', '127.0.0.1', 'example.test', 'xcorp.example.test', 'memory.example.test.evil.example']) {
      assert.deepEqual(await withHost(listed.url, 'GET', '/api/v1/datasets', host), { status: 421, body: MISDIRECTED }, host);
    }
    // The own origin follows the Host the request was allowed under.
    const write = await withHost(listed.url, 'POST', '/api/v1/datasets', 'memory.example.test', {
      body: '{"name":"named_host"}',
      headers: { 'content-type': 'application/json', origin: 'http://memory.example.test' },
    });
    assert.equal(write.status, 200, JSON.stringify(write.body));
  });

  it("D25: without ALLOWED_HOSTS, PUBLIC_BASE_URL's host is served besides the loopback names", async () => {
    for (const host of ['engram.example.test', 'localhost:8000', '127.0.0.1']) {
      assert.equal((await withHost(published.url, 'GET', '/api/v1/datasets', host)).status, 200, host);
    }
    assert.deepEqual(await withHost(published.url, 'GET', '/api/v1/datasets', 'other.example.test'), { status: 421, body: MISDIRECTED });
    assert.ok(
      published.logs.find(/^accepted Host names \(ALLOWED_HOSTS\): localhost, 127\.0\.0\.1, \[::1\], engram\.example\.test$/),
      'the startup line names them',
    );
    assert.ok(listed.logs.find(/^accepted Host names \(ALLOWED_HOSTS\): memory\.example\.test, \.corp\.example\.test$/));
  });
});

describe('D25: ALLOWED_HOSTS values', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'engram-hosts-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('D25: names are kept in lower case, IPv6 in brackets; the default is the loopback names and the public URL host', () => {
    assert.deepEqual(loadConfig({ ALLOWED_HOSTS: 'Memory.Example.TEST., .corp.example.test, ::1, [fe80::1], 10.0.0.5, *' }, cwd).http.allowedHosts, [
      'memory.example.test',
      '.corp.example.test',
      '[::1]',
      '[fe80::1]',
      '10.0.0.5',
      '*',
    ]);
    assert.deepEqual(loadConfig({}, cwd).http.allowedHosts, ['localhost', '127.0.0.1', '[::1]']);
    assert.deepEqual(loadConfig({ PUBLIC_BASE_URL: 'https://Engram.Example.test/base/' }, cwd).http.allowedHosts, [
      'localhost',
      '127.0.0.1',
      '[::1]',
      'engram.example.test',
    ]);
    assert.deepEqual(loadConfig({ HTTP_API_HOST: '10.1.2.3' }, cwd).http.allowedHosts, ['localhost', '127.0.0.1', '[::1]', '10.1.2.3']);
  });

  it('D25: a value with a scheme, a port or a path stops startup naming ALLOWED_HOSTS', () => {
    for (const value of ['engram.example.test:8000', 'https://engram.example.test', 'engram.example.test/x', '[::1]:80', 'a b']) {
      assert.throws(
        () => loadConfig({ ALLOWED_HOSTS: value }, cwd),
        (error: unknown) => error instanceof ConfigError && error.variable === 'ALLOWED_HOSTS',
        value,
      );
    }
  });
});
