import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Algorithm, hash as argonHash } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { jwtVerify } from 'jose';
import { createJwt } from '../../src/auth/tokens.js';
import { eventually, startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * Accounts over HTTP: register, login, forgot/reset password, verification and the users router,
 * as the reference's auth library specifies them (status codes and error bodies), with the
 * decisions that change them: D1 (token contents), D7 (default user), D8 (passwords) and D10
 * (registration, tokens in the log without SMTP).
 */

const SECRET = `accounts-jwt-secret-${randomBytes(16).toString('hex')}`;
const ADMIN_EMAIL = 'default_user@example.com';
const ADMIN_PASSWORD = strongPassword();
const LIFETIME = 1234;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BAD_LOGIN = { detail: 'LOGIN_BAD_CREDENTIALS' };
const NO_PASSWORD = { detail: 'This user does not have a password. Use API key authentication.' };
const USER_READ_KEYS = ['email', 'id', 'is_active', 'is_superuser', 'is_verified', 'parent_user_id', 'tenant_id'];

const RESET_LINE = (id: string) => new RegExp(`^User ${id} has forgot their password\\. Reset token: (\\S+)$`);
const VERIFY_LINE = (id: string) => new RegExp(`^Verification requested for user ${id}\\. Verification token: (\\S+)$`);

/** The token written to the log (no SMTP configured, D10) by the last matching line. */
function loggedToken(server: TestServer, pattern: RegExp): string | undefined {
  for (const line of [...server.logs.lines].reverse()) {
    const match = pattern.exec(String(line.msg ?? ''));
    if (match) return match[1];
  }
  return undefined;
}

async function waitForToken(server: TestServer, pattern: RegExp): Promise<string> {
  await eventually(async () => loggedToken(server, pattern) !== undefined, 3000);
  return loggedToken(server, pattern)!;
}

function countLines(server: TestServer, pattern: RegExp): number {
  return server.logs.messages().filter((m) => pattern.test(m)).length;
}

const settle = () => new Promise((r) => setTimeout(r, 100));

/** Decodes a JWT by hand (base64url), without any library. */
function decodeSegments(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'a JWS compact token has three segments');
  const decode = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(parts[0]!), payload: decode(parts[1]!) };
}

