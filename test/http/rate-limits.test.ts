import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { eventually, startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';

/**
 * D9 brute force: per-address rate limits on login, register, forgot/reset-password and
 * verification (429 with Retry-After), the window, the account lockout that answers exactly like a
 * wrong password, the defaults, and limits and lockout shared by two instances through Redis.
 *
 * Client addresses are real: requests are sent from distinct loopback source addresses
 * (127.x.y.z, all of which reach a server bound to 127.0.0.1 on Linux), so each test has its own
 * per-address counters. That also keeps the Redis tests independent of other suites using the same
 * Redis (its keys share the fixed prefix `engram:rl:` and cannot be flushed).
 */
const BAD = { detail: 'LOGIN_BAD_CREDENTIALS' };
const TOO_MANY = { detail: 'Too many requests. Try again later.' };
const REDIS_URL = 'redis://127.0.0.1:6379';

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly body: any;
}

interface SendOptions {
  readonly form?: Record<string, string>;
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
  readonly bearer?: string;
}

/** A loopback address other than 127.0.0.1, unique enough to give a test its own counters. */
function randomLoopback(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

/** One HTTP request from the given local (client) address. */
function send(server: TestServer, from: string, method: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const target = new URL(server.url);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  let payload: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(options.form).toString();
  } else if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(options.json);
  }
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const request = http.request({ host: target.hostname, port: Number(target.port), method, path, headers, localAddress: from, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, body });
      });
    });
    request.on('error', reject);
    request.end(payload);
  });
}

const post = (server: TestServer, from: string, path: string, options: SendOptions) => send(server, from, 'POST', path, options);
const login = (server: TestServer, from: string, username: string, password: string) =>
  post(server, from, '/api/v1/auth/login', { form: { username, password } });

