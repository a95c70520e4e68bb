import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/index.js';
import { startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';

/** D9: per-address rate limits with Retry-After, and a lockout that reveals nothing. */
const BAD = { detail: 'LOGIN_BAD_CREDENTIALS' };

describe('D9: rate limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      env: {
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_WINDOW_SECONDS: '2',
        RATE_LIMIT_LOGIN: '3',
        RATE_LIMIT_REGISTER: '2',
        RATE_LIMIT_FORGOT_PASSWORD: '2',
        RATE_LIMIT_VERIFY: '2',
      },
    });
  });
  after(() => server.close());

  async function exhaust(send: () => Promise<{ status: number; headers: Headers; body: any }>, limit: number) {
    for (let i = 0; i < limit; i++) assert.notEqual((await send()).status, 429, `request ${i + 1} is within the limit`);
    const limited = await send();
    assert.equal(limited.status, 429);
    assert.equal(typeof limited.body.detail, 'string');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 2, `Retry-After ${limited.headers.get('retry-after')}`);
  }

  it('D9: login, register, forgot-password, reset-password, request-verify-token and verify answer 429 with Retry-After past the limit', async () => {
    const c = server.client();
    await exhaust(() => c.post('/api/v1/auth/login', { form: { username: uniqueEmail('x'), password: 'wrong-password' } }), 3);
    await exhaust(() => c.post('/api/v1/auth/register', { json: { email: uniqueEmail('r'), password: strongPassword() } }), 2);
    await exhaust(() => c.post('/api/v1/auth/forgot-password', { json: { email: uniqueEmail('f') } }), 2);
    await exhaust(() => c.post('/api/v1/auth/reset-password', { json: { token: 'x', password: strongPassword() } }), 2);
    await exhaust(() => c.post('/api/v1/auth/verify', { json: { token: 'x' } }), 2);
    // request-verify-token shares the verification bucket.
    const shared = await c.post('/api/v1/auth/request-verify-token', { json: { email: uniqueEmail('v') } });
    assert.equal(shared.status, 429);
  });

  it('D9: the window expires and requests pass again; other routes are not limited', async () => {
    const c = server.client();
    await new Promise((r) => setTimeout(r, 2100));
    const email = uniqueEmail('window');
    const password = strongPassword();
    assert.equal((await c.post('/api/v1/auth/register', { json: { email, password } })).status, 201);
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: email, password } })).status, 200);
    for (let i = 0; i < 20; i++) assert.equal((await c.get('/health')).status, 200);
  });
});

describe('D9: account lockout', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      env: {
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_LOGIN: '1000',
        LOGIN_LOCKOUT_THRESHOLD: '4',
        LOGIN_LOCKOUT_SECONDS: '2',
      },
    });
  });
  after(() => server.close());

  it('D9: the default threshold locks well before 30 failures', () => {
    const config = loadConfig({}, process.cwd());
    assert.ok(config.auth.rateLimit.lockoutThreshold <= 10);
    assert.ok(config.auth.rateLimit.lockoutSeconds >= 60);
  });

  it('D9: after the threshold even the right password gets the same LOGIN_BAD_CREDENTIALS; others are unaffected; the lock expires', async () => {
    const c = server.client();
    const email = uniqueEmail('locked');
    const password = strongPassword();
    const other = uniqueEmail('bystander');
    const otherPassword = strongPassword();
    await c.post('/api/v1/auth/register', { json: { email, password } });
    await c.post('/api/v1/auth/register', { json: { email: other, password: otherPassword } });
    for (let i = 0; i < 4; i++) {
      const res = await c.post('/api/v1/auth/login', { form: { username: email, password: `wrong-${i}-password` } });
      assert.deepEqual([res.status, res.body], [400, BAD]);
    }
    const locked = await c.post('/api/v1/auth/login', { form: { username: email.toUpperCase(), password } });
    assert.deepEqual([locked.status, locked.body], [400, BAD], 'a locked account answers exactly like a wrong password');
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: other, password: otherPassword } })).status, 200);
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await c.post('/api/v1/auth/login', { form: { username: email, password } })).status, 200);
    const logged = server.logs.text();
    assert.ok(logged.includes('account temporarily locked'));
    assert.ok(!logged.includes(email) && !logged.includes(password), 'the lock log holds neither the e-mail nor the password');
  });

  it('D9: a successful login resets the failure count', async () => {
    const c = server.client();
    const email = uniqueEmail('reset-count');
    const password = strongPassword();
    await c.post('/api/v1/auth/register', { json: { email, password } });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) await c.post('/api/v1/auth/login', { form: { username: email, password: 'wrong-password' } });
      assert.equal((await c.post('/api/v1/auth/login', { form: { username: email, password } })).status, 200, `round ${round}`);
    }
  });
});

describe('D9: limits shared through Redis', () => {
  const REDIS_URL = 'redis://127.0.0.1:6379';
  let a: TestServer;
  let b: TestServer;
  let redis: Redis;

  before(async () => {
    redis = new Redis(REDIS_URL);
    // Each run gets its own counters: clear this suite's keys (the per-address login counter is shared).
    const keys = await redis.keys('engram:rl:login:ip:*');
    if (keys.length) await redis.del(...keys);
    const env = {
      RATE_LIMIT_ENABLED: 'true',
      REDIS_URL,
      RATE_LIMIT_WINDOW_SECONDS: '30',
      RATE_LIMIT_LOGIN: '6',
      LOGIN_LOCKOUT_THRESHOLD: '3',
      LOGIN_LOCKOUT_SECONDS: '30',
    };
    a = await startTestServer({ env });
    b = await startTestServer({ env, dbEnv: a.dbEnv, root: a.root });
  });
  after(async () => {
    const keys = await redis.keys('engram:rl:login:ip:*');
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await b.close();
    await a.close();
  });

  it('D9: a lockout made through one instance holds on the other', async () => {
    const email = `lock-${randomBytes(4).toString('hex')}@example.com`;
    const password = strongPassword();
    await a.client().post('/api/v1/auth/register', { json: { email, password } });
    for (let i = 0; i < 3; i++) await a.client().post('/api/v1/auth/login', { form: { username: email, password: 'wrong-password' } });
    const res = await b.client().post('/api/v1/auth/login', { form: { username: email, password } });
    assert.deepEqual([res.status, res.body], [400, BAD]);
    await redis.del(`engram:rl:lock:${email}`);
  });

  it('D9: the per-address login limit is shared by the instances', async () => {
    const keys = await redis.keys('engram:rl:login:ip:*');
    if (keys.length) await redis.del(...keys);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await a.client().post('/api/v1/auth/login', { form: { username: uniqueEmail('n'), password: 'wrong-password' } })).status);
    for (let i = 0; i < 3; i++) statuses.push((await b.client().post('/api/v1/auth/login', { form: { username: uniqueEmail('n'), password: 'wrong-password' } })).status);
    assert.deepEqual(statuses, [400, 400, 400, 400, 400, 400]);
    const over = await b.client().post('/api/v1/auth/login', { form: { username: uniqueEmail('n'), password: 'wrong-password' } });
    assert.equal(over.status, 429);
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
  });
});
