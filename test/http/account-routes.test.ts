import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { hashPassword } from '../../src/auth/passwords.js';
import { createJwt } from '../../src/auth/tokens.js';
import { startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * The reference's account routes (register, login, forgot/reset, verify, users) as its auth library
 * tests them, over HTTP, with the decisions that change them: D1, D7, D8, D10.
 */
const SECRET = 'account-routes-secret-0123456789-abcdefghijkl';
const ADMIN_PASSWORD = strongPassword();

function loggedToken(server: TestServer, pattern: RegExp): string | undefined {
  for (const line of [...server.logs.lines].reverse()) {
    const match = pattern.exec(String(line.msg ?? ''));
    if (match) return match[1];
  }
  return undefined;
}

describe('account routes', () => {
  let server: TestServer;
  let c: Client;
  let adminToken: string;

  before(async () => {
    server = await startTestServer({
      env: { FASTAPI_USERS_JWT_SECRET: SECRET, DEFAULT_USER_PASSWORD: ADMIN_PASSWORD, JWT_LIFETIME_SECONDS: '1800' },
    });
    c = server.client();
    adminToken = await c.login('default_user@example.com', ADMIN_PASSWORD);
  });
  after(() => server.close());

  describe('register', () => {
    it('validation errors are 400 with the issue list and the received body, never 422', async () => {
      for (const body of [{}, { email: 'a@example.com' }, { password: strongPassword() }, { email: 'not-an-email', password: strongPassword() }]) {
        const res = await c.post('/api/v1/auth/register', { json: body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.ok(Array.isArray(res.body.detail), 'detail is a list of issues');
        assert.ok(res.body.detail.every((i: { loc: unknown[]; msg: string }) => Array.isArray(i.loc) && i.loc[0] === 'body' && typeof i.msg === 'string'));
        assert.deepEqual(res.body.body, body);
      }
      const malformed = await c.post('/api/v1/auth/register', { raw: '{"email":', headers: { 'content-type': 'application/json' } });
      assert.equal(malformed.status, 400);
    });

    it('creates a user (201 UserRead, no password fields) and refuses a duplicate in any case', async () => {
      const email = uniqueEmail('reg');
      const res = await c.post('/api/v1/auth/register', { json: { email, password: strongPassword() } });
      assert.equal(res.status, 201);
      assert.deepEqual(Object.keys(res.body).sort(), ['email', 'id', 'is_active', 'is_superuser', 'is_verified', 'parent_user_id', 'tenant_id']);
      assert.equal(res.body.is_active, true);
      assert.equal(res.body.is_verified, false);
      const dup = await c.post('/api/v1/auth/register', { json: { email: email.toUpperCase(), password: strongPassword() } });
      assert.equal(dup.status, 400);
      assert.deepEqual(dup.body, { detail: 'REGISTER_USER_ALREADY_EXISTS' });
    });

    it('D10: is_superuser, is_active, is_verified and parent_user_id in the body are ignored', async () => {
      const parent = await c.post('/api/v1/auth/register', { json: { email: uniqueEmail('parent'), password: strongPassword() } });
      const res = await c.post('/api/v1/auth/register', {
        json: {
          email: uniqueEmail('sneaky'),
          password: strongPassword(),
          is_superuser: true,
          is_active: false,
          is_verified: true,
          parent_user_id: parent.body.id,
        },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.is_superuser, false);
      assert.equal(res.body.is_active, true);
      assert.equal(res.body.is_verified, false);
      assert.equal(res.body.parent_user_id, null);
    });

    it('D8: the password policy refuses short, overlong, common and e-mail passwords with REGISTER_INVALID_PASSWORD', async () => {
      const email = uniqueEmail('policy');
      for (const password of ['short', 'x'.repeat(129), 'password', '123456789', 'qwertyuiop', email, '']) {
        const res = await c.post('/api/v1/auth/register', { json: { email, password } });
        assert.equal(res.status, 400, password.slice(0, 20));
        assert.equal(res.body.detail.code, 'REGISTER_INVALID_PASSWORD');
        assert.equal(typeof res.body.detail.reason, 'string');
      }
      for (const length of [64, 128]) {
        const password = randomBytes(96).toString('base64url').slice(0, length);
        const res = await c.post('/api/v1/auth/register', { json: { email: uniqueEmail(`len${length}`), password } });
        assert.equal(res.status, 201, `${length} characters are accepted`);
      }
    });
  });

  describe('login', () => {
    let email: string;
    let password: string;
    let id: string;
    before(async () => {
      email = uniqueEmail('login');
      password = strongPassword();
      id = (await c.post('/api/v1/auth/register', { json: { email, password } })).body.id;
    });

    it('every malformed or failed login is 400 LOGIN_BAD_CREDENTIALS', async () => {
      const bad = { detail: 'LOGIN_BAD_CREDENTIALS' };
      const cases = [
        c.post('/api/v1/auth/login', { json: { username: email, password } }),
        c.post('/api/v1/auth/login', { form: { username: email } }),
        c.post('/api/v1/auth/login', { form: { password } }),
        c.post('/api/v1/auth/login', { form: { username: email, password: '' } }),
        c.post('/api/v1/auth/login', { form: { username: email, password, grant_type: 'client_credentials' } }),
        c.post('/api/v1/auth/login', { form: { username: uniqueEmail('nobody'), password } }),
        c.post('/api/v1/auth/login', { form: { username: email, password: password + 'x' } }),
        c.post('/api/v1/auth/login', { form: { username: email, password: password.toUpperCase() } }),
        c.post('/api/v1/auth/login'),
      ];
      for (const res of await Promise.all(cases)) {
        assert.equal(res.status, 400);
        assert.deepEqual(res.body, bad);
      }
    });

    it('D1: succeeds case-insensitively and returns an HS256 token with the documented claims', async () => {
      const res = await c.post('/api/v1/auth/login', { form: { username: email.toUpperCase(), password, grant_type: 'password' } });
      assert.equal(res.status, 200);
      assert.equal(res.body.token_type, 'bearer');
      const token = res.body.access_token as string;
      assert.equal(decodeProtectedHeader(token).alg, 'HS256');
      const claims = decodeJwt(token);
      assert.equal(claims.sub, id);
      assert.deepEqual(claims.aud, ['fastapi-users:auth']);
      assert.equal(claims.exp! - claims.iat!, 1800);
      assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
      assert.equal(claims.user_id, id);
      assert.equal(claims.tenant_id, null);
      assert.deepEqual(claims.roles, []);
    });

    it('an inactive user cannot log in', async () => {
      const e = uniqueEmail('inactive');
      const p = strongPassword();
      const uid = (await c.post('/api/v1/auth/register', { json: { email: e, password: p } })).body.id;
      await c.patch(`/api/v1/users/${uid}`, { json: { is_active: false }, bearer: adminToken });
      const res = await c.post('/api/v1/auth/login', { form: { username: e, password: p } });
      assert.deepEqual([res.status, res.body], [400, { detail: 'LOGIN_BAD_CREDENTIALS' }]);
    });

    it('a password-less (external) account is told to use an API key', async () => {
      const userId = randomUUID();
      const token = await createJwt(userId, null, [], { secret: SECRET });
      assert.equal((await c.get('/api/v1/auth/me', { bearer: token, cookies: false })).status, 200);
      const res = await c.post('/api/v1/auth/login', { form: { username: `${userId}@external.invalid`, password: 'anything-at-all' } });
      assert.deepEqual([res.status, res.body], [400, { detail: 'This user does not have a password. Use API key authentication.' }]);
    });

    it('D8: an unknown e-mail costs about as much time as a wrong password (the dummy hash runs)', async () => {
      const median = async (username: string) => {
        const times: number[] = [];
        for (let i = 0; i < 11; i++) {
          const t0 = performance.now();
          await c.post('/api/v1/auth/login', { form: { username, password: 'wrong password here' } });
          times.push(performance.now() - t0);
        }
        return times.sort((a, b) => a - b)[5]!;
      };
      const unknown = await median(uniqueEmail('ghost'));
      const known = await median(email);
      const ratio = unknown / known;
      assert.ok(ratio > 0.5 && ratio < 2, `unknown/known median ratio ${ratio.toFixed(2)} (${unknown.toFixed(1)} vs ${known.toFixed(1)} ms)`);
    });

    it('D8: a bcrypt hash from an imported database verifies and is upgraded to argon2id', async () => {
      const e = uniqueEmail('legacy');
      const p = strongPassword();
      await server.engram.auth.users.create({ email: e, hashedPassword: await bcrypt.hash(p, 10) });
      assert.equal((await c.post('/api/v1/auth/login', { form: { username: e, password: 'wrong-password-x' } })).status, 400);
      assert.equal((await c.post('/api/v1/auth/login', { form: { username: e, password: p } })).status, 200);
      const stored = await server.engram.auth.users.findByEmail(e);
      assert.match(stored!.hashedPassword, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal((await c.post('/api/v1/auth/login', { form: { username: e, password: p } })).status, 200);
    });
  });

  describe('forgot and reset password', () => {
    it('forgot-password is 202 null for unknown, inactive and existing users; only the existing active one gets a token', async () => {
      const e = uniqueEmail('forgot');
      const uid = (await c.post('/api/v1/auth/register', { json: { email: e, password: strongPassword() } })).body.id;
      const inactive = uniqueEmail('forgot-inactive');
      const iid = (await c.post('/api/v1/auth/register', { json: { email: inactive, password: strongPassword() } })).body.id;
      await c.patch(`/api/v1/users/${iid}`, { json: { is_active: false }, bearer: adminToken });
      for (const email of [uniqueEmail('nobody'), inactive, e]) {
        const res = await c.post('/api/v1/auth/forgot-password', { json: { email } });
        assert.equal(res.status, 202);
        assert.equal(res.text, 'null');
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(loggedToken(server, new RegExp(`User ${uid} has forgot their password\\. Reset token: (\\S+)`)));
      assert.equal(loggedToken(server, new RegExp(`User ${iid} has forgot their password\\. Reset token: (\\S+)`)), undefined);
    });

    it('the reset token sets a new password once; reuse, garbage and other token kinds are RESET_PASSWORD_BAD_TOKEN', async () => {
      const e = uniqueEmail('reset');
      const old = strongPassword();
      const uid = (await c.post('/api/v1/auth/register', { json: { email: e, password: old } })).body.id;
      await c.post('/api/v1/auth/forgot-password', { json: { email: e } });
      await new Promise((r) => setTimeout(r, 50));
      const token = loggedToken(server, new RegExp(`User ${uid} has forgot their password\\. Reset token: (\\S+)`))!;
      const weak = await c.post('/api/v1/auth/reset-password', { json: { token, password: 'password' } });
      assert.equal(weak.status, 400);
      assert.equal(weak.body.detail.code, 'RESET_PASSWORD_INVALID_PASSWORD');
      const fresh = strongPassword();
      const ok = await c.post('/api/v1/auth/reset-password', { json: { token, password: fresh } });
      assert.deepEqual([ok.status, ok.text], [200, 'null']);
      assert.equal((await c.post('/api/v1/auth/login', { form: { username: e, password: old } })).status, 400);
      const access = await c.login(e, fresh);
      const bad = { detail: 'RESET_PASSWORD_BAD_TOKEN' };
      for (const t of [token, 'garbage', access]) {
        const res = await c.post('/api/v1/auth/reset-password', { json: { token: t, password: strongPassword() } });
        assert.deepEqual([res.status, res.body], [400, bad]);
      }
    });
  });

  describe('verification', () => {
    it('request-verify-token is always 202; verify marks the user verified once', async () => {
      const e = uniqueEmail('verify');
      const uid = (await c.post('/api/v1/auth/register', { json: { email: e, password: strongPassword() } })).body.id;
      for (const email of [uniqueEmail('nobody'), e]) {
        const res = await c.post('/api/v1/auth/request-verify-token', { json: { email } });
        assert.deepEqual([res.status, res.text], [202, 'null']);
      }
      await new Promise((r) => setTimeout(r, 50));
      const token = loggedToken(server, new RegExp(`Verification requested for user ${uid}\\. Verification token: (\\S+)`))!;
      assert.ok(token);
      const reset = await c.post('/api/v1/auth/reset-password', { json: { token, password: strongPassword() } });
      assert.deepEqual(reset.body, { detail: 'RESET_PASSWORD_BAD_TOKEN' }, 'a verification token is not a reset token');
      const ok = await c.post('/api/v1/auth/verify', { json: { token } });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.is_verified, true);
      assert.equal(ok.body.id, uid);
      const again = await c.post('/api/v1/auth/verify', { json: { token } });
      assert.deepEqual([again.status, again.body], [400, { detail: 'VERIFY_USER_ALREADY_VERIFIED' }]);
      const garbage = await c.post('/api/v1/auth/verify', { json: { token: 'garbage' } });
      assert.deepEqual([garbage.status, garbage.body], [400, { detail: 'VERIFY_USER_BAD_TOKEN' }]);
      assert.equal((await c.post('/api/v1/auth/verify', { json: {} })).status, 400);
    });

    it('a verification token stops working after an e-mail change', async () => {
      const client = server.client();
      const e = uniqueEmail('verify-change');
      const { id, token } = await client.signUp(e);
      await client.post('/api/v1/auth/request-verify-token', { json: { email: e } });
      await new Promise((r) => setTimeout(r, 50));
      const vt = loggedToken(server, new RegExp(`Verification requested for user ${id}\\. Verification token: (\\S+)`))!;
      assert.equal((await client.patch('/api/v1/users/me', { json: { email: uniqueEmail('changed') }, bearer: token })).status, 200);
      const res = await client.post('/api/v1/auth/verify', { json: { token: vt } });
      assert.deepEqual([res.status, res.body], [400, { detail: 'VERIFY_USER_BAD_TOKEN' }]);
    });
  });

  describe('users', () => {
    it('GET and PATCH /users/me: e-mail change unverifies, duplicates and weak passwords are refused, flags are ignored', async () => {
      const client = server.client();
      const e = uniqueEmail('me');
      const { token, id } = await client.signUp(e);
      const me = await client.get('/api/v1/users/me', { bearer: token });
      assert.equal(me.body.id, id);
      await server.engram.auth.users.update(id, { isVerified: true });
      await server.engram.auth.invalidate(id);
      const other = uniqueEmail('other');
      await c.post('/api/v1/auth/register', { json: { email: other, password: strongPassword() } });
      const dup = await client.patch('/api/v1/users/me', { json: { email: other }, bearer: token });
      assert.deepEqual([dup.status, dup.body], [400, { detail: 'UPDATE_USER_EMAIL_ALREADY_EXISTS' }]);
      const weak = await client.patch('/api/v1/users/me', { json: { password: '12345678' }, bearer: token });
      assert.equal(weak.status, 400);
      assert.equal(weak.body.detail.code, 'UPDATE_USER_INVALID_PASSWORD');
      const changed = uniqueEmail('changed');
      const res = await client.patch('/api/v1/users/me', { json: { email: changed, is_superuser: true, is_active: false }, bearer: token });
      assert.equal(res.status, 200);
      assert.equal(res.body.email, changed);
      assert.equal(res.body.is_verified, false);
      assert.equal(res.body.is_superuser, false);
      assert.equal(res.body.is_active, true);
    });

    it('/users/{id}: 401 without credentials, 403 for non-superusers, 404 for unknown or non-UUID ids', async () => {
      const client = server.client();
      const { token, id } = await client.signUp(uniqueEmail('plain'));
      for (const method of ['get', 'patch', 'delete'] as const) {
        assert.equal((await client[method](`/api/v1/users/${id}`, { json: method === 'patch' ? {} : undefined, cookies: false })).status, 401);
        const forbidden = await client[method](`/api/v1/users/${id}`, { json: method === 'patch' ? {} : undefined, bearer: token, cookies: false });
        assert.deepEqual([forbidden.status, forbidden.body], [403, { detail: 'Forbidden' }]);
        for (const unknown of [randomUUID(), 'not-a-uuid']) {
          const res = await c[method](`/api/v1/users/${unknown}`, { json: method === 'patch' ? {} : undefined, bearer: adminToken });
          assert.deepEqual([res.status, res.body], [404, { detail: 'Not Found' }]);
        }
      }
    });

    it('a superuser sets flags, a null password leaves the password alone, and DELETE is 204 and ends sessions', async () => {
      const client = server.client();
      const e = uniqueEmail('managed');
      const { token, id, password } = await client.signUp(e);
      const res = await c.patch(`/api/v1/users/${id}`, { json: { is_verified: true, is_superuser: true, password: null }, bearer: adminToken });
      assert.equal(res.status, 200);
      assert.equal(res.body.is_verified, true);
      assert.equal(res.body.is_superuser, true);
      assert.equal((await client.post('/api/v1/auth/login', { form: { username: e, password } })).status, 200);
      const del = await c.delete(`/api/v1/users/${id}`, { bearer: adminToken });
      assert.deepEqual([del.status, del.text], [204, '']);
      assert.equal((await client.get('/api/v1/auth/me', { bearer: token, cookies: false })).status, 401);
      assert.equal((await c.get(`/api/v1/users/${id}`, { bearer: adminToken })).status, 404);
    });

    it('get-user-id answers an exact match or 404 User not found', async () => {
      const e = uniqueEmail('lookup');
      const id = (await c.post('/api/v1/auth/register', { json: { email: e, password: strongPassword() } })).body.id;
      const res = await c.post('/api/v1/users/get-user-id', { json: { email: e }, bearer: adminToken });
      assert.deepEqual([res.status, res.body], [200, { user_id: id }]);
      const miss = await c.post('/api/v1/users/get-user-id', { json: { email: uniqueEmail('none') }, bearer: adminToken });
      assert.deepEqual([miss.status, miss.body], [404, { detail: 'User not found' }]);
      assert.equal((await c.post('/api/v1/users/get-user-id', { json: { email: e }, cookies: false })).status, 401);
    });
  });
});

describe('account settings', () => {
  it('D8: PASSWORD_MIN_LENGTH raises the bar; D10: ALLOW_REGISTRATION=false answers 403', async () => {
    const server = await startTestServer({ env: { PASSWORD_MIN_LENGTH: '12', ALLOW_REGISTRATION: 'false' } });
    try {
      const c = server.client();
      const res = await c.post('/api/v1/auth/register', { json: { email: uniqueEmail('closed'), password: strongPassword() } });
      assert.deepEqual([res.status, res.body], [403, { detail: 'REGISTER_DISABLED' }]);
    } finally {
      await server.close();
    }
    const strict = await startTestServer({ env: { PASSWORD_MIN_LENGTH: '12' } });
    try {
      const c = strict.client();
      const short = await c.post('/api/v1/auth/register', { json: { email: uniqueEmail('len'), password: 'eleven-char' } });
      assert.equal(short.status, 400);
      assert.match(short.body.detail.reason, /at least 12/);
      assert.equal((await c.post('/api/v1/auth/register', { json: { email: uniqueEmail('len'), password: 'twelve-chars' } })).status, 201);
    } finally {
      await strict.close();
    }
  });
});

describe('D7: the default user', () => {
  it('D7: with authentication required and no DEFAULT_USER_PASSWORD, no default account exists', async () => {
    const server = await startTestServer();
    try {
      const c = server.client();
      const res = await c.post('/api/v1/auth/login', { form: { username: 'default_user@example.com', password: 'default_password' } });
      assert.deepEqual([res.status, res.body], [400, { detail: 'LOGIN_BAD_CREDENTIALS' }]);
      assert.equal(await server.engram.auth.users.findByEmail('default_user@example.com'), undefined);
    } finally {
      await server.close();
    }
  });

  it('D7: with authentication disabled, anonymous requests act as the default superuser, which has no usable password', async () => {
    const server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false' } });
    try {
      const c = server.client();
      assert.deepEqual((await c.get('/api/v1/auth/me')).body, { email: 'default_user@example.com' });
      const user = await server.engram.auth.users.findByEmail('default_user@example.com');
      assert.equal(user?.isSuperuser, true);
      const res = await c.post('/api/v1/auth/login', { form: { username: 'default_user@example.com', password: 'default_password' } });
      assert.equal(res.status, 400);
    } finally {
      await server.close();
    }
  });

  it('D7: DEFAULT_USER_PASSWORD creates a default superuser that can log in; a well-known password is refused', async () => {
    const password = strongPassword();
    const server = await startTestServer({ env: { DEFAULT_USER_PASSWORD: password } });
    try {
      const c = server.client();
      const token = await c.login('default_user@example.com', password);
      assert.equal((await c.get('/api/v1/users/me', { bearer: token })).body.is_superuser, true);
    } finally {
      await server.close();
    }
    await assert.rejects(startTestServer({ env: { DEFAULT_USER_PASSWORD: 'default_password' } }), /DEFAULT_USER_PASSWORD/);
  });

  it('D7: a default user left with the well-known password has it disabled at the next start with authentication required', async () => {
    const first = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false' } });
    const root = first.root;
    const dbEnv = first.dbEnv;
    const user = await first.engram.auth.users.findByEmail('default_user@example.com');
    await first.engram.auth.users.update(user!.id, { hashedPassword: await hashPassword('default_password') });
    await first.engram.close();
    const second = await startTestServer({ root, dbEnv });
    try {
      const res = await second.client().post('/api/v1/auth/login', { form: { username: 'default_user@example.com', password: 'default_password' } });
      assert.deepEqual([res.status, res.body], [400, { detail: 'This user does not have a password. Use API key authentication.' }]);
      const warning = second.logs.find(/had the well-known password; its password was disabled/);
      assert.equal(warning?.level, 40);
    } finally {
      await second.close();
      await first.close().catch(() => {});
    }
  });
});
