import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { TEST_DB, createPgDatabase, eventually, startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';
import { OfflineModel } from '../../src/memory/providers/offline.js';
import { OpenAICompatibleModel } from '../../src/memory/providers/openai.js';
import { startOpenAIStub } from '../helpers/openai-stub.js';

/**
 * D3 across instances: two servers (A and B) sharing one relational store and one
 * FASTAPI_USERS_JWT_SECRET (the Kubernetes note of the documents). A token from A is accepted by B;
 * a logout, a password change or reset, a deactivation or a deletion on A ends the user's sessions
 * on B, and an API key deleted on A stops working on B — also after B has served (and cached) the
 * credential. With different secrets, A's tokens are refused by B.
 *
 * Revocation lives in the relational store; each instance may also cache a resolved credential for
 * AUTH_CACHE_TTL_SECONDS, and is told to drop it:
 *   - on PostgreSQL through LISTEN/NOTIFY (default TTL kept: the push is what is tested);
 *   - through Redis pub/sub when REDIS_URL is set (default TTL kept, on either store);
 *   - on one SQLite file without Redis there is no channel between instances, so that scenario
 *     runs with AUTH_CACHE_TTL_SECONDS=0 and every request reads the shared file (several
 *     instances on one SQLite file is a test setup, not a supported deployment).
 * B must refuse within 2 s; how long it took is reported as a test diagnostic.
 */
const SECRET = 'multi-instance-secret-0123456789-abcdefghijklmnop';
/** Every instance of one deployment has the same three secrets (reset tokens from A work on B). */
const SECRETS = {
  FASTAPI_USERS_JWT_SECRET: SECRET,
  FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET: 'multi-instance-reset-secret-0123456789-abcdefghij',
  FASTAPI_USERS_VERIFICATION_TOKEN_SECRET: 'multi-instance-verify-secret-0123456789-abcdefghi',
};
const OTHER_SECRET = 'another-instance-secret-9876543210-zyxwvutsrqpon';
const ADMIN_EMAIL = 'default_user@example.com';
const ADMIN_PASSWORD = strongPassword();
const UNAUTHORIZED = { detail: 'Unauthorized' };
const REDIS_URL = 'redis://127.0.0.1:6379';

interface Shared {
  readonly root?: string;
  readonly dbEnv: Record<string, string>;
  cleanup(): Promise<void>;
}

/** One relational store for both instances: a fresh PostgreSQL database, or one SQLite file (same root). */
async function sharedStore(): Promise<Shared> {
  if (TEST_DB === 'postgres') {
    const db = await createPgDatabase();
    return { dbEnv: db.env, cleanup: () => db.drop() };
  }
  const root = mkdtempSync(join(tmpdir(), 'engram-multi-'));
  return { root, dbEnv: {}, cleanup: async () => rmSync(root, { recursive: true, force: true }) };
}

async function startOn(shared: Shared, env: Record<string, string>): Promise<TestServer> {
  return startTestServer({ env, dbEnv: shared.dbEnv, ...(shared.root ? { root: shared.root } : {}) });
}

const jwtPayload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

interface Scenario {
  readonly label: string;
  readonly env: Record<string, string>;
  /** The transport B is expected to announce in its startup log. */
  readonly transport: RegExp;
  readonly cacheTtl: number;
}

const scenarios: Scenario[] =
  TEST_DB === 'postgres'
    ? [
        { label: 'PostgreSQL, invalidation by LISTEN/NOTIFY', env: {}, transport: /credential invalidation: PostgreSQL LISTEN\/NOTIFY/, cacheTtl: 30 },
        { label: 'PostgreSQL, invalidation by Redis pub/sub', env: { REDIS_URL }, transport: /credential invalidation: shared through Redis/, cacheTtl: 30 },
      ]
    : [
        // No channel between two instances on one SQLite file: no credential cache, every request reads the file.
        {
          label: 'one SQLite file, no cache (AUTH_CACHE_TTL_SECONDS=0)',
          env: { AUTH_CACHE_TTL_SECONDS: '0' },
          transport: /credential invalidation: in-process/,
          cacheTtl: 0,
        },
        {
          label: 'one SQLite file, invalidation by Redis pub/sub',
          env: { REDIS_URL },
          transport: /credential invalidation: shared through Redis/,
          cacheTtl: 30,
        },
      ];

for (const scenario of scenarios) {
  describe(`D3: two instances sharing one store and one secret (${scenario.label})`, () => {
    let shared: Shared;
    let a: TestServer;
    let b: TestServer;
    let adminToken: string;

    before(async () => {
      shared = await sharedStore();
      const env = { ...SECRETS, DEFAULT_USER_PASSWORD: ADMIN_PASSWORD, SETTINGS_REFRESH_SECONDS: '1', ...scenario.env };
      a = await startOn(shared, env);
      b = await startOn(shared, env);
      for (const server of [a, b]) {
        assert.ok(server.logs.find(scenario.transport), `transport: ${server.logs.messages().join('\n')}`);
        assert.equal(server.engram.config.auth.authCacheTtlSeconds, scenario.cacheTtl);
      }
      adminToken = await a.client().login(ADMIN_EMAIL, ADMIN_PASSWORD);
    });

    after(async () => {
      await b?.close();
      await a?.close();
      await shared?.cleanup();
    });

    async function signUpOnA(prefix: string) {
      const c = a.client();
      const email = uniqueEmail(prefix);
      const { token, id, password } = await c.signUp(email);
      return { email, token, id, password };
    }

    /** B serves the credential twice (the first resolves and caches it, the second is a cache hit). */
    async function servedByB(options: { bearer?: string; apiKey?: string }, email: string) {
      for (let i = 0; i < 2; i++) {
        const res = await b.client().get('/api/v1/auth/me', options);
        assert.deepEqual([res.status, res.body], [200, { email }], `B serves the credential (${i + 1})`);
      }
    }

    /** B refuses the credential within 2 s of the change on A, and keeps refusing it; reports the delay. */
    async function refusedByB(t: TestContext, what: string, options: { bearer?: string; apiKey?: string }) {
      const t0 = performance.now();
      await eventually(async () => (await b.client().get('/api/v1/auth/me', options)).status === 401, 2000, 5);
      const ms = performance.now() - t0;
      t.diagnostic(`${scenario.label}: B refused ${what} ${ms.toFixed(1)} ms after the change on A`);
      const res = await b.client().get('/api/v1/users/me', options);
      assert.deepEqual([res.status, res.body], [401, UNAUTHORIZED], `${what} stays refused on B`);
    }

    it('settings a superuser changes on A are applied by B within the refresh period, and at once by an instance started later', async () => {
      const stub = await startOpenAIStub();
      let c: TestServer | undefined;
      try {
        assert.ok(b.engram.memory.settings.current() instanceof OfflineModel, 'B starts on the offline model');
        const secret = 'sk-multi-0123456789abcdefghij';
        const change = { llm: { provider: 'openai', model: 'stub-model', endpoint: stub.url, apiKey: secret } };
        const saved = await a.client().post('/api/v1/settings', { json: change, bearer: adminToken, cookies: false });
        assert.equal(saved.status, 200, saved.text);
        await eventually(async () => !(b.engram.memory.settings.current() instanceof OfflineModel), 5000, 20);
        await b.engram.memory.settings.current().summarize('B asks the model A configured.');
        assert.ok(
          stub.requests.some((q) => q.headers.authorization === `Bearer ${secret}`),
          'B uses the model and the decrypted key set on A',
        );
        c = await startOn(shared, { ...SECRETS, DEFAULT_USER_PASSWORD: ADMIN_PASSWORD, ...scenario.env });
        assert.ok(c.engram.memory.settings.current() instanceof OpenAICompatibleModel, 'an instance started after the change applies it at start');
      } finally {
        await c?.close();
        await stub.close();
      }
    });

    it('a token issued by A (login) is accepted by B, as the same user', async () => {
      const user = await signUpOnA('shared');
      const me = await b.client().get('/api/v1/users/me', { bearer: user.token });
      assert.deepEqual([me.status, me.body.id, me.body.email], [200, user.id, user.email]);
      const cookie = await b.client().get('/api/v1/auth/me', { headers: { cookie: `auth_token=${user.token}` } });
      assert.deepEqual([cookie.status, cookie.body], [200, { email: user.email }], 'also as the session cookie');
      const fromB = await b.client().login(user.email, user.password);
      assert.equal((await a.client().get('/api/v1/auth/me', { bearer: fromB })).status, 200, 'and the other way round');
    });

    it(
      scenario.cacheTtl > 0
        ? 'control: B really caches a served credential (a revocation written to the store without notice is not seen at once)'
        : 'control: without a cache, B sees a revocation written straight to the store at once',
      async () => {
        const user = await signUpOnA('control');
        await servedByB({ bearer: user.token }, user.email);
        const { jti, exp } = jwtPayload(user.token);
        await a.engram.store.db
          .insertInto('revoked_tokens')
          .values({ jti, user_id: user.id, expires_at: exp * 1000 })
          .execute();
        const res = await b.client().get('/api/v1/auth/me', { bearer: user.token });
        assert.equal(res.status, scenario.cacheTtl > 0 ? 200 : 401);
      },
    );

    it('D3: a logout on A is honoured by B within 2 s, after B had served (and cached) the token', async (t) => {
      const user = await signUpOnA('logout');
      const other = await b.client().login(user.email, user.password);
      await servedByB({ bearer: user.token }, user.email);
      await servedByB({ bearer: other }, user.email);
      const out = await a.client().post('/api/v1/auth/logout', { bearer: user.token });
      assert.deepEqual([out.status, out.body], [200, {}]);
      assert.deepEqual((await a.client().get('/api/v1/auth/me', { bearer: user.token })).body, UNAUTHORIZED, 'A refuses at once');
      await refusedByB(t, 'the logged-out token', { bearer: user.token });
      assert.equal((await b.client().get('/api/v1/auth/me', { bearer: other })).status, 200, 'logout ends only the presented token');
      // And the other way round: a logout on B is honoured by A.
      assert.equal((await a.client().get('/api/v1/auth/me', { bearer: other })).status, 200);
      assert.equal((await b.client().post('/api/v1/auth/logout', { bearer: other })).status, 200);
      await eventually(async () => (await a.client().get('/api/v1/auth/me', { bearer: other })).status === 401, 2000, 5);
    });

    it("D3: a password change on A ends the user's sessions on B (API keys stay valid)", async (t) => {
      const user = await signUpOnA('password');
      const second = await b.client().login(user.email, user.password);
      const key = (await a.client().post('/api/v1/auth/api-keys', { json: {}, bearer: user.token })).body.key as string;
      await servedByB({ bearer: user.token }, user.email);
      await servedByB({ bearer: second }, user.email);
      await servedByB({ apiKey: key }, user.email);
      const fresh = strongPassword();
      const change = await a.client().patch('/api/v1/users/me', { json: { password: fresh }, bearer: user.token });
      assert.equal(change.status, 200, change.text);
      await refusedByB(t, 'a token after a password change', { bearer: user.token });
      await refusedByB(t, 'a second token after a password change', { bearer: second });
      assert.equal((await b.client().get('/api/v1/auth/me', { apiKey: key })).status, 200, 'an API key is not a session');
      assert.deepEqual((await b.client().post('/api/v1/auth/login', { form: { username: user.email, password: user.password } })).body, {
        detail: 'LOGIN_BAD_CREDENTIALS',
      });
      const renewed = await b.client().login(user.email, fresh);
      assert.equal((await a.client().get('/api/v1/auth/me', { bearer: renewed })).status, 200, 'a new login works on both');
    });

    it("D3: a password reset on A ends the user's sessions on B; a reset token from A is accepted by B", async (t) => {
      const user = await signUpOnA('reset');
      const second = await a.client().login(user.email, user.password);
      await servedByB({ bearer: user.token }, user.email);
      await servedByB({ bearer: second }, user.email);
      const resetToken = async () => {
        assert.equal((await a.client().post('/api/v1/auth/forgot-password', { json: { email: user.email } })).status, 202);
        const prefix = `User ${user.id} has forgot their password. Reset token: `;
        let found = '';
        await eventually(async () => {
          found =
            a.logs
              .messages()
              .filter((m) => m.startsWith(prefix))
              .at(-1)
              ?.slice(prefix.length) ?? '';
          return found !== '';
        });
        return found;
      };
      const reset = await a.client().post('/api/v1/auth/reset-password', { json: { token: await resetToken(), password: strongPassword() } });
      assert.deepEqual([reset.status, reset.text], [200, 'null']);
      await refusedByB(t, 'a token after a password reset', { bearer: user.token });
      await refusedByB(t, 'a second token after a password reset', { bearer: second });
      // Same secrets everywhere: a reset token mailed by A is good on B.
      const fresh = strongPassword();
      const viaB = await b.client().post('/api/v1/auth/reset-password', { json: { token: await resetToken(), password: fresh } });
      assert.deepEqual([viaB.status, viaB.text], [200, 'null']);
      assert.equal((await a.client().get('/api/v1/auth/me', { bearer: await a.client().login(user.email, fresh) })).status, 200);
    });

    it("D3: a deactivation on A ends the user's sessions and API keys on B", async (t) => {
      const user = await signUpOnA('deactivate');
      const key = (await a.client().post('/api/v1/auth/api-keys', { json: {}, bearer: user.token })).body.key as string;
      await servedByB({ bearer: user.token }, user.email);
      await servedByB({ apiKey: key }, user.email);
      const off = await a.client().patch(`/api/v1/users/${user.id}`, { json: { is_active: false }, bearer: adminToken });
      assert.deepEqual([off.status, off.body.is_active], [200, false]);
      await refusedByB(t, 'a token after a deactivation', { bearer: user.token });
      await refusedByB(t, 'an API key after a deactivation', { apiKey: key });
      assert.deepEqual((await b.client().post('/api/v1/auth/login', { form: { username: user.email, password: user.password } })).body, {
        detail: 'LOGIN_BAD_CREDENTIALS',
      });
    });

    it("D3: a deletion on A ends the user's sessions and API keys on B", async (t) => {
      const user = await signUpOnA('delete');
      const key = (await a.client().post('/api/v1/auth/api-keys', { json: {}, bearer: user.token })).body.key as string;
      await servedByB({ bearer: user.token }, user.email);
      await servedByB({ apiKey: key }, user.email);
      const del = await a.client().delete(`/api/v1/users/${user.id}`, { bearer: adminToken });
      assert.equal(del.status, 204);
      await refusedByB(t, 'a token after a deletion', { bearer: user.token });
      await refusedByB(t, 'an API key after a deletion', { apiKey: key });
    });

    it("D3: an API key deleted on A stops working on B; the user's other credentials keep working", async (t) => {
      const user = await signUpOnA('key');
      const c: Client = a.client();
      const doomed = (await c.post('/api/v1/auth/api-keys', { json: {}, bearer: user.token })).body as { key: string; id: string };
      const kept = (await c.post('/api/v1/auth/api-keys', { json: {}, bearer: user.token })).body as { key: string; id: string };
      await servedByB({ apiKey: doomed.key }, user.email);
      await servedByB({ apiKey: kept.key }, user.email);
      await servedByB({ bearer: user.token }, user.email);
      const del = await c.delete(`/api/v1/auth/api-keys/${doomed.id}`, { bearer: user.token });
      assert.deepEqual([del.status, del.text], [200, 'null']);
      await refusedByB(t, 'a deleted API key', { apiKey: doomed.key });
      assert.equal((await b.client().get('/api/v1/auth/me', { apiKey: kept.key })).status, 200);
      assert.equal((await b.client().get('/api/v1/auth/me', { bearer: user.token })).status, 200);
    });
  });
}

describe('instances with different secrets', () => {
  let shared: Shared;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    shared = await sharedStore();
    a = await startOn(shared, { FASTAPI_USERS_JWT_SECRET: SECRET });
    b = await startOn(shared, { FASTAPI_USERS_JWT_SECRET: OTHER_SECRET });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await shared?.cleanup();
  });

  it('a token issued by A is 401 on B when B has another FASTAPI_USERS_JWT_SECRET (and the other way round)', async () => {
    const email = uniqueEmail('secret');
    const { token, password } = await a.client().signUp(email);
    assert.equal((await a.client().get('/api/v1/auth/me', { bearer: token })).status, 200);
    const onB = await b.client().get('/api/v1/auth/me', { bearer: token });
    assert.deepEqual([onB.status, onB.body], [401, UNAUTHORIZED]);
    const cookieOnB = await b.client().get('/api/v1/auth/me', { headers: { cookie: `auth_token=${token}` } });
    assert.deepEqual([cookieOnB.status, cookieOnB.body], [401, UNAUTHORIZED]);
    const fromB = await b.client().login(email, password);
    assert.equal((await b.client().get('/api/v1/auth/me', { bearer: fromB })).status, 200, 'the account itself is shared');
    assert.deepEqual((await a.client().get('/api/v1/auth/me', { bearer: fromB })).body, UNAUTHORIZED);
  });
});
