import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASE_ENV, Client, spawnServer, TEST_DB, createPgDatabase, eventually, strongPassword, uniqueEmail } from '../helpers/harness.js';

/**
 * Two real server processes (separate Node processes, `engram serve`) sharing one relational store and one secret (the document's Kubernetes
 * note): a token from one is accepted by the other, and logout, password change, deactivation,
 * deletion and API key deletion on one are honoured by the other (D3).
 *
 * On PostgreSQL the instances keep their credential caches (default TTL) and tell each other to drop
 * entries through LISTEN/NOTIFY, or Redis pub/sub when REDIS_URL is set. On SQLite (one file, two
 * processes, which is not a supported deployment) there is no bus between processes, so the cache is
 * turned off (AUTH_CACHE_TTL_SECONDS=0) and every request reads the shared file.
 */
const SECRET = 'multi-instance-secret-0123456789-abcdefghijkl';
const ADMIN_PASSWORD = strongPassword();

interface Instance {
  url: string;
  child: ChildProcess;
  client(): Client;
}

async function spawnInstance(env: Record<string, string>, cwd: string): Promise<Instance> {
  const { url, child } = await spawnServer(env, cwd);
  return { url, child, client: () => new Client(url) };
}

async function stop(instance: Instance | undefined) {
  if (!instance || instance.child.exitCode !== null) return;
  const exited = new Promise((r) => instance.child.once('exit', r));
  instance.child.kill('SIGTERM');
  await exited;
}

function scenario(label: string, extraEnv: Record<string, string>) {
  describe(`D3: two server processes sharing one store (${label})`, () => {
    let a: Instance;
    let b: Instance;
    let root: string;
    let dropDb: (() => Promise<void>) | undefined;

    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'engram-multi-'));
      let dbEnv: Record<string, string> = {};
      if (TEST_DB === 'postgres') {
        const db = await createPgDatabase();
        dbEnv = db.env;
        dropDb = db.drop;
      }
      const env = {
        ...BASE_ENV,
        ...dbEnv,
        ...extraEnv,
        LOG_LEVEL: 'info',
        FASTAPI_USERS_JWT_SECRET: SECRET,
        DEFAULT_USER_PASSWORD: ADMIN_PASSWORD,
        SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
        HTTP_API_HOST: '127.0.0.1',
        HTTP_API_PORT: '0',
        ...(TEST_DB === 'sqlite' ? { AUTH_CACHE_TTL_SECONDS: '0' } : {}),
      };
      a = await spawnInstance(env, root);
      b = await spawnInstance(env, root);
    });

    after(async () => {
      await stop(a);
      await stop(b);
      await dropDb?.();
      rmSync(root, { recursive: true, force: true });
    });

    /** Asserts B stops accepting the credential within 2 s; returns how long it took. */
    async function refusedOnB(headers: { bearer?: string; apiKey?: string }): Promise<number> {
      const t0 = performance.now();
      await eventually(async () => (await b.client().get('/api/v1/auth/me', headers)).status === 401, 2000, 5);
      return performance.now() - t0;
    }

    it('a token issued by one instance is accepted by the other', async () => {
      const email = uniqueEmail('shared');
      const password = strongPassword();
      await a.client().post('/api/v1/auth/register', { json: { email, password } });
      const token = await a.client().login(email, password);
      const res = await b.client().get('/api/v1/auth/me', { bearer: token });
      assert.deepEqual([res.status, res.body], [200, { email }]);
    });

    it('D3: a logout on one instance is honoured by the other', async () => {
      const email = uniqueEmail('logout');
      const password = strongPassword();
      await a.client().post('/api/v1/auth/register', { json: { email, password } });
      const token = await a.client().login(email, password);
      assert.equal((await b.client().get('/api/v1/auth/me', { bearer: token })).status, 200, 'B has served (and cached) it');
      assert.equal((await a.client().post('/api/v1/auth/logout', { bearer: token })).status, 200);
      assert.equal((await a.client().get('/api/v1/auth/me', { bearer: token })).status, 401, 'A refuses at once');
      const ms = await refusedOnB({ bearer: token });
      assert.ok(ms < 2000, `B refused after ${ms.toFixed(0)} ms`);
    });

    it('D3: a password change, a deactivation and a deletion on one instance end sessions on the other', async () => {
      const admin = await a.client().login('default_user@example.com', ADMIN_PASSWORD);

      const e1 = uniqueEmail('pw');
      const p1 = strongPassword();
      await a.client().post('/api/v1/auth/register', { json: { email: e1, password: p1 } });
      const t1 = await a.client().login(e1, p1);
      assert.equal((await b.client().get('/api/v1/auth/me', { bearer: t1 })).status, 200);
      assert.equal((await a.client().patch('/api/v1/users/me', { json: { password: strongPassword() }, bearer: t1 })).status, 200);
      await refusedOnB({ bearer: t1 });

      const e2 = uniqueEmail('deact');
      const p2 = strongPassword();
      const id2 = (await a.client().post('/api/v1/auth/register', { json: { email: e2, password: p2 } })).body.id;
      const t2 = await a.client().login(e2, p2);
      assert.equal((await b.client().get('/api/v1/auth/me', { bearer: t2 })).status, 200);
      assert.equal((await a.client().patch(`/api/v1/users/${id2}`, { json: { is_active: false }, bearer: admin })).status, 200);
      await refusedOnB({ bearer: t2 });

      const e3 = uniqueEmail('del');
      const p3 = strongPassword();
      const id3 = (await a.client().post('/api/v1/auth/register', { json: { email: e3, password: p3 } })).body.id;
      const t3 = await a.client().login(e3, p3);
      const key = (await a.client().post('/api/v1/auth/api-keys', { json: {}, bearer: t3 })).body.key;
      assert.equal((await b.client().get('/api/v1/auth/me', { apiKey: key })).status, 200);
      assert.equal((await a.client().delete(`/api/v1/users/${id3}`, { bearer: admin })).status, 204);
      await refusedOnB({ bearer: t3 });
      await refusedOnB({ apiKey: key });
    });

    it('D3: an API key deleted on one instance stops working on the other', async () => {
      const email = uniqueEmail('key');
      const password = strongPassword();
      await a.client().post('/api/v1/auth/register', { json: { email, password } });
      const token = await a.client().login(email, password);
      const key = (await a.client().post('/api/v1/auth/api-keys', { json: {}, bearer: token })).body;
      assert.equal((await b.client().get('/api/v1/auth/me', { apiKey: key.key })).status, 200);
      assert.equal((await a.client().delete(`/api/v1/auth/api-keys/${key.id}`, { bearer: token })).status, 200);
      await refusedOnB({ apiKey: key.key });
    });
  });
}