/** The exact 429 answer, with a Retry-After of whole seconds between 1 and the window. */
function assertLimited(res: Reply, windowSeconds: number, label: string): number {
  assert.deepEqual([res.status, res.body], [429, TOO_MANY], `${label}: ${res.status} ${res.text}`);
  const retryAfter = res.headers['retry-after'];
  assert.match(String(retryAfter), /^[1-9][0-9]*$/, `${label}: Retry-After ${retryAfter}`);
  assert.ok(Number(retryAfter) <= windowSeconds, `${label}: Retry-After ${retryAfter} exceeds the ${windowSeconds} s window`);
  assert.equal(res.headers['set-cookie'], undefined, `${label}: a limited answer sets no cookie`);
  return Number(retryAfter);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function register(server: TestServer, prefix: string): Promise<{ email: string; password: string; id: string }> {
  const email = uniqueEmail(prefix);
  const password = strongPassword();
  const res = await post(server, randomLoopback(), '/api/v1/auth/register', { json: { email, password } });
  assert.equal(res.status, 201, res.text);
  return { email, password, id: res.body.id };
}

/** A completed password reset (forgot-password, the token written to the log, reset-password); returns the new password. */
async function resetPassword(server: TestServer, account: { email: string; id: string }): Promise<string> {
  const prefix = `User ${account.id} has forgot their password. Reset token: `;
  const before = server.logs.messages().filter((m) => m.startsWith(prefix)).length;
  assert.equal((await post(server, randomLoopback(), '/api/v1/auth/forgot-password', { json: { email: account.email } })).status, 202);
  await eventually(async () => server.logs.messages().filter((m) => m.startsWith(prefix)).length > before, 15_000);
  const token = server.logs
    .messages()
    .filter((m) => m.startsWith(prefix))
    .at(-1)!
    .slice(prefix.length);
  const password = strongPassword();
  const res = await post(server, randomLoopback(), '/api/v1/auth/reset-password', { json: { token, password } });
  assert.equal(res.status, 200, res.text);
  return password;
}

// ------------------------------------------------------------------------------------------------

describe('D9: per-address rate limits (in-process counters)', () => {
  // Seconds; long enough that the requests a test makes within one window fit in it on a loaded machine.
  const WINDOW = 8;
  const LIMITS = { login: 3, register: 2, forgot: 2, verify: 2 };
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      env: {
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_WINDOW_SECONDS: String(WINDOW),
        RATE_LIMIT_LOGIN: String(LIMITS.login),
        RATE_LIMIT_REGISTER: String(LIMITS.register),
        RATE_LIMIT_FORGOT_PASSWORD: String(LIMITS.forgot),
        RATE_LIMIT_VERIFY: String(LIMITS.verify),
      },
    });
  });
  after(() => server.close());

  /** Each route: its limit, a request, and the exact answer it gets while within the limit. */
  const routes: {
    name: string;
    limit: () => number;
    request: (from: string) => Promise<Reply>;
    within: (res: Reply) => void;
  }[] = [
    {
      name: 'login',
      limit: () => LIMITS.login,
      request: (from) => login(server, from, uniqueEmail('nobody'), 'not-the-password'),
      within: (res) => assert.deepEqual([res.status, res.body], [400, BAD]),
    },
    {
      name: 'register',
      limit: () => LIMITS.register,
      request: (from) => post(server, from, '/api/v1/auth/register', { json: { email: uniqueEmail('reg'), password: strongPassword() } }),
      within: (res) => assert.equal(res.status, 201, res.text),
    },
    {
      name: 'forgot-password',
      limit: () => LIMITS.forgot,
      request: (from) => post(server, from, '/api/v1/auth/forgot-password', { json: { email: uniqueEmail('forgot') } }),
      within: (res) => assert.deepEqual([res.status, res.text], [202, 'null']),
    },
    {
      name: 'reset-password',
      limit: () => LIMITS.forgot,
      request: (from) => post(server, from, '/api/v1/auth/reset-password', { json: { token: 'not-a-token', password: strongPassword() } }),
      within: (res) => assert.deepEqual([res.status, res.body], [400, { detail: 'RESET_PASSWORD_BAD_TOKEN' }]),
    },
    {
      name: 'request-verify-token',
      limit: () => LIMITS.verify,
      request: (from) => post(server, from, '/api/v1/auth/request-verify-token', { json: { email: uniqueEmail('rvt') } }),
      within: (res) => assert.deepEqual([res.status, res.text], [202, 'null']),
    },
    {
      name: 'verify',
      limit: () => LIMITS.verify,
      request: (from) => post(server, from, '/api/v1/auth/verify', { json: { token: 'not-a-token' } }),
      within: (res) => assert.deepEqual([res.status, res.body], [400, { detail: 'VERIFY_USER_BAD_TOKEN' }]),
    },
  ];

  for (const route of routes) {
    it(`D9: ${route.name} answers 429 {"detail"} with Retry-After past its limit, for that client address only`, async () => {
      const from = randomLoopback();
      for (let i = 1; i <= route.limit(); i++) route.within(await route.request(from));
      assertLimited(await route.request(from), WINDOW, `${route.name} #${route.limit() + 1}`);
      assertLimited(await route.request(from), WINDOW, `${route.name} #${route.limit() + 2}`);
      // Another client address still has its whole budget.
      const other = randomLoopback();
      for (let i = 1; i <= route.limit(); i++) route.within(await route.request(other));
    });
  }

  it('D9: request-verify-token and verify count in one bucket per address', async () => {
    const from = randomLoopback();
    const verify = routes.find((r) => r.name === 'verify')!;
    const requestToken = routes.find((r) => r.name === 'request-verify-token')!;
    for (let i = 1; i <= LIMITS.verify; i++) {
      const route = i % 2 === 1 ? verify : requestToken;
      route.within(await route.request(from));
    }
    assertLimited(await verify.request(from), WINDOW, 'verify past the shared limit');
    assertLimited(await requestToken.request(from), WINDOW, 'request-verify-token past the shared limit');
  });

  it('D9: a login that is refused before any check (JSON body, invalid form) does not count', async () => {
    const from = randomLoopback();
    for (let i = 0; i < LIMITS.login + 2; i++) {
      const json = await post(server, from, '/api/v1/auth/login', { json: { username: uniqueEmail('json'), password: 'nope-nope' } });
      assert.deepEqual([json.status, json.body], [400, BAD], `JSON login #${i + 1}`);
      const invalid = await post(server, from, '/api/v1/auth/login', { form: { username: uniqueEmail('form') } });
      assert.deepEqual([invalid.status, invalid.body], [400, BAD], `form without a password #${i + 1}`);
    }
    for (let i = 0; i < LIMITS.login; i++) assert.deepEqual((await login(server, from, uniqueEmail('f'), 'nope-nope')).body, BAD);
    assertLimited(await login(server, from, uniqueEmail('f'), 'nope-nope'), WINDOW, 'the whole budget was left for form logins');
  });

  it('D9: past the login limit even the right password is refused with 429, and no session is issued', async () => {
    const account = await register(server, 'limited');
    const from = randomLoopback();
    const first = await login(server, from, account.email, account.password);
    assert.equal(first.status, 200, 'a successful login counts as a request');
    for (let i = 1; i < LIMITS.login; i++) assert.deepEqual((await login(server, from, account.email, 'wrong-password')).body, BAD);
    assertLimited(await login(server, from, account.email, account.password), WINDOW, 'right password past the limit');
    const elsewhere = await login(server, randomLoopback(), account.email, account.password);
    assert.equal(elsewhere.status, 200, 'the same account logs in from another address');
  });

  it('D9: a limited registration creates nothing; a limited forgot-password issues no reset token', async () => {
    const from = randomLoopback();
    for (let i = 0; i < LIMITS.register; i++) {
      assert.equal((await post(server, from, '/api/v1/auth/register', { json: { email: uniqueEmail('fill'), password: strongPassword() } })).status, 201);
    }
    const email = uniqueEmail('blocked');
    const password = strongPassword();
    assertLimited(await post(server, from, '/api/v1/auth/register', { json: { email, password } }), WINDOW, 'register');
    const later = await post(server, randomLoopback(), '/api/v1/auth/register', { json: { email, password } });
    assert.equal(later.status, 201, `the limited attempt did not create the account: ${later.text}`);

    const resetLine = `User ${later.body.id} has forgot their password. Reset token: `;
    const resetLines = () => server.logs.messages().filter((m) => m.startsWith(resetLine)).length;
    const from2 = randomLoopback();
    for (let i = 0; i < LIMITS.forgot; i++) {
      assert.equal((await post(server, from2, '/api/v1/auth/forgot-password', { json: { email: uniqueEmail('fill') } })).status, 202);
    }
    assertLimited(await post(server, from2, '/api/v1/auth/forgot-password', { json: { email } }), WINDOW, 'forgot-password');
    assert.equal((await post(server, randomLoopback(), '/api/v1/auth/forgot-password', { json: { email } })).status, 202);
    await eventually(async () => resetLines() === 1);
    await sleep(100);
    assert.equal(resetLines(), 1, 'only the request within the limit issued a reset token');
  });

  it('D9: the window expires and the same address gets a fresh budget', async () => {
    const from = randomLoopback();
    for (let i = 0; i < LIMITS.login; i++) assert.deepEqual((await login(server, from, uniqueEmail('w'), 'nope-nope')).body, BAD);
    const retryAfter = assertLimited(await login(server, from, uniqueEmail('w'), 'nope-nope'), WINDOW, 'login');
    await sleep(retryAfter * 1000 + 150);
    for (let i = 0; i < LIMITS.login; i++) {
      const res = await login(server, from, uniqueEmail('w'), 'nope-nope');
      assert.deepEqual([res.status, res.body], [400, BAD], `after the window, request ${i + 1}`);
    }
    assertLimited(await login(server, from, uniqueEmail('w'), 'nope-nope'), WINDOW, 'the new window has the same limit');
  });

  it('D9: authenticated API use is not limited by an exhausted login budget', async () => {
    const account = await register(server, 'api-user');
    const from = randomLoopback();
    const token = (await login(server, from, account.email, account.password)).body.access_token as string;
    for (let i = 1; i < LIMITS.login; i++) await login(server, from, uniqueEmail('z'), 'nope-nope');
    assertLimited(await login(server, from, uniqueEmail('z'), 'nope-nope'), WINDOW, 'login');
    for (let i = 0; i < 25; i++) {
      const me = await send(server, from, 'GET', '/api/v1/auth/me', { bearer: token });
      assert.deepEqual([me.status, me.body], [200, { email: account.email }]);
    }
    for (let i = 0; i < 25; i++) assert.equal((await send(server, from, 'GET', '/health')).status, 200);
  });
});