async function register(c: Client, email: string, password = strongPassword()) {
  const res = await c.post('/api/v1/auth/register', { json: { email, password } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, email, password };
}

/** Logs in over the form; the session cookie is dropped so later requests carry only what they name. */
async function login(c: Client, username: string, password: string, extra: Record<string, string> = {}) {
  const res = await c.post('/api/v1/auth/login', { form: { username, password, ...extra }, cookies: false });
  c.jar.clear();
  return res;
}

describe('accounts (authentication required, default superuser from DEFAULT_USER_PASSWORD)', () => {
  let server: TestServer;
  let c: Client;
  let adminToken: string;
  let adminId: string;

  before(async () => {
    server = await startTestServer({
      env: {
        FASTAPI_USERS_JWT_SECRET: SECRET,
        DEFAULT_USER_PASSWORD: ADMIN_PASSWORD,
        JWT_LIFETIME_SECONDS: String(LIFETIME),
      },
    });
    c = server.client();
    adminToken = await c.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    c.jar.clear();
    adminId = (await c.get('/api/v1/users/me', { bearer: adminToken })).body.id;
  });
  after(() => server.close());

  /** Deactivates a user through the superuser route. */
  async function setActive(id: string, active: boolean) {
    const res = await c.patch(`/api/v1/users/${id}`, { json: { is_active: active }, bearer: adminToken });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.is_active, active);
  }

  // ---------------------------------------------------------------------------------------------
  describe('POST /api/v1/auth/register', () => {
    it('validation errors are 400 {detail: [issues with loc], body: <received>}, never 422', async () => {
      const password = strongPassword();
      const cases: [unknown, string[][]][] = [
        [
          {},
          [
            ['body', 'email'],
            ['body', 'password'],
          ],
        ],
        [{ password }, [['body', 'email']]],
        [{ email: uniqueEmail('nopw') }, [['body', 'password']]],
        [{ email: 'not-an-email', password }, [['body', 'email']]],
        [{ email: 'two@@example.com', password }, [['body', 'email']]],
        [
          { email: 42, password: null },
          [
            ['body', 'email'],
            ['body', 'password'],
          ],
        ],
      ];
      for (const [body, locs] of cases) {
        const res = await c.post('/api/v1/auth/register', { json: body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.deepEqual(Object.keys(res.body).sort(), ['body', 'detail']);
        assert.deepEqual(res.body.body, body, 'the received body is echoed');
        assert.ok(Array.isArray(res.body.detail));
        assert.deepEqual(res.body.detail.map((issue: { loc: string[] }) => issue.loc).sort(), locs, `issue locations for ${JSON.stringify(body)}`);
        for (const issue of res.body.detail) {
          assert.equal(typeof issue.msg, 'string');
          assert.equal(typeof issue.type, 'string');
        }
      }
      const broken = await c.post('/api/v1/auth/register', { raw: '{"email":', headers: { 'content-type': 'application/json' } });
      assert.deepEqual([broken.status, broken.body], [400, { detail: [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }], body: null }]);
    });

    it('creates the account: 201 UserRead without any password field, and the new password logs in', async () => {
      const email = uniqueEmail('reg');
      const password = strongPassword();
      const res = await c.post('/api/v1/auth/register', { json: { email, password } });
      assert.equal(res.status, 201);
      assert.match(res.body.id, UUID_RE);
      assert.deepEqual(res.body, {
        id: res.body.id,
        email,
        is_active: true,
        is_superuser: false,
        is_verified: false,
        tenant_id: null,
        parent_user_id: null,
      });
      assert.ok(!/password/i.test(res.text), 'no password or hash in the response');
      assert.equal((await login(c, email, password)).status, 200);
    });

    it('an existing e-mail in another letter case is 400 REGISTER_USER_ALREADY_EXISTS', async () => {
      const email = uniqueEmail('dup');
      await register(c, email);
      const local = email.slice(0, email.indexOf('@'));
      for (const variant of [email, email.toUpperCase(), `${local.toUpperCase()}@example.com`, `${local}@Example.COM`]) {
        const res = await c.post('/api/v1/auth/register', { json: { email: variant, password: strongPassword() } });
        assert.deepEqual([res.status, res.body], [400, { detail: 'REGISTER_USER_ALREADY_EXISTS' }], variant);
      }
    });

    it('D10: is_superuser, is_active:false, is_verified and parent_user_id in the body are ignored', async () => {
      const parent = await register(c, uniqueEmail('parent'));
      const email = uniqueEmail('sneaky');
      const password = strongPassword();
      const res = await c.post('/api/v1/auth/register', {
        json: { email, password, is_superuser: true, is_active: false, is_verified: true, parent_user_id: parent.id },
      });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(
        { ...res.body, id: undefined },
        { id: undefined, email, is_active: true, is_superuser: false, is_verified: false, tenant_id: null, parent_user_id: null },
      );
      // The stored account agrees: it can log in (active) and is no superuser.
      const token = (await login(c, email, password)).body.access_token as string;
      const me = await c.get('/api/v1/users/me', { bearer: token });
      assert.deepEqual([me.body.is_superuser, me.body.is_active, me.body.is_verified, me.body.parent_user_id], [false, true, false, null]);
      assert.deepEqual(Object.keys(me.body).sort(), USER_READ_KEYS, 'the reference UserRead keys, nothing more');
      const forbidden = await c.get(`/api/v1/users/${parent.id}`, { bearer: token });
      assert.deepEqual([forbidden.status, forbidden.body], [403, { detail: 'Forbidden' }]);
    });

    it('D8: short, over-long, common and e-mail-equal passwords are 400 {detail: {code: REGISTER_INVALID_PASSWORD, reason}}', async () => {
      const email = uniqueEmail('policy');
      const cases: [string, string][] = [
        ['', 'Password should be at least 8 characters'],
        ['Ab1!xyz', 'Password should be at least 8 characters'],
        [randomBytes(100).toString('base64url').slice(0, 129), 'Password should be at most 128 characters'],
        ['password', 'Password is too common: it appears in lists of breached passwords'],
        ['123456789', 'Password is too common: it appears in lists of breached passwords'],
        ['qwertyuiop', 'Password is too common: it appears in lists of breached passwords'],
        ['PassWord', 'Password is too common: it appears in lists of breached passwords'],
        [email, 'Password should not contain the e-mail address'],
        [email.toUpperCase(), 'Password should not contain the e-mail address'],
      ];
      for (const [password, reason] of cases) {
        const res = await c.post('/api/v1/auth/register', { json: { email, password } });
        assert.equal(res.status, 400, `${password.slice(0, 20)}…`);
        assert.deepEqual(res.body, { detail: { code: 'REGISTER_INVALID_PASSWORD', reason } }, `${password.slice(0, 20)}…`);
      }
      // None of the refusals created the account.
      assert.equal(await server.engram.auth.users.findByEmail(email), undefined);
    });

    it('D8: random 64- and 128-character passwords are accepted whole, with no composition rules', async () => {
      for (const length of [64, 128]) {
        const password = randomBytes(100).toString('base64url').slice(0, length);
        assert.equal(password.length, length);
        const { email } = await register(c, uniqueEmail(`len${length}`), password);
        assert.equal((await login(c, email, password)).status, 200, `${length} characters log in`);
        const truncated = await login(c, email, password.slice(0, length - 1));
        assert.deepEqual([truncated.status, truncated.body], [400, BAD_LOGIN], 'every character counts');
      }
      // Only lower-case letters, long enough and not common: accepted.
      await register(c, uniqueEmail('lower'), 'correcthorsebatterystaplezebra');
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('POST /api/v1/auth/login', () => {
    let user: { id: string; email: string; password: string };
    before(async () => {
      user = await register(c, uniqueEmail('login'));
    });

    it('takes a form only: JSON, no body, missing or empty fields and grant_type other than password are 400 LOGIN_BAD_CREDENTIALS', async () => {
      const { email, password } = user;
      const attempts = [
        c.post('/api/v1/auth/login', { json: { username: email, password } }),
        c.post('/api/v1/auth/login'),
        c.post('/api/v1/auth/login', { form: {} }),
        c.post('/api/v1/auth/login', { form: { username: email } }),
        c.post('/api/v1/auth/login', { form: { password } }),
        c.post('/api/v1/auth/login', { form: { username: email, password: '' } }),
        c.post('/api/v1/auth/login', { form: { username: '', password } }),
        c.post('/api/v1/auth/login', { form: { username: email, password, grant_type: 'client_credentials' } }),
        c.post('/api/v1/auth/login', { raw: `username=${email}&password=${password}`, headers: { 'content-type': 'text/plain' } }),
      ];
      for (const res of await Promise.all(attempts)) {
        assert.deepEqual([res.status, res.body], [400, BAD_LOGIN]);
        assert.equal(res.headers.getSetCookie().length, 0, 'no cookie on failure');
      }
    });

    it('an unknown e-mail, a wrong password and an inactive user all get the same 400 LOGIN_BAD_CREDENTIALS', async () => {
      const inactive = await register(c, uniqueEmail('inactive'));
      await setActive(inactive.id, false);
      const attempts = [
        login(c, uniqueEmail('nobody'), user.password),
        login(c, user.email, `${user.password}x`),
        login(c, user.email, user.password.toUpperCase()),
        login(c, inactive.email, inactive.password),
      ];
      for (const res of await Promise.all(attempts)) assert.deepEqual([res.status, res.body], [400, BAD_LOGIN]);
    });

    it('matches the e-mail case-insensitively and accepts grant_type=password and a multipart form', async () => {
      const local = user.email.slice(0, user.email.indexOf('@'));
      for (const username of [user.email.toUpperCase(), `${local.toUpperCase()}@example.com`, ` ${user.email} `]) {
        const res = await login(c, username, user.password, { grant_type: 'password', scope: '', client_id: 'x' });
        assert.equal(res.status, 200, username);
      }
      const boundary = `----engram${randomBytes(6).toString('hex')}`;
      const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const multipart = await c.post('/api/v1/auth/login', {
        raw: `${part('username', user.email)}${part('password', user.password)}--${boundary}--\r\n`,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        cookies: false,
      });
      c.jar.clear();
      assert.equal(multipart.status, 200, multipart.text);
      assert.equal(multipart.body.token_type, 'bearer');
    });

    it('D1: answers {access_token, token_type: bearer}; the HS256 token carries sub, aud, exp-iat = JWT_LIFETIME_SECONDS, jti, user_id, tenant_id, roles', async () => {
      const before = Math.floor(Date.now() / 1000);
      const res = await login(c, user.email, user.password);
      const afterLogin = Math.ceil(Date.now() / 1000);
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body).sort(), ['access_token', 'token_type']);
      assert.equal(res.body.token_type, 'bearer');
      const token = res.body.access_token as string;

      const { header, payload } = decodeSegments(token);
      assert.equal(header.alg, 'HS256');
      assert.equal(payload.sub, user.id);
      assert.deepEqual(payload.aud, ['fastapi-users:auth']);
      assert.equal(typeof payload.iat, 'number');
      assert.ok((payload.iat as number) >= before && (payload.iat as number) <= afterLogin, 'iat is now');
      assert.equal((payload.exp as number) - (payload.iat as number), LIFETIME);
      assert.match(String(payload.jti), UUID_RE);
      assert.equal(payload.user_id, user.id);
      assert.equal(payload.tenant_id, null);
      assert.deepEqual(payload.roles, []);

      // Signed with FASTAPI_USERS_JWT_SECRET.
      const verified = await jwtVerify(token, new TextEncoder().encode(SECRET), { algorithms: ['HS256'], audience: 'fastapi-users:auth' });
      assert.equal(verified.payload.sub, user.id);
      // Each login gets its own jti.
      const second = decodeSegments((await login(c, user.email, user.password)).body.access_token).payload;
      assert.notEqual(second.jti, payload.jti);

      // The same token is set as the session cookie and authenticates.
      const cookie = res.headers.getSetCookie().find((h) => h.startsWith('auth_token='));
      assert.ok(cookie, 'login sets auth_token');
      assert.equal(cookie.slice('auth_token='.length, cookie.indexOf(';')), token);
      assert.deepEqual((await c.get('/api/v1/auth/me', { bearer: token, cookies: false })).body, { email: user.email });
    });

    it('a password-less (external) account gets 400 "This user does not have a password. Use API key authentication."', async () => {
      const userId = randomUUID();
      const external = await createJwt(userId, null, [], { secret: SECRET });
      const me = await c.get('/api/v1/auth/me', { bearer: external, cookies: false });
      assert.deepEqual([me.status, me.body], [200, { email: `${userId}@external.invalid` }]);
      for (const password of ['anything-at-all-1', '!']) {
        const res = await login(c, `${userId}@external.invalid`, password);
        assert.deepEqual([res.status, res.body], [400, NO_PASSWORD]);
      }
    });

    it('D8: an unknown e-mail costs as much as a wrong password (the dummy hash runs)', async () => {
      // The server runs in this process: its CPU time per login (the password hash runs on libuv's
      // threads, counted too) measures the work done, which other load on the machine does not change
      // as it changes wall-clock time.
      const ghost = uniqueEmail('ghost');
      const wrong = 'not-the-right-password';
      const cost = async (username: string) => {
        const before = process.cpuUsage();
        const res = await login(c, username, wrong);
        const used = process.cpuUsage(before);
        assert.deepEqual([res.status, res.body], [400, BAD_LOGIN]);
        return used.user + used.system;
      };
      await cost(ghost); // warm-up (the dummy hash is computed once)
      await cost(user.email);
      const unknown: number[] = [];
      const known: number[] = [];
      for (let i = 0; i < 15; i++) {
        unknown.push(await cost(ghost));
        known.push(await cost(user.email));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[7]!;
      const ratio = median(unknown) / median(known);
      assert.ok(
        ratio > 0.5 && ratio < 2,
        `unknown/known median CPU ratio ${ratio.toFixed(2)} (${(median(unknown) / 1000).toFixed(1)} ms vs ${(median(known) / 1000).toFixed(1)} ms)`,
      );
    });

    it('D8: a bcrypt hash from an imported database verifies and is rewritten as argon2id on login', async () => {
      const email = uniqueEmail('bcrypt');
      const password = strongPassword();
      const legacy = await bcrypt.hash(password, 10);
      assert.match(legacy, /^\$2[aby]\$10\$/);
      await server.engram.auth.users.create({ email, hashedPassword: legacy });
      const wrong = await login(c, email, `${password}!`);
      assert.deepEqual([wrong.status, wrong.body], [400, BAD_LOGIN]);
      assert.equal((await server.engram.auth.users.findByEmail(email))!.hashedPassword, legacy, 'a failed login does not touch the hash');
      assert.equal((await login(c, email, password)).status, 200);
      const upgraded = (await server.engram.auth.users.findByEmail(email))!.hashedPassword;
      assert.match(upgraded, /^\$argon2id\$/);
      assert.equal((await login(c, email, password)).status, 200, 'the upgraded hash verifies');
      assert.deepEqual((await login(c, email, `${password}!`)).body, BAD_LOGIN);
    });

    it("D8: an argon2 hash with the reference's older parameters verifies and is upgraded to the current ones", async () => {
      const email = uniqueEmail('argon-old');
      const password = strongPassword();
      const old = await argonHash(password, { algorithm: Algorithm.Argon2id, memoryCost: 65536, timeCost: 3, parallelism: 4 });
      assert.match(old, /^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);
      await server.engram.auth.users.create({ email, hashedPassword: old });
      assert.equal((await login(c, email, password)).status, 200);
      const upgraded = (await server.engram.auth.users.findByEmail(email))!.hashedPassword;
      assert.notEqual(upgraded, old);
      assert.match(upgraded, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal((await login(c, email, password)).status, 200);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('forgot-password and reset-password', () => {
    it('D10: forgot-password is 202 null for unknown, inactive and active users; only the active one gets a token in the log', async () => {
      const active = await register(c, uniqueEmail('forgot'));
      const inactive = await register(c, uniqueEmail('forgot-off'));
      await setActive(inactive.id, false);
      const anyReset = /has forgot their password\. Reset token: /;
      const before = countLines(server, anyReset);
      for (const email of [uniqueEmail('nobody'), inactive.email, active.email.toUpperCase()]) {
        const res = await c.post('/api/v1/auth/forgot-password', { json: { email } });
        assert.deepEqual([res.status, res.text], [202, 'null'], email);
      }
      const token = await waitForToken(server, RESET_LINE(active.id));
      assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      await settle();
      assert.equal(countLines(server, anyReset) - before, 1, 'exactly one reset token was issued');
      assert.equal(loggedToken(server, RESET_LINE(inactive.id)), undefined);
      const invalid = await c.post('/api/v1/auth/forgot-password', { json: { email: 'nope' } });
      assert.equal(invalid.status, 400);
      assert.deepEqual(
        invalid.body.detail.map((i: { loc: string[] }) => i.loc),
        [['body', 'email']],
      );
    });

    it('the reset token sets the new password (200 null): the old password fails, the new one works, old sessions end', async () => {
      const user = await register(c, uniqueEmail('reset'));
      const session = (await login(c, user.email, user.password)).body.access_token as string;
      await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } });
      const token = await waitForToken(server, RESET_LINE(user.id));
      const fresh = strongPassword();
      const res = await c.post('/api/v1/auth/reset-password', { json: { token, password: fresh } });
      assert.deepEqual([res.status, res.text], [200, 'null']);
      assert.deepEqual((await login(c, user.email, user.password)).body, BAD_LOGIN);
      assert.equal((await login(c, user.email, fresh)).status, 200);
      assert.equal((await c.get('/api/v1/auth/me', { bearer: session, cookies: false })).status, 401, 'D3: a reset ends sessions');

      const reuse = await c.post('/api/v1/auth/reset-password', { json: { token, password: strongPassword() } });
      assert.deepEqual([reuse.status, reuse.body], [400, { detail: 'RESET_PASSWORD_BAD_TOKEN' }], 'a used token is dead');
      assert.equal((await login(c, user.email, fresh)).status, 200, 'the refused reuse changed nothing');
    });

    it('garbage, truncated and re-signed tokens are 400 RESET_PASSWORD_BAD_TOKEN', async () => {
      const user = await register(c, uniqueEmail('reset-bad'));
      await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } });
      const token = await waitForToken(server, RESET_LINE(user.id));
      const [h, p] = token.split('.');
      const forged = `${h}.${p}.${Buffer.from('forged-signature').toString('base64url')}`;
      for (const bad of ['garbage', '', token.slice(0, -3), forged, `${h}.${p}.`]) {
        const res = await c.post('/api/v1/auth/reset-password', { json: { token: bad, password: strongPassword() } });
        assert.deepEqual([res.status, res.body], [400, { detail: 'RESET_PASSWORD_BAD_TOKEN' }], bad.slice(0, 30));
      }
      assert.equal((await login(c, user.email, user.password)).status, 200, 'the password is unchanged');
      const missing = await c.post('/api/v1/auth/reset-password', { json: { token } });
      assert.equal(missing.status, 400);
      assert.deepEqual(
        missing.body.detail.map((i: { loc: string[] }) => i.loc),
        [['body', 'password']],
      );
    });

    it('D8: a weak new password is 400 RESET_PASSWORD_INVALID_PASSWORD and does not use up the token', async () => {
      const user = await register(c, uniqueEmail('reset-weak'));
      await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } });
      const token = await waitForToken(server, RESET_LINE(user.id));
      const cases: [string, string][] = [
        ['short', 'Password should be at least 8 characters'],
        ['qwertyuiop', 'Password is too common: it appears in lists of breached passwords'],
        [user.email, 'Password should not contain the e-mail address'],
      ];
      for (const [password, reason] of cases) {
        const res = await c.post('/api/v1/auth/reset-password', { json: { token, password } });
        assert.deepEqual([res.status, res.body], [400, { detail: { code: 'RESET_PASSWORD_INVALID_PASSWORD', reason } }]);
      }
      assert.equal((await login(c, user.email, user.password)).status, 200, 'still the old password');
      const fresh = strongPassword();
      assert.equal((await c.post('/api/v1/auth/reset-password', { json: { token, password: fresh } })).status, 200);
      assert.equal((await login(c, user.email, fresh)).status, 200);
    });

    it('a verification token or an access token is not a reset token (and a reset token is neither of those)', async () => {
      const user = await register(c, uniqueEmail('reset-kinds'));
      const access = (await login(c, user.email, user.password)).body.access_token as string;
      await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } });
      const verifyToken = await waitForToken(server, VERIFY_LINE(user.id));
      await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } });
      const resetToken = await waitForToken(server, RESET_LINE(user.id));
      for (const token of [verifyToken, access]) {
        const res = await c.post('/api/v1/auth/reset-password', { json: { token, password: strongPassword() } });
        assert.deepEqual([res.status, res.body], [400, { detail: 'RESET_PASSWORD_BAD_TOKEN' }]);
      }
      const asVerify = await c.post('/api/v1/auth/verify', { json: { token: resetToken } });
      assert.deepEqual([asVerify.status, asVerify.body], [400, { detail: 'VERIFY_USER_BAD_TOKEN' }]);
      const asBearer = await c.get('/api/v1/auth/me', { bearer: resetToken, cookies: false });
      assert.deepEqual([asBearer.status, asBearer.body], [401, { detail: 'Unauthorized' }]);
      assert.equal((await login(c, user.email, user.password)).status, 200, 'the password is unchanged');
    });

    it('a reset token stops working when its user is deactivated', async () => {
      const user = await register(c, uniqueEmail('reset-off'));
      await c.post('/api/v1/auth/forgot-password', { json: { email: user.email } });
      const token = await waitForToken(server, RESET_LINE(user.id));
      await setActive(user.id, false);
      const res = await c.post('/api/v1/auth/reset-password', { json: { token, password: strongPassword() } });
      assert.deepEqual([res.status, res.body], [400, { detail: 'RESET_PASSWORD_BAD_TOKEN' }]);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('request-verify-token and verify', () => {
    it('D10: request-verify-token is 202 null for unknown, inactive and active users; only the unverified active one gets a token', async () => {
      const active = await register(c, uniqueEmail('verify'));
      const inactive = await register(c, uniqueEmail('verify-off'));
      await setActive(inactive.id, false);
      const anyVerify = /^Verification requested for user /;
      const before = countLines(server, anyVerify);
      for (const email of [uniqueEmail('nobody'), inactive.email, active.email]) {
        const res = await c.post('/api/v1/auth/request-verify-token', { json: { email } });
        assert.deepEqual([res.status, res.text], [202, 'null'], email);
      }
      await waitForToken(server, VERIFY_LINE(active.id));
      await settle();
      assert.equal(countLines(server, anyVerify) - before, 1);
      assert.equal(loggedToken(server, VERIFY_LINE(inactive.id)), undefined);
    });

    it('verify answers 200 UserRead with is_verified true; a second use is VERIFY_USER_ALREADY_VERIFIED; garbage is VERIFY_USER_BAD_TOKEN', async () => {
      const user = await register(c, uniqueEmail('verify-ok'));
      await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } });
      const token = await waitForToken(server, VERIFY_LINE(user.id));
      const res = await c.post('/api/v1/auth/verify', { json: { token } });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        id: user.id,
        email: user.email,
        is_active: true,
        is_superuser: false,
        is_verified: true,
        tenant_id: null,
        parent_user_id: null,
      });
      const again = await c.post('/api/v1/auth/verify', { json: { token } });
      assert.deepEqual([again.status, again.body], [400, { detail: 'VERIFY_USER_ALREADY_VERIFIED' }]);
      for (const bad of ['garbage', token.slice(0, -2)]) {
        const res2 = await c.post('/api/v1/auth/verify', { json: { token: bad } });
        assert.deepEqual([res2.status, res2.body], [400, { detail: 'VERIFY_USER_BAD_TOKEN' }]);
      }
      const empty = await c.post('/api/v1/auth/verify', { json: {} });
      assert.equal(empty.status, 400);
      assert.deepEqual(
        empty.body.detail.map((i: { loc: string[] }) => i.loc),
        [['body', 'token']],
      );
      // An already verified user is not sent another token.
      const before = countLines(server, VERIFY_LINE(user.id));
      assert.equal((await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } })).status, 202);
      await settle();
      assert.equal(countLines(server, VERIFY_LINE(user.id)), before);
    });

    it('a verification token stops working once the e-mail address changes', async () => {
      const user = await register(c, uniqueEmail('verify-move'));
      const token = (await login(c, user.email, user.password)).body.access_token as string;
      await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } });
      const verifyToken = await waitForToken(server, VERIFY_LINE(user.id));
      const moved = await c.patch('/api/v1/users/me', { json: { email: uniqueEmail('moved') }, bearer: token });
      assert.equal(moved.status, 200);
      const res = await c.post('/api/v1/auth/verify', { json: { token: verifyToken } });
      assert.deepEqual([res.status, res.body], [400, { detail: 'VERIFY_USER_BAD_TOKEN' }]);
      assert.equal((await c.get('/api/v1/users/me', { bearer: token })).body.is_verified, false);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('/api/v1/users', () => {
    it('GET /users/me answers UserRead; without a credential it is 401 Unauthorized', async () => {
      const user = await register(c, uniqueEmail('me'));
      const token = (await login(c, user.email, user.password)).body.access_token as string;
      const me = await c.get('/api/v1/users/me', { bearer: token });
      assert.equal(me.status, 200);
      assert.deepEqual(me.body, {
        id: user.id,
        email: user.email,
        is_active: true,
        is_superuser: false,
        is_verified: false,
        tenant_id: null,
        parent_user_id: null,
      });
      const anonymous = await c.get('/api/v1/users/me', { cookies: false });
      assert.deepEqual([anonymous.status, anonymous.body], [401, { detail: 'Unauthorized' }]);
      assert.equal((await c.patch('/api/v1/users/me', { json: {}, cookies: false })).status, 401);
    });

    it('PATCH /users/me: an e-mail change unverifies; an existing e-mail is UPDATE_USER_EMAIL_ALREADY_EXISTS; is_superuser is ignored', async () => {
      const user = await register(c, uniqueEmail('patch'));
      const token = (await login(c, user.email, user.password)).body.access_token as string;
      await c.post('/api/v1/auth/request-verify-token', { json: { email: user.email } });
      assert.equal((await c.post('/api/v1/auth/verify', { json: { token: await waitForToken(server, VERIFY_LINE(user.id)) } })).status, 200);
      assert.equal((await c.get('/api/v1/users/me', { bearer: token })).body.is_verified, true);

      const other = await register(c, uniqueEmail('taken'));
      for (const email of [other.email, other.email.toUpperCase(), ADMIN_EMAIL]) {
        const dup = await c.patch('/api/v1/users/me', { json: { email }, bearer: token });
        assert.deepEqual([dup.status, dup.body], [400, { detail: 'UPDATE_USER_EMAIL_ALREADY_EXISTS' }], email);
      }
      assert.equal((await c.get('/api/v1/users/me', { bearer: token })).body.is_verified, true, 'a refused change changes nothing');

      const same = await c.patch('/api/v1/users/me', { json: { email: user.email }, bearer: token });
      assert.deepEqual([same.status, same.body.is_verified], [200, true], 'the same address keeps the verification');

      const changed = uniqueEmail('changed');
      const res = await c.patch('/api/v1/users/me', {
        json: { email: changed, is_superuser: true, is_active: false, is_verified: true },
        bearer: token,
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        id: user.id,
        email: changed,
        is_active: true,
        is_superuser: false,
        is_verified: false,
        tenant_id: null,
        parent_user_id: null,
      });
      const forbidden = await c.get(`/api/v1/users/${adminId}`, { bearer: token });
      assert.deepEqual([forbidden.status, forbidden.body], [403, { detail: 'Forbidden' }], 'still no superuser');
      assert.equal((await login(c, changed, user.password)).status, 200, 'logs in with the new address');
      assert.deepEqual((await login(c, user.email, user.password)).body, BAD_LOGIN, 'the old address is gone');
    });

    it('PATCH /users/me: D8 weak passwords are 400 UPDATE_USER_INVALID_PASSWORD; a good one replaces the old', async () => {
      const user = await register(c, uniqueEmail('pwchange'));
      const token = (await login(c, user.email, user.password)).body.access_token as string;
      const cases: [string, string][] = [
        ['1234567', 'Password should be at least 8 characters'],
        ['123456789', 'Password is too common: it appears in lists of breached passwords'],
        ['x'.repeat(129), 'Password should be at most 128 characters'],
        [user.email, 'Password should not contain the e-mail address'],
      ];
      for (const [password, reason] of cases) {
        const res = await c.patch('/api/v1/users/me', { json: { password }, bearer: token });
        assert.deepEqual([res.status, res.body], [400, { detail: { code: 'UPDATE_USER_INVALID_PASSWORD', reason } }]);
      }
      assert.equal((await login(c, user.email, user.password)).status, 200, 'refusals leave the password alone');
      const fresh = strongPassword();
      assert.equal((await c.patch('/api/v1/users/me', { json: { password: fresh }, bearer: token })).status, 200);
      assert.deepEqual((await login(c, user.email, user.password)).body, BAD_LOGIN);
      assert.equal((await login(c, user.email, fresh)).status, 200);
    });

    it('/users/{id} GET, PATCH and DELETE: 401 without a credential, 403 Forbidden for a non-superuser, 404 Not Found for unknown or non-UUID ids', async () => {
      const plain = await register(c, uniqueEmail('plain'));
      const token = (await login(c, plain.email, plain.password)).body.access_token as string;
      for (const method of ['get', 'patch', 'delete'] as const) {
        const json = method === 'patch' ? { is_superuser: true } : undefined;
        const none = await c[method](`/api/v1/users/${plain.id}`, { json, cookies: false });
        assert.deepEqual([none.status, none.body], [401, { detail: 'Unauthorized' }], method);
        for (const target of [plain.id, adminId, randomUUID()]) {
          const forbidden = await c[method](`/api/v1/users/${target}`, { json, bearer: token });
          assert.deepEqual([forbidden.status, forbidden.body], [403, { detail: 'Forbidden' }], `${method} ${target}`);
        }
        for (const unknown of [randomUUID(), 'not-a-uuid', '12345']) {
          const res = await c[method](`/api/v1/users/${unknown}`, { json, bearer: adminToken });
          assert.deepEqual([res.status, res.body], [404, { detail: 'Not Found' }], `${method} ${unknown}`);
        }
      }
      const still = await c.get('/api/v1/users/me', { bearer: token });
      assert.deepEqual([still.status, still.body.is_superuser], [200, false], 'the refused PATCH changed nothing');
    });

    it('a superuser reads a user and sets is_superuser, is_verified and is_active; {"password": null} leaves the password as it was', async () => {
      const user = await register(c, uniqueEmail('managed'));
      const token = (await login(c, user.email, user.password)).body.access_token as string;
      const read = await c.get(`/api/v1/users/${user.id}`, { bearer: adminToken });
      assert.deepEqual([read.status, read.body.email, read.body.is_superuser], [200, user.email, false]);

      const hashBefore = (await server.engram.auth.users.findById(user.id))!.hashedPassword;
      const promoted = await c.patch(`/api/v1/users/${user.id}`, {
        json: { is_superuser: true, is_verified: true, password: null },
        bearer: adminToken,
      });
      assert.equal(promoted.status, 200);
      assert.deepEqual(promoted.body, {
        id: user.id,
        email: user.email,
        is_active: true,
        is_superuser: true,
        is_verified: true,
        tenant_id: null,
        parent_user_id: null,
      });
      assert.equal((await server.engram.auth.users.findById(user.id))!.hashedPassword, hashBefore, 'the hash is untouched');
      assert.equal((await login(c, user.email, user.password)).status, 200);
      // The promotion applies at once to the existing token: authorization reads the database.
      assert.equal((await c.get(`/api/v1/users/${adminId}`, { bearer: token })).status, 200);

      const other = await register(c, uniqueEmail('other'));
      const dup = await c.patch(`/api/v1/users/${user.id}`, { json: { email: other.email }, bearer: adminToken });
      assert.deepEqual([dup.status, dup.body], [400, { detail: 'UPDATE_USER_EMAIL_ALREADY_EXISTS' }]);
      const weak = await c.patch(`/api/v1/users/${user.id}`, { json: { password: 'password' }, bearer: adminToken });
      assert.deepEqual(weak.body, {
        detail: { code: 'UPDATE_USER_INVALID_PASSWORD', reason: 'Password is too common: it appears in lists of breached passwords' },
      });

      const demoted = await c.patch(`/api/v1/users/${user.id}`, { json: { is_superuser: false, is_active: false }, bearer: adminToken });
      assert.deepEqual([demoted.status, demoted.body.is_superuser, demoted.body.is_active], [200, false, false]);
      assert.equal((await c.get('/api/v1/users/me', { bearer: token })).status, 401, 'an inactive user is refused');
      assert.deepEqual((await login(c, user.email, user.password)).body, BAD_LOGIN);

      const reactivated = await c.patch(`/api/v1/users/${user.id}`, { json: { is_active: true }, bearer: adminToken });
      assert.equal(reactivated.body.is_active, true);
      assert.equal((await c.get('/api/v1/users/me', { bearer: token })).status, 401, 'D3: tokens from before the deactivation stay dead');
      assert.equal((await login(c, user.email, user.password)).status, 200);

      const newPassword = strongPassword();
      const set = await c.patch(`/api/v1/users/${user.id}`, { json: { password: newPassword }, bearer: adminToken });
      assert.equal(set.status, 200);
      assert.deepEqual((await login(c, user.email, user.password)).body, BAD_LOGIN);
      assert.equal((await login(c, user.email, newPassword)).status, 200);
    });

    it("DELETE /users/{id} is 204 with an empty body; the deleted user's token is then 401 and the id 404", async () => {
      const user = await register(c, uniqueEmail('doomed'));
      const token = (await login(c, user.email, user.password)).body.access_token as string;
      assert.equal((await c.get('/api/v1/auth/me', { bearer: token, cookies: false })).status, 200);
      const del = await c.delete(`/api/v1/users/${user.id}`, { bearer: adminToken });
      assert.deepEqual([del.status, del.text], [204, '']);
      const me = await c.get('/api/v1/auth/me', { bearer: token, cookies: false });
      assert.deepEqual([me.status, me.body], [401, { detail: 'Unauthorized' }]);
      assert.deepEqual((await login(c, user.email, user.password)).body, BAD_LOGIN);
      assert.deepEqual((await c.get(`/api/v1/users/${user.id}`, { bearer: adminToken })).body, { detail: 'Not Found' });
      const again = await c.delete(`/api/v1/users/${user.id}`, { bearer: adminToken });
      assert.deepEqual([again.status, again.body], [404, { detail: 'Not Found' }]);
      // The address is free again.
      await register(c, user.email);
    });

    it('POST /users/get-user-id answers {user_id} for an exact match and 404 "User not found" otherwise', async () => {
      const user = await register(c, uniqueEmail('lookup'));
      const caller = await register(c, uniqueEmail('caller'));
      const token = (await login(c, caller.email, caller.password)).body.access_token as string;
      const local = user.email.slice(0, user.email.indexOf('@'));
      for (const email of [user.email, `${local}@EXAMPLE.com`]) {
        const res = await c.post('/api/v1/users/get-user-id', { json: { email }, bearer: token });
        assert.deepEqual([res.status, res.body], [200, { user_id: user.id }], email);
      }
      for (const email of [uniqueEmail('none'), `${local.toUpperCase()}@example.com`]) {
        const res = await c.post('/api/v1/users/get-user-id', { json: { email }, bearer: token });
        assert.deepEqual([res.status, res.body], [404, { detail: 'User not found' }], email);
      }
      const anonymous = await c.post('/api/v1/users/get-user-id', { json: { email: user.email }, cookies: false });
      assert.deepEqual([anonymous.status, anonymous.body], [401, { detail: 'Unauthorized' }]);
      const invalid = await c.post('/api/v1/users/get-user-id', { json: { email: 'nope' }, bearer: token });
      assert.equal(invalid.status, 400);
    });
  });
});

