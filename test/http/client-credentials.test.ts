import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * What the reference's clients send to authenticate:
 *   - D25: an API key as `Authorization: Bearer <key>` (the reference's MCP server; the opencode
 *     plugin sends it in both headers). A bearer that is not a JWT is looked up as a key and only as
 *     a key; D6 holds (X-Api-Key, then Bearer, then the cookie; anything presented and invalid is
 *     401 in every posture), and the credential cache answers only for the exact credential and kind;
 *   - D11: the plugins' bootstrap (log in, list the keys, reuse `keys[0].key`, else mint one): a
 *     hashed key is listed as `key: null`, so they mint a key instead of sending a mask.
 */

const KEYS = '/api/v1/auth/api-keys';
const ME = '/api/v1/users/me';
const UNAUTHORIZED = { detail: 'Unauthorized' };

for (const required of [true, false]) {
  describe(`D25: an API key sent as a bearer (authentication ${required ? 'required' : 'disabled'})`, () => {
    let server: TestServer;
    let c: Client;
    let user: { id: string; token: string };
    let key: { id: string; key: string };
    before(async () => {
      server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: String(required), ENABLE_BACKEND_ACCESS_CONTROL: String(required) } });
      c = server.client();
      user = await c.signUp(uniqueEmail('bearer-key'));
      const created = await c.post(KEYS, { bearer: user.token, cookies: false, json: { name: 'mcp' } });
      assert.equal(created.status, 200, created.text);
      key = created.body;
    });
    after(async () => server.close());

    it("Authorization: Bearer <api key> authenticates as the key's user, twice (the second from the cache)", async () => {
      for (let i = 0; i < 2; i++) {
        const me = await c.get(ME, { bearer: key.key, cookies: false });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.body.id, user.id);
      }
    });

    it('the key in both headers (the opencode plugin) authenticates', async () => {
      const me = await c.get(ME, { bearer: key.key, apiKey: key.key, cookies: false });
      assert.deepEqual([me.status, me.body.id], [200, user.id]);
    });

    it('D6 order holds: a valid X-Api-Key wins over a bad bearer key; a bad X-Api-Key falls through to a valid bearer key', async () => {
      const a = await c.get(ME, { apiKey: key.key, bearer: 'f'.repeat(64), cookies: false });
      assert.deepEqual([a.status, a.body.id], [200, user.id]);
      const b = await c.get(ME, { apiKey: 'f'.repeat(64), bearer: key.key, cookies: false });
      assert.deepEqual([b.status, b.body.id], [200, user.id]);
    });

    it('an unknown opaque bearer is 401 (D6: presented and invalid), never the default user', async () => {
      for (const bearer of ['0'.repeat(64), 'not-a-key', key.key.slice(0, 63), `${key.key}0`]) {
        const me = await c.get('/api/v1/datasets', { bearer, cookies: false });
        assert.deepEqual([me.status, me.body], [401, UNAUTHORIZED], bearer);
      }
    });

    it('a JWT is never looked up as a key nor a key as a token: a valid token in X-Api-Key is 401, even once cached as a bearer', async () => {
      assert.equal((await c.get(ME, { bearer: user.token, cookies: false })).status, 200);
      const res = await c.get('/api/v1/datasets', { apiKey: user.token, cookies: false });
      assert.deepEqual([res.status, res.body], [401, UNAUTHORIZED]);
      // A key sent as a session cookie is not a session.
      const cookie = await c.get('/api/v1/datasets', { headers: { cookie: `auth_token=${key.key}` }, cookies: false });
      assert.deepEqual([cookie.status, cookie.body], [401, UNAUTHORIZED]);
    });

    it('a deleted key stops working as a bearer at once (the cached entry is dropped)', async () => {
      const extra = (await c.post(KEYS, { bearer: user.token, cookies: false, json: { name: 'short-lived' } })).body;
      assert.equal((await c.get(ME, { bearer: extra.key, cookies: false })).status, 200);
      assert.equal((await c.delete(`${KEYS}/${extra.id}`, { bearer: user.token, cookies: false })).status, 200);
      const after = await c.get('/api/v1/datasets', { bearer: extra.key, cookies: false });
      assert.deepEqual([after.status, after.body], [401, UNAUTHORIZED]);
    });
  });
}

describe("D11: the plugins' key bootstrap against hashed keys", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true' } });
  });
  after(async () => server.close());

  it('a listed hashed key is `key: null`, so a client reusing keys[0].key mints one that works, instead of sending a mask', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('bootstrap'));
    const first = await c.post(KEYS, { bearer: token, cookies: false, json: { name: 'earlier' } });
    assert.equal(first.status, 200);
    // The bootstrap of the reference's plugins (session-start.py, openclaw's resolveOrMintApiKey).
    const listed = await c.get(KEYS, { bearer: token, cookies: false });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.length, 1);
    assert.equal(listed.body[0].key, null);
    assert.ok(!listed.text.includes(first.body.key), 'the key is never shown again');
    const reusable = String(listed.body[0].key ?? '').trim();
    const key = reusable || (await c.post(KEYS, { bearer: token, cookies: false, json: { name: 'bootstrap' } })).body.key;
    assert.equal((await c.get(ME, { apiKey: key, cookies: false })).status, 200);
  });
});