describe('D9: limits behind trusted proxies (TRUST_PROXY)', () => {
  const LIMIT = 2;
  const env = (trustProxy: string) => ({
    RATE_LIMIT_ENABLED: 'true',
    TRUST_PROXY: trustProxy,
    RATE_LIMIT_LOGIN: String(LIMIT),
    RATE_LIMIT_WINDOW_SECONDS: '30',
  });
  let noProxy: TestServer;
  let oneHop: TestServer;
  let twoHops: TestServer;
  let listed: TestServer;
  /** Proxies trusted by `listed`: one loopback range the test connects from, and an inner proxy range. */
  const PROXY_RANGE = '127.77';
  const INNER_PROXY = '203.0.113.5';
  before(async () => {
    noProxy = await startTestServer({ env: env('') });
    // The first failure locks (the lockout test below); every other test here logs in to unknown accounts.
    oneHop = await startTestServer({ env: { ...env('true'), LOGIN_LOCKOUT_THRESHOLD: '1' } });
    twoHops = await startTestServer({ env: env('2') });
    listed = await startTestServer({ env: env(`${PROXY_RANGE}.0.0/16, 203.0.113.0/24`) });
  });
  after(async () => {
    await noProxy?.close();
    await oneHop?.close();
    await twoHops?.close();
    await listed?.close();
  });

  /** A client address no other request of this suite uses. */
  let clients = 0;
  const client = () => `198.51.100.${++clients}`;
  const forged = (i: number) => `1.2.3.${i + 1}`;
  const viaProxy = (server: TestServer, proxy: string, forwardedFor: string) =>
    post(server, proxy, '/api/v1/auth/login', { form: { username: uniqueEmail('p'), password: 'nope-nope' }, headers: { 'x-forwarded-for': forwardedFor } });

  it('D9: without TRUST_PROXY a forged X-Forwarded-For does not give a fresh budget', async () => {
    const from = randomLoopback();
    for (let i = 0; i < LIMIT; i++) assert.deepEqual((await viaProxy(noProxy, from, forged(i))).body, BAD);
    assertLimited(await viaProxy(noProxy, from, forged(99)), 30, 'spoofed X-Forwarded-For');
  });

  it('D9: TRUST_PROXY=true is one hop: the limit applies per forwarded client address, all through one proxy connection address', async () => {
    const proxy = randomLoopback();
    const a = client();
    const b = `2001:db8::${randomInt(1, 0xffff).toString(16)}`;
    assert.deepEqual((await viaProxy(oneHop, proxy, a)).body, BAD);
    assert.deepEqual((await viaProxy(oneHop, proxy, a)).body, BAD);
    assertLimited(await viaProxy(oneHop, proxy, a), 30, 'client a');
    assert.deepEqual((await viaProxy(oneHop, proxy, b)).body, BAD, 'client b has its own budget');
    assert.deepEqual((await viaProxy(oneHop, proxy, b)).body, BAD);
    assertLimited(await viaProxy(oneHop, proxy, b), 30, 'client b');
  });

  it("D9: TRUST_PROXY=true: a client's own X-Forwarded-For (kept by the proxy, which appends the real address) does not choose its address", async () => {
    const proxy = randomLoopback();
    const real = client();
    // The client sends `X-Forwarded-For: 1.2.3.x`; the proxy appends the address it saw.
    for (let i = 0; i < LIMIT; i++) assert.deepEqual((await viaProxy(oneHop, proxy, `${forged(i)}, ${real}`)).body, BAD);
    assertLimited(await viaProxy(oneHop, proxy, `${forged(99)}, ${real}`), 30, 'a new forged address does not give a fresh budget');
    assertLimited(await viaProxy(oneHop, proxy, `${forged(0)},${forged(1)}, ${real}`), 30, 'nor several');
  });

  it('D9: the lockout counts per client address as TRUST_PROXY resolves it, not per forged X-Forwarded-For', async () => {
    const target = await register(oneHop, 'proxied');
    const proxy = randomLoopback();
    const attacker = client();
    const signIn = (forwardedFor: string, password: string) =>
      post(oneHop, proxy, '/api/v1/auth/login', { form: { username: target.email, password }, headers: { 'x-forwarded-for': forwardedFor } });
    assert.deepEqual((await signIn(`${forged(0)}, ${attacker}`, 'wrong-password')).body, BAD);
    assert.deepEqual((await signIn(`${forged(1)}, ${attacker}`, target.password)).body, BAD, 'the attacker is locked, whatever it forges');
    const owner = await signIn(`${forged(0)}, ${client()}`, target.password);
    assert.equal(owner.status, 200, `another client behind the same proxy is not: ${owner.text}`);
  });

  it('D9: TRUST_PROXY=2 takes the address two hops in (the right-most untrusted one)', async () => {
    const proxy = randomLoopback();
    const outerProxy = `192.0.2.${randomInt(1, 255)}`;
    const real = client();
    for (let i = 0; i < LIMIT; i++) assert.deepEqual((await viaProxy(twoHops, proxy, `${forged(i)}, ${real}, ${outerProxy}`)).body, BAD);
    assertLimited(await viaProxy(twoHops, proxy, `${forged(99)}, ${real}, ${outerProxy}`), 30, 'forged left-most address');
    // The outer proxy's address is trusted, not the client: another client behind it has its own budget.
    assert.deepEqual((await viaProxy(twoHops, proxy, `${client()}, ${outerProxy}`)).body, BAD, 'another client through the same proxies');
  });

  it('D9: with a list of proxies only the listed hops are skipped', async () => {
    const proxy = `${PROXY_RANGE}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const real = client();
    for (let i = 0; i < LIMIT; i++) assert.deepEqual((await viaProxy(listed, proxy, `${forged(i)}, ${real}, ${INNER_PROXY}`)).body, BAD);
    assertLimited(await viaProxy(listed, proxy, `${forged(99)}, ${real}, ${INNER_PROXY}`), 30, 'forged left-most address behind listed proxies');
    assert.deepEqual((await viaProxy(listed, proxy, `${client()}, ${INNER_PROXY}`)).body, BAD, 'another client behind the same proxies');

    // An unlisted hop in the chain is the client as far as the server can tell.
    const unlistedHop = `192.0.2.${randomInt(1, 255)}`;
    for (let i = 0; i < LIMIT; i++) assert.deepEqual((await viaProxy(listed, proxy, `${client()}, ${unlistedHop}, ${INNER_PROXY}`)).body, BAD);
    assertLimited(await viaProxy(listed, proxy, `${client()}, ${unlistedHop}, ${INNER_PROXY}`), 30, 'an unlisted hop is the client');

    // A connection from an unlisted address: its X-Forwarded-For is ignored altogether.
    const direct = `127.78.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    for (let i = 0; i < LIMIT; i++) assert.deepEqual((await viaProxy(listed, direct, client())).body, BAD);
    assertLimited(await viaProxy(listed, direct, client()), 30, 'X-Forwarded-For from an unlisted address');
  });
});

