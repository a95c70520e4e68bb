import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * Property-based fuzzing of every auth route over real HTTP: never a 5xx, never an authenticated
 * answer without valid credentials, always the reference's error envelope, and nothing half-written.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

const ROUTES: { method: string; path: string; protected: boolean }[] = [
  { method: 'POST', path: '/api/v1/auth/login', protected: false },
  { method: 'POST', path: '/api/v1/auth/register', protected: false },
  { method: 'POST', path: '/api/v1/auth/forgot-password', protected: false },
  { method: 'POST', path: '/api/v1/auth/reset-password', protected: false },
  { method: 'POST', path: '/api/v1/auth/request-verify-token', protected: false },
  { method: 'POST', path: '/api/v1/auth/verify', protected: false },
  { method: 'POST', path: '/api/v1/auth/logout', protected: true },
  { method: 'GET', path: '/api/v1/auth/me', protected: true },
  { method: 'GET', path: '/api/v1/auth/api-keys', protected: true },
  { method: 'POST', path: '/api/v1/auth/api-keys', protected: true },
  { method: 'DELETE', path: '/api/v1/auth/api-keys/{id}', protected: true },
  { method: 'GET', path: '/api/v1/users/me', protected: true },
  { method: 'PATCH', path: '/api/v1/users/me', protected: true },
  { method: 'GET', path: '/api/v1/users/{id}', protected: true },
  { method: 'PATCH', path: '/api/v1/users/{id}', protected: true },
  { method: 'DELETE', path: '/api/v1/users/{id}', protected: true },
  { method: 'POST', path: '/api/v1/users/get-user-id', protected: true },
  { method: 'GET', path: '/', protected: false },
  { method: 'GET', path: '/health', protected: false },
  { method: 'GET', path: '/openapi.json', protected: false },
];

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'email', 'password', 'token', 'username', 'is_superuser', 'name');
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
  fc.record({ email: fc.oneof(fc.string(), fc.emailAddress(), fc.integer(), fc.constant(null)), password: fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.array(fc.string())) }),
  fc.record({ token: fc.oneof(fc.string(), fc.constant('a.b.c'), fc.integer()), password: fc.string() }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.string({ maxLength: 2000, unit: 'binary' }),
);

const base64url = fc.uint8Array({ minLength: 0, maxLength: 120 }).map((b) => Buffer.from(b).toString('base64url'));
const credentialValue = fc.oneof(
  fc.string({ maxLength: 200 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  fc.tuple(base64url, base64url, base64url).map((parts) => parts.join('.')),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
  fc.constant('x'.repeat(9000)),
);

interface FuzzRequest {
  route: (typeof ROUTES)[number];
  id: string;
  contentType: string | undefined;
  body: string | undefined;
  authorization: string | undefined;
  apiKey: string | undefined;
  cookie: string | undefined;
}

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  route: fc.constantFrom(...ROUTES),
  id: fc.oneof(fc.uuid(), fc.string({ maxLength: 80 }).map(encodeURIComponent), fc.constant('..%2F..%2Fetc%2Fpasswd')),
  contentType: fc.option(
    fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'application/xml', 'application/json; charset=utf-16'),
    { nil: undefined },
  ),
  body: fc.option(
    fc.oneof(
      hostileJson.map((v) => JSON.stringify(v) ?? 'null'),
      fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 })).map((d) => new URLSearchParams(d).toString()),
      fc.constant('username=a&username=b&password=x&password=y'),
      fc.constant('{"email": "a@b.c", "password": '),
      fc.constant('--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nroot\r\n--x--'),
      fc.string({ maxLength: 500 }),
    ),
    { nil: undefined },
  ),
  authorization: fc.option(fc.oneof(credentialValue.map((v) => `Bearer ${v}`), credentialValue), { nil: undefined }),
  apiKey: fc.option(credentialValue, { nil: undefined }),
  cookie: fc.option(credentialValue.map((v) => `auth_token=${v}`), { nil: undefined }),
});

