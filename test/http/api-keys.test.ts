import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eventually, startTestServer, strongPassword, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * The API-key routes of the reference (GET/POST /api/v1/auth/api-keys, DELETE …/{id}) with D11
 * (256-bit keys, `HASH_API_KEY` on by default storing `sha256$<hex>`, shown once; the reference's
 * plaintext mode with `HASH_API_KEY=false`), D14 (a missing or foreign key is 404, not 500), the
 * per-user limit, and what a key authenticates as and for how long.
 */
const KEYS = '/api/v1/auth/api-keys';
/** How a hashed key is listed once created: without its value, so clients that reuse a listed key mint one instead. */
const MASKED = null;
const LIMIT_REACHED = { error: { message: 'You have reached the maximum number of API keys.' } };
const UNAUTHORIZED = { detail: 'Unauthorized' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');
const ADMIN_EMAIL = 'default_user@example.com';
const ADMIN_PASSWORD = strongPassword();

interface Created {
  readonly key: string;
  readonly label: string;
  readonly name: string | null;
  readonly id: string;
}

async function storedRow(server: TestServer, id: string) {
  return server.engram.store.db.selectFrom('user_api_key').selectAll().where('id', '=', id).executeTakeFirst();
}

async function storedCount(server: TestServer, userId: string): Promise<number> {
  const rows = await server.engram.store.db.selectFrom('user_api_key').select('id').where('user_id', '=', userId).execute();
  return rows.length;
}

async function createKey(c: Client, token: string, body: unknown = {}): Promise<Created> {
  const res = await c.post(KEYS, { json: body, bearer: token, cookies: false });
  assert.equal(res.status, 200, res.text);
  return res.body as Created;
}

/** GET /api/v1/auth/me with only the key (no cookie, no bearer). */
const meByKey = (c: Client, key: string) => c.get('/api/v1/auth/me', { apiKey: key, cookies: false });

describe('D11: API keys with HASH_API_KEY at its default (true)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { MAX_USER_API_KEYS: '3', DEFAULT_USER_PASSWORD: ADMIN_PASSWORD } });
  });
  after(() => server.close());

  it('D11: create answers 200 {key: 64 lowercase hex, label "<first 8>****", name, id}, not cached', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('create'));
    const res = await c.post(KEYS, { json: { name: 'agent' }, bearer: token, cookies: false });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body), ['key', 'label', 'name', 'id']);
    const key: string = res.body.key;
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.match(res.body.id, UUID);
    assert.deepEqual(res.body, { key, label: `${key.slice(0, 8)}****`, name: 'agent', id: res.body.id });
    assert.equal(res.headers.get('cache-control'), 'no-store', 'a response carrying a secret is not cached');
    const second = await createKey(c, token);
    assert.notEqual(second.key, key);
    assert.notEqual(second.id, res.body.id);
  });

  it('the name is optional: {}, {"name": null} and a JSON null body give name null', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('names'));
    assert.equal((await createKey(c, token, {})).name, null);
    assert.equal((await createKey(c, token, { name: null })).name, null);
    const nullBody = await c.post(KEYS, { raw: 'null', headers: { 'content-type': 'application/json' }, bearer: token, cookies: false });
    assert.equal(nullBody.status, 200, nullBody.text);
    assert.equal(nullBody.body.name, null);
    assert.match(nullBody.body.key, /^[0-9a-f]{64}$/);
  });

  it('a name that is not a string, or longer than 255 characters, is a 400 validation error', async () => {
    const c = server.client();
    const { token, id } = await c.signUp(uniqueEmail('bad-name'));
    const number = await c.post(KEYS, { json: { name: 5 }, bearer: token, cookies: false });
    assert.deepEqual([number.status, number.body.detail[0].loc, number.body.body], [400, ['body', 'name'], { name: 5 }]);
    const long = await c.post(KEYS, { json: { name: 'x'.repeat(256) }, bearer: token, cookies: false });
    assert.deepEqual([long.status, long.body.detail[0].loc], [400, ['body', 'name']]);
    assert.equal(await storedCount(server, id), 0, 'nothing was created');
    assert.equal((await createKey(c, token, { name: 'x'.repeat(255) })).name, 'x'.repeat(255));
  });

  it("D11: the listing shows the label, name and id of each of the caller's keys with a hashed key given as `key: null`", async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('list'));
    const k1 = await createKey(c, token, { name: 'first' });
    const k2 = await createKey(c, token, {});
    const other = server.client();
    const { token: otherToken } = await other.signUp(uniqueEmail('list-other'));
    await createKey(other, otherToken, { name: 'not yours' });
    const list = await c.get(KEYS, { bearer: token, cookies: false });
    assert.equal(list.status, 200);
    const expected = [
      { key: MASKED, label: k1.label, name: 'first', id: k1.id },
      { key: MASKED, label: k2.label, name: null, id: k2.id },
    ];
    assert.deepEqual(
      [...list.body].sort((x: Created, y: Created) => x.id.localeCompare(y.id)),
      expected.sort((x, y) => x.id.localeCompare(y.id)),
    );
    assert.ok(!list.text.includes(k1.key) && !list.text.includes(k2.key), 'a hashed key is never shown again');
    const fresh = server.client();
    const { token: freshToken } = await fresh.signUp(uniqueEmail('list-none'));
    assert.deepEqual((await fresh.get(KEYS, { bearer: freshToken, cookies: false })).body, []);
  });

  it('D11: the stored value is sha256$<hex of sha256(key)>; the raw key is stored nowhere', async () => {
    const c = server.client();
    const { token, id } = await c.signUp(uniqueEmail('stored'));
    const created = await createKey(c, token, { name: 'stored' });
    const row = await storedRow(server, created.id);
    assert.ok(row);
    assert.equal(row.api_key, `sha256$${sha256(created.key)}`);
    assert.equal(row.user_id, id);
    assert.equal(row.label, created.label);
    assert.equal(row.name, 'stored');
    assert.ok(!JSON.stringify(row).includes(created.key), 'no column holds the raw key');
    assert.equal((await meByKey(c, created.key)).status, 200);
  });

  it('MAX_USER_API_KEYS=3: the 4th create is 400 {"error":{"message":…}}; deleting one makes room; the limit is per user', async () => {
    const c = server.client();
    const { token, id } = await c.signUp(uniqueEmail('max'));
    const keys = [await createKey(c, token), await createKey(c, token), await createKey(c, token)];
    const fourth = await c.post(KEYS, { json: {}, bearer: token, cookies: false });
    assert.deepEqual([fourth.status, fourth.body], [400, LIMIT_REACHED]);
    assert.equal(await storedCount(server, id), 3);
    assert.equal((await c.delete(`${KEYS}/${keys[0]!.id}`, { bearer: token, cookies: false })).status, 200);
    await createKey(c, token);
    assert.deepEqual((await c.post(KEYS, { json: {}, bearer: token, cookies: false })).body, LIMIT_REACHED);
    const other = server.client();
    const { token: otherToken } = await other.signUp(uniqueEmail('max-other'));
    for (let i = 0; i < 3; i++) await createKey(other, otherToken);
  });

  it('MAX_USER_API_KEYS=3 holds under 5 concurrent creates: exactly 3 keys exist, the others get the limit answer', async () => {
    const c = server.client();
    const { token, id } = await c.signUp(uniqueEmail('race'));
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => c.post(KEYS, { json: { name: `k${i}` }, bearer: token, cookies: false })));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 3, results.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const r of results.filter((r) => r.status !== 200)) assert.deepEqual([r.status, r.body], [400, LIMIT_REACHED]);
    assert.equal(await storedCount(server, id), 3);
    const listed = (await c.get(KEYS, { bearer: token, cookies: false })).body as Created[];
    assert.deepEqual(listed.map((k) => k.id).sort(), ok.map((r) => r.body.id).sort());
    for (const r of ok) assert.equal((await meByKey(c, r.body.key)).status, 200);
  });

  it("D14: deleting a missing key or another user's key is 404 [ApiKeyNotFoundError]; the key keeps working for its owner", async () => {
    const owner = server.client();
    const { token, id: ownerId } = await owner.signUp(uniqueEmail('owner'));
    const key = await createKey(owner, token, { name: 'mine' });
    const thief = server.client();
    const { token: thiefToken } = await thief.signUp(uniqueEmail('thief'));

    const foreign = await thief.delete(`${KEYS}/${key.id}`, { bearer: thiefToken, cookies: false });
    assert.deepEqual([foreign.status, foreign.body], [404, { detail: `Could not find API key: ${key.id} [ApiKeyNotFoundError]` }]);
    const missingId = randomUUID();
    const missing = await owner.delete(`${KEYS}/${missingId}`, { bearer: token, cookies: false });
    assert.deepEqual([missing.status, missing.body], [404, { detail: `Could not find API key: ${missingId} [ApiKeyNotFoundError]` }]);

    const me = await meByKey(owner, key.key);
    assert.deepEqual([me.status, me.body.email], [200, (await owner.get('/api/v1/users/me', { bearer: token, cookies: false })).body.email]);
    assert.equal((await storedRow(server, key.id))?.user_id, ownerId);
    assert.deepEqual((await owner.get(KEYS, { bearer: token, cookies: false })).body, [{ key: MASKED, label: key.label, name: 'mine', id: key.id }]);
    // The thief cannot delete it with the owner's key id through their own key either.
    const thiefKey = await createKey(thief, thiefToken);
    assert.equal((await thief.delete(`${KEYS}/${key.id}`, { apiKey: thiefKey.key, cookies: false })).status, 404);
    assert.equal((await meByKey(owner, key.key)).status, 200);
  });

  it('a key id that is not a UUID is a 400 validation error', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('non-uuid'));
    const res = await c.delete(`${KEYS}/not-a-uuid`, { bearer: token, cookies: false });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { detail: [{ type: 'invalid_format', loc: ['path', 'api_key_id'], msg: 'Invalid UUID' }], body: null });
  });

  it('a deleted key is refused with 401 at once, even right after it was used (and cached); the delete answers 200 null', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('deleted'));
    const key = await createKey(c, token);
    const keep = await createKey(c, token);
    assert.equal((await meByKey(c, key.key)).status, 200);
    assert.equal((await meByKey(c, key.key)).status, 200);
    const del = await c.delete(`${KEYS}/${key.id.toUpperCase()}`, { bearer: token, cookies: false });
    assert.deepEqual([del.status, del.text], [200, 'null'], 'an upper-case UUID names the same key');
    const after = await meByKey(c, key.key);
    assert.deepEqual([after.status, after.body], [401, UNAUTHORIZED]);
    assert.equal(await storedRow(server, key.id), undefined);
    assert.equal((await meByKey(c, keep.key)).status, 200, "the user's other key still works");
    assert.equal((await c.get('/api/v1/auth/me', { bearer: token, cookies: false })).status, 200, 'and so does the session');
    const again = await c.delete(`${KEYS}/${key.id}`, { bearer: token, cookies: false });
    assert.equal(again.status, 404, 'deleting twice is 404');
  });

  it('keys authenticate through X-Api-Key or, D25, Authorization: Bearer <key>; a cookie holding one, or a near miss in either header, is 401', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('header'));
    const key = (await createKey(c, token)).key;
    assert.equal((await c.get('/api/v1/auth/me', { headers: { 'X-API-KEY': key }, cookies: false })).status, 200, 'the header name is case-insensitive');
    assert.equal((await c.get('/api/v1/auth/me', { bearer: key, cookies: false })).status, 200, 'D25: a key may come as a bearer');
    for (const [label, options] of [
      ['cookie', { headers: { cookie: `auth_token=${key}` } }],
      ['upper-cased bearer key', { bearer: key.toUpperCase() }],
      ['bearer stored form', { bearer: `sha256$${sha256(key)}` }],
      ['upper-cased key', { apiKey: key.toUpperCase() }],
      ['truncated key', { apiKey: key.slice(0, 63) }],
      ['key plus a character', { apiKey: `${key}0` }],
      ['stored form', { apiKey: `sha256$${sha256(key)}` }],
      ['lookup hash', { apiKey: sha256(key) }],
    ] as const) {
      const res = await c.get('/api/v1/auth/me', { ...options, cookies: false });
      assert.deepEqual([res.status, res.body], [401, UNAUTHORIZED], label);
    }
  });

  it('API-key routes need a credential: 401 without one', async () => {
    const c = server.client();
    assert.deepEqual((await c.get(KEYS)).body, UNAUTHORIZED);
    const create = await c.post(KEYS, { json: {} });
    assert.deepEqual([create.status, create.body], [401, UNAUTHORIZED]);
    assert.equal((await c.delete(`${KEYS}/${randomUUID()}`)).status, 401);
  });

  it("a key acts as its user; it can manage that user's keys", async () => {
    const c = server.client();
    const email = uniqueEmail('acts');
    const { token, id } = await c.signUp(email);
    const key = await createKey(c, token);
    const me = await c.get('/api/v1/users/me', { apiKey: key.key, cookies: false });
    assert.deepEqual([me.status, me.body.id, me.body.email], [200, id, email]);
    const made = await c.post(KEYS, { json: { name: 'made by key' }, apiKey: key.key, cookies: false });
    assert.equal(made.status, 200);
    const listed = (await c.get(KEYS, { apiKey: key.key, cookies: false })).body as Created[];
    assert.deepEqual(listed.map((k) => k.id).sort(), [key.id, made.body.id].sort());
  });

  it('last_used_at is null at creation, set on first use, and not rewritten on an immediate second use', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('used'));
    const key = await createKey(c, token);
    const row0 = await storedRow(server, key.id);
    assert.equal(row0!.last_used_at, null);
    assert.ok(row0!.created_at);
    const before = Date.now();
    assert.equal((await meByKey(c, key.key)).status, 200);
    let first: string | null = null;
    await eventually(async () => (first = (await storedRow(server, key.id))!.last_used_at) !== null, 2000);
    const firstMs = Date.parse(first!);
    assert.ok(firstMs >= before - 1000 && firstMs <= Date.now() + 1000, `last_used_at ${first} is the time of the first use`);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await meByKey(c, key.key)).status, 200);
    assert.equal((await c.get('/api/v1/users/me', { apiKey: key.key, cookies: false })).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await storedRow(server, key.id))!.last_used_at, first, 'throttled: not rewritten');
  });

  it('keys of a deactivated user stop working (and work again on reactivation); keys of a deleted user stop working', async () => {
    const admin = server.client();
    const adminToken = await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const c = server.client();
    const { token, id } = await c.signUp(uniqueEmail('gone'));
    const key = await createKey(c, token);
    assert.equal((await meByKey(c, key.key)).status, 200, 'used, so cached');

    const off = await admin.patch(`/api/v1/users/${id}`, { json: { is_active: false }, bearer: adminToken, cookies: false });
    assert.deepEqual([off.status, off.body.is_active], [200, false]);
    assert.deepEqual([(await meByKey(c, key.key)).status, (await meByKey(c, key.key)).body], [401, UNAUTHORIZED]);
    assert.equal((await c.post(KEYS, { json: {}, apiKey: key.key, cookies: false })).status, 401);

    assert.equal((await admin.patch(`/api/v1/users/${id}`, { json: { is_active: true }, bearer: adminToken, cookies: false })).status, 200);
    assert.equal((await meByKey(c, key.key)).status, 200, 'reactivation restores the key');

    assert.equal((await admin.delete(`/api/v1/users/${id}`, { bearer: adminToken, cookies: false })).status, 204);
    assert.deepEqual([(await meByKey(c, key.key)).status, (await meByKey(c, key.key)).body], [401, UNAUTHORIZED]);
    assert.equal(await storedRow(server, key.id), undefined, "the deleted user's keys are gone from the store");
  });
});