// -----------------------------------------------------------------------------------------------
describe('account settings', () => {
  it('D8: PASSWORD_MIN_LENGTH=12 raises the bar for registration and password changes', async () => {
    const server = await startTestServer({ env: { PASSWORD_MIN_LENGTH: '12' } });
    try {
      const c = server.client();
      const email = uniqueEmail('min12');
      const short = await c.post('/api/v1/auth/register', { json: { email, password: 'k7#vq-Lm2pZ' } });
      assert.deepEqual(
        [short.status, short.body],
        [400, { detail: { code: 'REGISTER_INVALID_PASSWORD', reason: 'Password should be at least 12 characters' } }],
      );
      const { password } = await register(c, email, 'k7#vq-Lm2pZx');
      const token = (await login(c, email, password)).body.access_token as string;
      const change = await c.patch('/api/v1/users/me', { json: { password: 'z9!Qw-Er5tY' }, bearer: token });
      assert.deepEqual(
        [change.status, change.body],
        [400, { detail: { code: 'UPDATE_USER_INVALID_PASSWORD', reason: 'Password should be at least 12 characters' } }],
      );
    } finally {
      await server.close();
    }
  });

  it('D10: ALLOW_REGISTRATION=false answers 403 and creates nothing', async () => {
    const server = await startTestServer({ env: { ALLOW_REGISTRATION: 'false' } });
    try {
      const c = server.client();
      const email = uniqueEmail('closed');
      const res = await c.post('/api/v1/auth/register', { json: { email, password: strongPassword() } });
      assert.deepEqual([res.status, res.body], [403, { detail: 'REGISTER_DISABLED' }]);
      assert.equal(await server.engram.auth.users.findByEmail(email), undefined);
    } finally {
      await server.close();
    }
  });
});

