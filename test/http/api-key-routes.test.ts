import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';

/** The reference's API-key routes with D11: 256-bit keys stored as SHA-256, shown once. */
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const ADMIN_PASSWORD = strongPassword();

async function storedKey(server: TestServer, id: string) {
  return server.engram.store.db.selectFrom('user_api_key').selectAll().where('id', '=', id).executeTakeFirst();
}

describe('D11: API keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { MAX_USER_API_KEYS: '3', DEFAULT_USER_PASSWORD: ADMIN_PASSWORD } });
  });
  after(() => server.close());

  it('D11: create returns a 64-hex key with its label once; the listing masks it; the store holds sha256$<hex>', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('keys'));
    const created = await c.post('/api/v1/auth/api-keys', { json: { name: 'agent' }, bearer: token });
    assert.equal(created.status, 200);
    assert.deepEqual(Object.keys(created.body).sort(), ['id', 'key', 'label', 'name']);
    assert.match(created.body.key, /^[0-9a-f]{64}$/);
    assert.equal(created.body.label, `${created.body.key.slice(0, 8)}****`);
    assert.equal(created.body.name, 'agent');
    const list = await c.get('/api/v1/auth/api-keys', { bearer: token });
    assert.deepEqual(list.body, [{ key: '************', label: created.body.label, name: 'agent', id: created.body.id }]);
    const row = await storedKey(server, created.body.id);
    assert.equal(row!.api_key, `sha256$${sha256(created.body.key)}`);
    assert.ok(!JSON.stringify(row).includes(created.body.key), 'the raw key is stored nowhere');
    for (const body of [{}, { name: null }]) {
      const res = await c.post('/api/v1/auth/api-keys', { json: body, bearer: token });
      assert.equal(res.status, 200);
      assert.equal(res.body.name, null);
    }
  });

  it('MAX_USER_API_KEYS bounds the keys per user, also under concurrent creation', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('limit'));
    const results = await Promise.all(Array.from({ length: 6 }, () => c.post('/api/v1/auth/api-keys', { json: {}, bearer: token })));
    assert.equal(results.filter((r) => r.status === 200).length, 3);
    for (const r of results.filter((r) => r.status !== 200)) {
      assert.deepEqual([r.status, r.body], [400, { error: { message: 'You have reached the maximum number of API keys.' } }]);
    }
    assert.equal((await c.get('/api/v1/auth/api-keys', { bearer: token })).body.length, 3);
  });

  it('D14: deleting a missing or foreign key is 404 and the key keeps working for its owner; a non-UUID id is 400', async () => {
    const owner = server.client();
    const { token } = await owner.signUp(uniqueEmail('owner'));
    const key = (await owner.post('/api/v1/auth/api-keys', { json: {}, bearer: token })).body;
    const thief = server.client();
    const { token: thiefToken } = await thief.signUp(uniqueEmail('thief'));
    const foreign = await thief.delete(`/api/v1/auth/api-keys/${key.id}`, { bearer: thiefToken });
    assert.deepEqual([foreign.status, foreign.body], [404, { detail: `Could not find API key: ${key.id} [ApiKeyNotFoundError]` }]);
    const missing = await owner.delete(`/api/v1/auth/api-keys/${randomUUID()}`, { bearer: token });
    assert.equal(missing.status, 404);
    assert.equal((await owner.delete('/api/v1/auth/api-keys/not-a-uuid', { bearer: token })).status, 400);
    assert.equal((await owner.get('/api/v1/auth/me', { apiKey: key.key, cookies: false })).status, 200);
    assert.equal((await owner.delete(`/api/v1/auth/api-keys/${key.id}`, { bearer: token })).status, 200);
    assert.equal((await owner.get('/api/v1/auth/me', { apiKey: key.key, cookies: false })).status, 401, 'a deleted key is refused at once');
  });

  it('keys authenticate only through X-Api-Key', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('header'));
    const key = (await c.post('/api/v1/auth/api-keys', { json: {}, bearer: token })).body.key;
    assert.equal((await c.get('/api/v1/auth/me', { headers: { 'X-API-KEY': key }, cookies: false })).status, 200);
    assert.equal((await c.get('/api/v1/auth/me', { bearer: key, cookies: false })).status, 401);
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key.toUpperCase(), cookies: false })).status, 401);
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key.slice(0, 63), cookies: false })).status, 401);
  });

  it('last_used_at is set on first use and not rewritten at once (throttled)', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('used'));
    const key = (await c.post('/api/v1/auth/api-keys', { json: {}, bearer: token })).body;
    assert.equal((await storedKey(server, key.id))!.last_used_at, null);
    await c.get('/api/v1/auth/me', { apiKey: key.key, cookies: false });
    await new Promise((r) => setTimeout(r, 50));
    const first = (await storedKey(server, key.id))!.last_used_at;
    assert.ok(first);
    await c.get('/api/v1/auth/me', { apiKey: key.key, cookies: false });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await storedKey(server, key.id))!.last_used_at, first);
  });

  it('keys of a deactivated or deleted user stop working', async () => {
    const admin = server.client();
    const adminToken = await admin.login('default_user@example.com', ADMIN_PASSWORD);
    const c = server.client();
    const { token, id } = await c.signUp(uniqueEmail('gone'));
    const key = (await c.post('/api/v1/auth/api-keys', { json: {}, bearer: token })).body.key;
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key, cookies: false })).status, 200);
    await admin.patch(`/api/v1/users/${id}`, { json: { is_active: false }, bearer: adminToken });
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key, cookies: false })).status, 401);
    await admin.patch(`/api/v1/users/${id}`, { json: { is_active: true }, bearer: adminToken });
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key, cookies: false })).status, 200, 'reactivation restores API keys');
    await admin.delete(`/api/v1/users/${id}`, { bearer: adminToken });
    assert.equal((await c.get('/api/v1/auth/me', { apiKey: key, cookies: false })).status, 401);
  });
});