describe('D11: HASH_API_KEY=false keeps the reference plaintext mode; switching modes keeps keys working', () => {
  it('plaintext keys are stored and listed raw; after a restart with hashing on they still work, and hashed keys keep working with it off', async () => {
    const first = await startTestServer({ env: { HASH_API_KEY: 'false' } });
    try {
      const c = first.client();
      const email = uniqueEmail('plain');
      const password = strongPassword();
      const { token } = await c.signUp(email, password);
      const plain = await createKey(c, token, { name: 'plain' });
      assert.match(plain.key, /^[0-9a-f]{64}$/);
      assert.equal(plain.label, `${plain.key.slice(0, 8)}****`);
      const row = await storedRow(first, plain.id);
      assert.equal(row!.api_key, plain.key, 'the reference stores the raw key in this mode');
      assert.deepEqual((await c.get(KEYS, { bearer: token, cookies: false })).body, [{ key: plain.key, label: plain.label, name: 'plain', id: plain.id }]);
      assert.equal((await meByKey(c, plain.key)).status, 200);
      await first.engram.close();

      // Same system root and database, hashing back at its default.
      const second = await startTestServer({ root: first.root, dbEnv: first.dbEnv });
      let hashed: Created;
      try {
        assert.equal(second.engram.config.auth.hashApiKeys, true);
        const c2 = second.client();
        const me = await meByKey(c2, plain.key);
        assert.deepEqual([me.status, me.body], [200, { email }], 'a plaintext key works with hashing on');
        const token2 = await c2.login(email, password);
        hashed = await createKey(c2, token2, { name: 'hashed' });
        assert.equal((await storedRow(second, hashed.id))!.api_key, `sha256$${sha256(hashed.key)}`);
        assert.equal((await storedRow(second, plain.id))!.api_key, plain.key, 'existing rows are not rewritten');
        const listed = (await c2.get(KEYS, { bearer: token2, cookies: false })).body as Created[];
        assert.deepEqual(
          listed.sort((x, y) => x.id.localeCompare(y.id)),
          [
            { key: plain.key, label: plain.label, name: 'plain', id: plain.id },
            { key: MASKED, label: hashed.label, name: 'hashed', id: hashed.id },
          ].sort((x, y) => x.id.localeCompare(y.id)),
        );
      } finally {
        await second.engram.close();
      }

      const third = await startTestServer({ root: first.root, dbEnv: first.dbEnv, env: { HASH_API_KEY: 'false' } });
      try {
        const c3 = third.client();
        assert.deepEqual((await meByKey(c3, hashed.key)).body, { email }, 'a hashed key works with hashing off');
        assert.deepEqual((await meByKey(c3, plain.key)).body, { email });
        const token3 = await c3.login(email, password);
        const listed = (await c3.get(KEYS, { bearer: token3, cookies: false })).body as Created[];
        assert.equal(listed.find((k) => k.id === hashed.id)!.key, MASKED, 'a hashed key cannot be shown again, whatever the mode');
        assert.equal(listed.find((k) => k.id === plain.id)!.key, plain.key);
        assert.equal((await c3.delete(`${KEYS}/${hashed.id}`, { bearer: token3, cookies: false })).status, 200);
        assert.equal((await meByKey(c3, hashed.key)).status, 401);
      } finally {
        await third.engram.close();
      }
    } finally {
      await first.close();
    }
  });
});