describe('D9: RATE_LIMIT_ENABLED=false turns the limits off', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_LOGIN: '1', RATE_LIMIT_REGISTER: '1' } });
  });
  after(() => server.close());

  it('no 429 however many requests one address sends', async () => {
    const from = randomLoopback();
    for (let i = 0; i < 6; i++) assert.deepEqual((await login(server, from, uniqueEmail('off'), 'nope-nope')).body, BAD);
    for (let i = 0; i < 3; i++) {
      assert.equal((await post(server, from, '/api/v1/auth/register', { json: { email: uniqueEmail('off'), password: strongPassword() } })).status, 201);
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('D9: account lockout (in-process counters)', () => {
  const THRESHOLD = 3;
  // Longer than any test here takes on a loaded machine (the expiry has its own server below).
  const LOCK_SECONDS = 300;
  let server: TestServer;
  /** Every e-mail and password used here: none may reach the log. */
  const secrets: string[] = [];
  before(async () => {
    server = await startTestServer({
      env: {
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_LOGIN: '1000',
        LOGIN_LOCKOUT_THRESHOLD: String(THRESHOLD),
        LOGIN_LOCKOUT_SECONDS: String(LOCK_SECONDS),
      },
    });
  });
  after(() => server.close());

  async function account(prefix: string) {
    const a = await register(server, prefix);
    secrets.push(a.email, a.password);
    return a;
  }
  const wrong = (i: number) => {
    const password = `wrong-password-${i}-${randomInt(1e9)}`;
    secrets.push(password);
    return password;
  };
  /** The parts of an answer a client can observe, except the date and connection handling. */
  const observable = (res: Reply) => {
    const headers = { ...res.headers };
    for (const name of ['date', 'connection', 'keep-alive', 'transfer-encoding']) delete headers[name];
    return { status: res.status, text: res.text, headers };
  };

  it('D9: after LOGIN_LOCKOUT_THRESHOLD wrong passwords even the right one gets 400 LOGIN_BAD_CREDENTIALS, identical to a wrong password', async () => {
    const target = await account('locked');
    const from = randomLoopback();
    const wrongAnswers: Reply[] = [];
    for (let i = 0; i < THRESHOLD; i++) wrongAnswers.push(await login(server, from, target.email, wrong(i)));
    for (const res of wrongAnswers) assert.deepEqual([res.status, res.body], [400, BAD]);
    const locked = await login(server, from, target.email, target.password);
    assert.deepEqual([locked.status, locked.body], [400, BAD], 'the right password while locked');
    assert.deepEqual(observable(locked), observable(wrongAnswers[0]!), 'a lock is indistinguishable from a wrong password');
    assert.deepEqual(observable(locked), observable(await login(server, from, uniqueEmail('unknown'), 'whatever-pw')), 'and from an unknown account');
    assert.equal(locked.headers['retry-after'], undefined, 'no Retry-After hints at a lock');
    // The lock holds for that address whatever the spelling of the e-mail.
    assert.deepEqual((await login(server, from, target.email.toUpperCase(), target.password)).body, BAD, 'upper-cased e-mail');
  });

  it('D9: a lock shuts out only the address that failed: the owner logs in from another address, the failing address stays locked', async () => {
    const target = await account('not-locked-out');
    const attacker = randomLoopback();
    for (let i = 0; i < THRESHOLD; i++) assert.deepEqual((await login(server, attacker, target.email, wrong(i))).body, BAD);
    const owner = await login(server, randomLoopback(), target.email, target.password);
    assert.equal(owner.status, 200, `the owner is not locked out by someone else's failures: ${owner.text}`);
    assert.equal(owner.body.token_type, 'bearer');
    assert.deepEqual((await login(server, attacker, target.email, target.password)).body, BAD, 'the failing address is still locked');
  });

  it('D9: a completed password reset lifts the locks and clears the failure counts of the account, from every address', async () => {
    const target = await account('reset-lifts');
    const lockedOut = randomLoopback();
    const near = randomLoopback();
    for (let i = 0; i < THRESHOLD; i++) await login(server, lockedOut, target.email, wrong(i));
    for (let i = 0; i < THRESHOLD - 1; i++) await login(server, near, target.email, wrong(i));
    assert.deepEqual((await login(server, lockedOut, target.email, target.password)).body, BAD, 'locked before the reset');

    const password = await resetPassword(server, target);
    secrets.push(password);
    const after = await login(server, lockedOut, target.email, password);
    assert.equal(after.status, 200, `the lock is lifted by the reset: ${after.text}`);
    // The address that was one failure short starts from zero: one more failure does not lock it.
    assert.deepEqual((await login(server, near, target.email, wrong(0))).body, BAD);
    assert.equal((await login(server, near, target.email, password)).status, 200, 'the failure count was cleared');
  });

  it('D9: a locked account costs a full password check (the lock does not show in the timing)', async () => {
    const target = await account('timing-locked');
    const bystander = await account('timing-other');
    const from = randomLoopback();
    for (let i = 0; i < THRESHOLD; i++) await login(server, from, target.email, wrong(i));
    const lockedMs: number[] = [];
    const wrongMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t0 = performance.now();
      assert.deepEqual((await login(server, from, target.email, target.password)).body, BAD);
      lockedMs.push(performance.now() - t0);
      t0 = performance.now();
      assert.deepEqual((await login(server, from, bystander.email, wrong(i))).body, BAD);
      wrongMs.push(performance.now() - t0);
      // A success resets the bystander's count, so it never locks.
      assert.equal((await login(server, from, bystander.email, bystander.password)).status, 200);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    assert.ok(
      median(lockedMs) >= median(wrongMs) / 3,
      `locked answers (median ${median(lockedMs).toFixed(1)} ms) are not much faster than wrong passwords (median ${median(wrongMs).toFixed(1)} ms)`,
    );
  });

  it('D9: a lock leaves other accounts alone, and fewer failures than the threshold lock nothing', async () => {
    const target = await account('lock-target');
    const other = await account('lock-bystander');
    const near = await account('lock-near');
    const from = randomLoopback();
    for (let i = 0; i < THRESHOLD; i++) await login(server, from, target.email, wrong(i));
    for (let i = 0; i < THRESHOLD - 1; i++) await login(server, from, near.email, wrong(i));
    assert.deepEqual((await login(server, from, target.email, target.password)).body, BAD, 'the target is locked');
    const ok = await login(server, from, other.email, other.password);
    assert.equal(ok.status, 200, 'another account from the same address is unaffected');
    assert.equal(ok.body.token_type, 'bearer');
    assert.equal((await login(server, from, near.email, near.password)).status, 200, `${THRESHOLD - 1} failures do not lock`);
  });

  it('D9: a successful login resets the failure count', async () => {
    const target = await account('reset-count');
    const from = randomLoopback();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < THRESHOLD - 1; i++) assert.deepEqual((await login(server, from, target.email, wrong(i))).body, BAD);
      assert.equal((await login(server, from, target.email, target.password)).status, 200, `round ${round}: still unlocked`);
    }
    // Control: without a success in between, the same number of failures does lock.
    for (let i = 0; i < THRESHOLD; i++) await login(server, from, target.email, wrong(i));
    assert.deepEqual((await login(server, from, target.email, target.password)).body, BAD);
  });

  it('D9: failures on an unknown account are counted like those on a known one (the same work, the same lock)', async () => {
    const events = () => server.logs.lines.filter((l) => l.event === 'account-locked').length;
    const before = events();
    const from = randomLoopback();
    const nobody = uniqueEmail('nobody');
    secrets.push(nobody);
    for (let i = 0; i < THRESHOLD - 1; i++) assert.deepEqual((await login(server, from, nobody, wrong(i))).body, BAD);
    assert.equal(events(), before, 'fewer failures than the threshold lock nothing');
    assert.deepEqual((await login(server, from, nobody, wrong(THRESHOLD))).body, BAD);
    assert.equal(events(), before + 1, 'the threshold locks an unknown account as it would a known one');
  });

  it('D9: lockout events are logged without the e-mail or any password', () => {
    const events = server.logs.lines.filter((l) => l.event === 'account-locked');
    // One lock per test above: the first, the other-address, the reset, the timing, the bystander, the
    // reset-count control and the unknown-account tests.
    assert.equal(events.length, 7);
    for (const event of events) assert.equal(event.msg, 'account temporarily locked after repeated failed logins');
    const text = server.logs.text().toLowerCase();
    for (const secret of secrets) assert.ok(!text.includes(secret.toLowerCase()), `the log holds ${secret}`);
  });
});

describe('D9: a lock expires (in-process counters)', () => {
  const THRESHOLD = 3;
  // Long enough that the failures and the check right after the lock fit in it on a loaded machine.
  const LOCK_SECONDS = 8;
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '1000', LOGIN_LOCKOUT_THRESHOLD: String(THRESHOLD), LOGIN_LOCKOUT_SECONDS: String(LOCK_SECONDS) },
    });
  });
  after(() => server.close());
  const wrong = (i: number) => `wrong-password-${i}-${randomInt(1e9)}`;

  it('D9: the lock expires after LOGIN_LOCKOUT_SECONDS and the count starts again', async () => {
    const target = await register(server, 'expiry');
    const from = randomLoopback();
    for (let i = 0; i < THRESHOLD; i++) await login(server, from, target.email, wrong(i));
    assert.deepEqual((await login(server, from, target.email, target.password)).body, BAD);
    await sleep(LOCK_SECONDS * 1000 + 200);
    assert.deepEqual((await login(server, from, target.email, wrong(0))).body, BAD);
    const res = await login(server, from, target.email, target.password);
    assert.equal(res.status, 200, `one failure after the lock does not lock again: ${res.text}`);
  });
});