scenario(TEST_DB === 'postgres' ? 'PostgreSQL, LISTEN/NOTIFY' : 'SQLite file, no cache', {});
if (TEST_DB === 'postgres') scenario('PostgreSQL, Redis pub/sub', { REDIS_URL: 'redis://127.0.0.1:6379' });

describe('instances with different secrets', () => {
  it('D4: a token from an instance with another secret is refused', async () => {
    const rootA = mkdtempSync(join(tmpdir(), 'engram-secret-a-'));
    const rootB = mkdtempSync(join(tmpdir(), 'engram-secret-b-'));
    const common = { ...BASE_ENV, HTTP_API_HOST: '127.0.0.1', HTTP_API_PORT: '0', AUTH_CACHE_TTL_SECONDS: '0' };
    let a: Instance | undefined;
    let b: Instance | undefined;
    try {
      // Same SQLite file, different generated secrets: B cannot verify A's tokens.
      a = await spawnInstance({ ...common, SYSTEM_ROOT_DIRECTORY: join(rootA, 'system') }, rootA);
      b = await spawnInstance({ ...common, SYSTEM_ROOT_DIRECTORY: join(rootB, 'system'), DB_PATH: join(rootA, 'system', 'databases') }, rootB);
      const email = uniqueEmail('secret');
      const password = strongPassword();
      await a.client().post('/api/v1/auth/register', { json: { email, password } });
      const token = await a.client().login(email, password);
      assert.equal((await a.client().get('/api/v1/auth/me', { bearer: token })).status, 200);
      assert.equal((await b.client().get('/api/v1/auth/me', { bearer: token })).status, 401);
      assert.equal((await b.client().post('/api/v1/auth/login', { form: { username: email, password } })).status, 200, 'the account itself is shared');
    } finally {
      await stop(a);
      await stop(b);
      rmSync(rootA, { recursive: true, force: true });
      rmSync(rootB, { recursive: true, force: true });
    }
  });
});