describe('fuzzing the auth routes', () => {
  let server: TestServer;
  let c: Client;
  let known: { email: string; password: string; id: string };
  let usersBefore: number;

  const countUsers = async () =>
    Number((await server.engram.store.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  before(async () => {
    server = await startTestServer({ env: { HTTP_BODY_LIMIT_BYTES: '16384' } });
    c = server.client();
    const email = uniqueEmail('known');
    const password = strongPassword();
    const { id } = await c.signUp(email, password);
    known = { email, password, id };
    usersBefore = await countUsers();
  });
  after(() => server.close());

  it('never a 5xx, never an authenticated answer without valid credentials, always an error envelope', async () => {
    let registered = 0;
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.authorization) headers.authorization = r.authorization;
        if (r.apiKey) headers['x-api-key'] = r.apiKey;
        if (r.cookie) headers.cookie = r.cookie;
        headers.origin = server.url;
        const path = r.route.path.replace('{id}', r.id);
        const withBody = r.route.method !== 'GET' && r.body !== undefined;
        const res = await c.request(r.route.method, path, { ...(withBody ? { raw: r.body! } : {}), headers, cookies: false });
        assert.ok(res.status < 500, `${r.route.method} ${path} → ${res.status} ${res.text.slice(0, 200)}`);
        if (res.status === 431) {
          // Node refuses headers over 16 KiB before any route runs; only then.
          const headerBytes = Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
          assert.ok(headerBytes > 16 * 1024 - 512, `431 with only ${headerBytes} header bytes`);
          return;
        }
        if (r.route.protected) {
          assert.ok(res.status === 401 || res.status === 400 || res.status === 404 || res.status === 413 || res.status === 415 || res.status === 431,
            `${r.route.method} ${path} without valid credentials → ${res.status} ${res.text.slice(0, 200)}`);
        }
        assert.ok(!res.text.includes(known.email) && !res.text.includes(known.id), 'no other user in the answer');
        if (r.route.path === '/api/v1/auth/login') {
          assert.ok(res.status === 400, `login → ${res.status}`);
          assert.deepEqual(res.body, { detail: 'LOGIN_BAD_CREDENTIALS' });
        }
        if (res.status >= 400) {
          assert.ok(res.body && typeof res.body === 'object', `error bodies are JSON: ${res.text.slice(0, 100)}`);
          assert.ok('detail' in res.body || 'error' in res.body, `error envelope: ${res.text.slice(0, 100)}`);
        }
        if (r.route.path === '/api/v1/auth/register' && res.status === 201) registered += 1;
      }),
      { numRuns: RUNS },
    );
    // Nothing half-written: every user has its principal and the count moved only by real registrations.
    const orphans = await sql<{ n: number }>`
      select count(*) as n from users u left join principals p on p.id = u.id where p.id is null`.execute(server.engram.store.db);
    assert.equal(Number(orphans.rows[0]!.n), 0);
    const dangling = await sql<{ n: number }>`
      select count(*) as n from principals p left join users u on u.id = p.id where p.type = 'user' and u.id is null`.execute(server.engram.store.db);
    assert.equal(Number(dangling.rows[0]!.n), 0);
    assert.equal(await countUsers(), usersBefore + registered);
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: known.email, password: known.password } })).status, 200);
  });

  it('bodies over the limit get 413 with an envelope, and the server keeps serving', async () => {
    for (const [contentType, body] of [
      ['application/json', JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(20000) })],
      ['application/x-www-form-urlencoded', `username=a&password=${'x'.repeat(20000)}`],
    ] as const) {
      const res = await c.request('POST', '/api/v1/auth/register', { raw: body, headers: { 'content-type': contentType } });
      assert.equal(res.status, 413);
      assert.equal(typeof res.body.detail, 'string');
    }
    const login = await c.request('POST', '/api/v1/auth/login', { raw: `username=a&password=${'x'.repeat(20000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual([login.status, login.body], [400, { detail: 'LOGIN_BAD_CREDENTIALS' }]);
    assert.equal((await c.get('/health')).status, 200);
  });

  it('malformed HTTP on raw sockets does not hurt the server', async () => {
    const { hostname, port } = new URL(server.url);
    const send = (payload: string, closeAfterMs = 300) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(port), hostname);
        let received = '';
        socket.on('data', (d) => (received += d.toString()));
        socket.on('error', () => resolve(received));
        socket.on('close', () => resolve(received));
        socket.write(payload);
        setTimeout(() => socket.destroy(), closeAfterMs);
      });
    const huge = await send(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431/);
    await send('POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"email":');
    const chunked = await send('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nZZ\r\nbad\r\n0\r\n\r\n');
    assert.match(chunked, /^HTTP\/1\.1 400/);
    await send('GARBAGE / HTTP/9.9\r\n\r\n');
    await send('GET /health HTTP/1.1\r\nHost: x\r\n', 50);
    assert.equal((await c.get('/health')).status, 200);
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: known.email, password: known.password } })).status, 200);
  });
});