describe('D9: defaults', () => {
  it('D9: the default lockout threshold (10) locks well before 30 failures; the defaults are the documented ones', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'engram-defaults-'));
    try {
      const { rateLimit } = loadConfig({}, cwd).auth;
      assert.deepEqual(rateLimit, {
        enabled: true,
        windowSeconds: 60,
        login: 20,
        register: 10,
        forgotPassword: 5,
        verify: 10,
        lockoutThreshold: 10,
        lockoutSeconds: 900,
      });
      assert.ok(rateLimit.lockoutThreshold < 30);
      assert.throws(
        () => loadConfig({ LOGIN_LOCKOUT_THRESHOLD: '30' }, cwd),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.variable, 'LOGIN_LOCKOUT_THRESHOLD');
          return true;
        },
      );
      assert.equal(loadConfig({ LOGIN_LOCKOUT_THRESHOLD: '29' }, cwd).auth.rateLimit.lockoutThreshold, 29);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
    const row = (name: string) => readme.split('\n').find((line) => line.startsWith(`| \`${name}\``));
    assert.match(row('RATE_LIMIT_ENABLED') ?? '', /\| `true` \|/);
    assert.match(row('RATE_LIMIT_WINDOW_SECONDS') ?? '', /\| `60` \|/);
    assert.match(row('RATE_LIMIT_LOGIN') ?? '', /\| `20` \/ `10` \/ `5` \/ `10` \|/);
    assert.match(row('LOGIN_LOCKOUT_THRESHOLD') ?? '', /\| `10` \/ `900` \|/);
  });

  it('D9: with the default threshold, 10 wrong passwords lock the account and 9 do not', async () => {
    const server = await startTestServer({ env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '1000' } });
    try {
      const target = await register(server, 'default-threshold');
      const from = randomLoopback();
      for (let i = 0; i < 9; i++) await login(server, from, target.email, `wrong-password-${i}`);
      assert.equal((await login(server, from, target.email, target.password)).status, 200, '9 failures do not lock');
      for (let i = 0; i < 10; i++) await login(server, from, target.email, `wrong-password-${i}`);
      assert.deepEqual((await login(server, from, target.email, target.password)).body, BAD, '10 failures lock');
    } finally {
      await server.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('D9: per-address limits shared by two instances through Redis (REDIS_URL)', () => {
  // Seconds; long enough that the requests a test makes within one window fit in it on a loaded machine.
  const WINDOW = 8;
  const LOGIN_LIMIT = 4;
  const THRESHOLD = 3;
  const LOCK_SECONDS = 2;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const env = {
      RATE_LIMIT_ENABLED: 'true',
      REDIS_URL,
      RATE_LIMIT_WINDOW_SECONDS: String(WINDOW),
      RATE_LIMIT_LOGIN: String(LOGIN_LIMIT),
      LOGIN_LOCKOUT_THRESHOLD: String(THRESHOLD),
      LOGIN_LOCKOUT_SECONDS: String(LOCK_SECONDS),
    };
    a = await startTestServer({ env });
    // Same relational store (same SQLite file, or same PostgreSQL database), same Redis.
    b = await startTestServer({ env, root: a.root, dbEnv: a.dbEnv });
    assert.ok(a.logs.find(/shared through Redis/), 'instance A counts in Redis');
    assert.ok(b.logs.find(/shared through Redis/), 'instance B counts in Redis');
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('D9: N/2 logins on A and N/2+1 on B from one address: the last is 429; the window then expires on both', async () => {
    const from = randomLoopback();
    const attempt = (server: TestServer) => login(server, from, uniqueEmail('shared'), 'nope-nope');
    for (let i = 0; i < LOGIN_LIMIT / 2; i++) assert.deepEqual((await attempt(a)).body, BAD, `A #${i + 1}`);
    for (let i = 0; i < LOGIN_LIMIT / 2; i++) assert.deepEqual((await attempt(b)).body, BAD, `B #${i + 1}`);
    const retryAfter = assertLimited(await attempt(b), WINDOW, `B #${LOGIN_LIMIT / 2 + 1}`);
    assertLimited(await attempt(a), WINDOW, 'A is over the shared limit too');
    assert.deepEqual((await login(b, randomLoopback(), uniqueEmail('x'), 'nope-nope')).body, BAD, 'another address is not limited');
    await sleep(retryAfter * 1000 + 150);
    assert.deepEqual((await attempt(a)).body, BAD, 'A after the window');
    assert.deepEqual((await attempt(b)).body, BAD, 'B after the window');
  });
});

describe('D9: the lockout shared by two instances through Redis (REDIS_URL)', () => {
  const THRESHOLD = 3;
  // Long enough that a test's checks made right after a lock fall within it on a loaded machine.
  const LOCK_SECONDS = 8;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const env = {
      RATE_LIMIT_ENABLED: 'true',
      REDIS_URL,
      RATE_LIMIT_LOGIN: '1000',
      LOGIN_LOCKOUT_THRESHOLD: String(THRESHOLD),
      LOGIN_LOCKOUT_SECONDS: String(LOCK_SECONDS),
    };
    a = await startTestServer({ env });
    b = await startTestServer({ env, root: a.root, dbEnv: a.dbEnv });
    assert.ok(a.logs.find(/shared through Redis/), 'instance A counts in Redis');
    assert.ok(b.logs.find(/shared through Redis/), 'instance B counts in Redis');
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('D9: a lock made through A holds on B for that address only; failures on both instances add up; it expires on both', async () => {
    const target = await register(a, 'redis-lock');
    const attacker = randomLoopback();
    for (let i = 0; i < THRESHOLD; i++) assert.deepEqual((await login(a, attacker, target.email, `wrong-${i}-pw`)).body, BAD);
    assert.deepEqual((await login(b, attacker, target.email, target.password)).body, BAD, 'locked on B');
    assert.deepEqual((await login(a, attacker, target.email, target.password)).body, BAD, 'locked on A');
    assert.equal((await login(b, randomLoopback(), target.email, target.password)).status, 200, 'the owner logs in from another address on B');
    assert.equal((await login(a, randomLoopback(), target.email, target.password)).status, 200, 'and on A');

    const mixed = await register(b, 'redis-mixed');
    const from = randomLoopback();
    for (let i = 0; i < THRESHOLD - 1; i++) await login(a, from, mixed.email, `wrong-${i}-pw`);
    await login(b, from, mixed.email, 'wrong-last-pw');
    assert.deepEqual((await login(a, from, mixed.email, mixed.password)).body, BAD, 'failures on A and B count together');

    await sleep(LOCK_SECONDS * 1000 + 200);
    assert.equal((await login(b, attacker, target.email, target.password)).status, 200, 'the lock expired on B');
    assert.equal((await login(a, from, mixed.email, mixed.password)).status, 200, 'and on A');
  });

  it('D9: a successful login on B resets the failure count made on A from the same address', async () => {
    const target = await register(a, 'redis-reset');
    const from = randomLoopback();
    for (let i = 0; i < THRESHOLD - 1; i++) await login(a, from, target.email, `wrong-${i}-pw`);
    assert.equal((await login(b, from, target.email, target.password)).status, 200);
    for (let i = 0; i < THRESHOLD - 1; i++) await login(a, from, target.email, `wrong-${i}-pw`);
    assert.equal((await login(a, from, target.email, target.password)).status, 200, 'not locked: the count restarted');
  });

  it('D9: a password reset on B lifts a lock made on A', async () => {
    const target = await register(a, 'redis-relock');
    const from = randomLoopback();
    for (let i = 0; i < THRESHOLD; i++) await login(a, from, target.email, `wrong-${i}-pw`);
    assert.deepEqual((await login(b, from, target.email, target.password)).body, BAD, 'locked');
    const password = await resetPassword(b, target);
    assert.equal((await login(a, from, target.email, password)).status, 200, 'the reset lifted the lock on A too');
  });

  it('D9: lockout events through Redis are logged without the e-mail', () => {
    const events = [...a.logs.lines, ...b.logs.lines].filter((l) => l.event === 'account-locked');
    assert.equal(events.length, 3);
    const text = a.logs.text() + b.logs.text();
    assert.ok(!/redis-(lock|mixed|reset|relock)-/.test(text), 'no e-mail of this suite is in the logs');
  });
});