describe('D11: HASH_API_KEY=false keeps the reference plaintext mode', () => {
  it('plaintext keys are listed raw; keys of either mode keep working after the setting changes', async () => {
    const first = await startTestServer({ env: { HASH_API_KEY: 'false' } });
    const c = first.client();
    const email = uniqueEmail('plain');
    const password = strongPassword();
    const { token } = await c.signUp(email, password);
    const plain = (await c.post('/api/v1/auth/api-keys', { json: { name: 'p' }, bearer: token })).body;
    assert.equal((await c.get('/api/v1/auth/api-keys', { bearer: token })).body[0].key, plain.key);
    assert.equal((await storedKey(first, plain.id))!.api_key, plain.key);
    await first.engram.close();

    const second = await startTestServer({ root: first.root, dbEnv: first.dbEnv });
    try {
      const c2 = second.client();
      assert.equal((await c2.get('/api/v1/auth/me', { apiKey: plain.key })).status, 200, 'a plaintext key after hashing is turned on');
      const token2 = await c2.login(email, password);
      const hashed = (await c2.post('/api/v1/auth/api-keys', { json: {}, bearer: token2 })).body;
      const listed = (await c2.get('/api/v1/auth/api-keys', { bearer: token2 })).body.map((k: { key: string }) => k.key).sort();
      assert.deepEqual(listed, ['************', plain.key].sort());
      await second.engram.close();
      const third = await startTestServer({ root: first.root, dbEnv: first.dbEnv, env: { HASH_API_KEY: 'false' } });
      try {
        assert.equal((await third.client().get('/api/v1/auth/me', { apiKey: hashed.key })).status, 200, 'a hashed key after hashing is turned off');
      } finally {
        await third.engram.close();
      }
    } finally {
      await second.close();
      await first.close();
    }
  });
});