// -----------------------------------------------------------------------------------------------
describe('D7: the default user', () => {
  const DEFAULT = { username: ADMIN_EMAIL, password: 'default_password' };

  it('D7: with authentication required and DEFAULT_USER_PASSWORD unset there is no default account', async () => {
    const server = await startTestServer();
    try {
      const c = server.client();
      const res = await c.post('/api/v1/auth/login', { form: DEFAULT });
      assert.deepEqual([res.status, res.body], [400, BAD_LOGIN]);
      assert.equal(await server.engram.auth.users.findByEmail(ADMIN_EMAIL), undefined, 'the users table has no default user');
      const anonymous = await c.get('/api/v1/auth/me');
      assert.deepEqual([anonymous.status, anonymous.body], [401, { detail: 'Unauthorized' }]);
    } finally {
      await server.close();
    }
  });

  it('D7: with DEFAULT_USER_PASSWORD set, the default account exists, is a verified superuser and logs in with that password only', async () => {
    const password = strongPassword();
    const server = await startTestServer({ env: { DEFAULT_USER_PASSWORD: password } });
    try {
      const c = server.client();
      assert.deepEqual((await c.post('/api/v1/auth/login', { form: DEFAULT })).body, BAD_LOGIN);
      const token = await c.login(ADMIN_EMAIL, password);
      const me = await c.get('/api/v1/users/me', { bearer: token, cookies: false });
      assert.equal(me.status, 200);
      assert.deepEqual(
        { ...me.body, id: undefined },
        {
          id: undefined,
          email: ADMIN_EMAIL,
          is_active: true,
          is_superuser: true,
          is_verified: true,
          tenant_id: null,
          parent_user_id: null,
        },
      );
      assert.ok(server.logs.find(/^created default user default_user@example\.com$/), 'the creation is logged');
    } finally {
      await server.close();
    }
  });

  it('D7: with authentication disabled, anonymous requests act as the default superuser, which logs in with the reference\'s "default_password" (self-bootstrapping clients)', async () => {
    const server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false' } });
    try {
      const c = server.client();
      const me = await c.get('/api/v1/auth/me');
      assert.deepEqual([me.status, me.body], [200, { email: ADMIN_EMAIL }]);
      const user = await server.engram.auth.users.findByEmail(ADMIN_EMAIL);
      assert.equal(user?.isSuperuser, true);
      // The users router always requires a credential, whatever the posture.
      assert.deepEqual((await c.get('/api/v1/users/me')).status, 401);
      // The reference plugins' bootstrap: log in as the default user, then mint an API key.
      const res = await c.post('/api/v1/auth/login', { form: DEFAULT });
      assert.equal(res.status, 200, res.text);
      const token = res.body.access_token as string;
      assert.equal((await c.get('/api/v1/users/me', { bearer: token, cookies: false })).body.email, ADMIN_EMAIL);
      const key = await c.post('/api/v1/auth/api-keys', { json: { name: 'bootstrap' }, bearer: token, cookies: false });
      assert.equal(key.status, 200);
      assert.equal((await c.get('/api/v1/users/me', { apiKey: key.body.key, cookies: false })).body.email, ADMIN_EMAIL);
      const wrong = await c.post('/api/v1/auth/login', { form: { username: ADMIN_EMAIL, password: 'default_passwordx' } });
      assert.deepEqual([wrong.status, wrong.body], [400, BAD_LOGIN]);
    } finally {
      await server.close();
    }
  });

  it('D7: with authentication disabled and DEFAULT_USER_PASSWORD set, the default user can also log in', async () => {
    const password = strongPassword();
    const server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false', DEFAULT_USER_PASSWORD: password } });
    try {
      const c = server.client();
      assert.deepEqual((await c.get('/api/v1/auth/me')).body, { email: ADMIN_EMAIL });
      const token = await c.login(ADMIN_EMAIL, password);
      assert.equal((await c.get('/api/v1/users/me', { bearer: token, cookies: false })).body.is_superuser, true);
    } finally {
      await server.close();
    }
  });

  it('D7: the default user\'s well-known password "default_password" (authentication disabled, or an imported database) is disabled at the next start with authentication required', async () => {
    // The policy refuses the well-known value outright, so it cannot be configured...
    await assert.rejects(
      startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false', DEFAULT_USER_PASSWORD: 'default_password' } }),
      /DEFAULT_USER_PASSWORD is refused by the password policy/,
    );
    // ...but a database from an earlier run (or imported from the reference) may hold it.
    const first = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false' } });
    let second: TestServer | undefined;
    try {
      const c1 = first.client();
      assert.deepEqual((await c1.get('/api/v1/auth/me')).body, { email: ADMIN_EMAIL });
      const user = (await first.engram.auth.users.findByEmail(ADMIN_EMAIL))!;
      // Authentication disabled: the default user accepts the reference's default password.
      const oldToken = await c1.login(ADMIN_EMAIL, 'default_password');
      await first.engram.close();

      second = await startTestServer({ root: first.root, dbEnv: first.dbEnv });
      const c2 = second.client();
      const res = await c2.post('/api/v1/auth/login', { form: DEFAULT });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, NO_PASSWORD);
      const warning = second.logs.find(/had the well-known password; its password was disabled/);
      assert.ok(warning, 'a warning is logged');
      assert.equal(warning.level, 40);
      assert.equal(
        warning.msg,
        'default user default_user@example.com had the well-known password; its password was disabled (set DEFAULT_USER_PASSWORD or use "engram user create")',
      );
      const after = (await second.engram.auth.users.findById(user.id))!;
      assert.equal(after.isSuperuser, true, 'the account itself is kept');
      assert.equal(after.hashedPassword, '!');
      const stale = await c2.get('/api/v1/auth/me', { bearer: oldToken, cookies: false });
      assert.deepEqual([stale.status, stale.body], [401, { detail: 'Unauthorized' }], 'tokens issued with that password end too');
    } finally {
      await second?.close();
      await first.close();
    }
  });
});
