import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type Client, type TestServer } from '../helpers/harness.js';

/**
 * An empty body sent with `Content-Type: application/json` is no body, on every route, as in the
 * reference (FastAPI reads an empty JSON body as none): clients that set the header on every
 * request — the reference's MCP server on its deletes, SDKs probing for an older server by its 404 —
 * get the route's own answer instead of a JSON decode error. Malformed JSON is still 400, a route
 * that needs a body still says it is missing, an unknown route is still 404, and the request guard's
 * declared-content-types rule (D25) still refuses other body types.
 */

const JSON_TYPE = { 'content-type': 'application/json' };

for (const required of [false, true]) {
  describe(`an empty JSON body is no body (authentication ${required ? 'required' : 'disabled'})`, () => {
    let server: TestServer;
    let c: Client;
    let auth: { bearer?: string; cookies: false };
    before(async () => {
      server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: String(required), ENABLE_BACKEND_ACCESS_CONTROL: String(required) } });
      c = server.client();
      auth = { cookies: false };
      if (required) auth = { bearer: (await c.signUp(`empty-body-${Date.now()}@example.com`)).token, cookies: false };
    });
    after(async () => server.close());

    it('DELETE of a dataset with Content-Type: application/json and no bytes deletes it (200, not a JSON decode error)', async () => {
      const created = await c.post('/api/v1/datasets', { ...auth, json: { name: 'emptybody' } });
      assert.equal(created.status, 200, created.text);
      const res = await c.delete(`/api/v1/datasets/${created.body.id}`, { ...auth, headers: JSON_TYPE, raw: '' });
      assert.equal(res.status, 200, res.text);
      const list = await c.get('/api/v1/datasets', auth);
      assert.ok(!list.body.some((d: { id: string }) => d.id === created.body.id), 'the dataset is gone');
    });

    it('an unknown route answers 404 to POST and DELETE with an empty JSON body', async () => {
      for (const method of ['POST', 'DELETE', 'PATCH', 'PUT']) {
        const res = await c.request(method, '/api/v1/no-such-route', { ...auth, headers: JSON_TYPE, raw: '' });
        assert.equal(res.status, 404, `${method}: ${res.text}`);
        assert.deepEqual(res.body, { detail: 'Not Found' });
      }
    });

    it('a route that needs a body answers that the body is missing (400 envelope), never a decode error or a 500', async () => {
      const res = await c.post('/api/v1/datasets', { ...auth, headers: JSON_TYPE, raw: '' });
      assert.equal(res.status, 400, res.text);
      assert.notDeepEqual(res.body.detail, [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }]);
    });

    it('malformed JSON is still a 400 decode error, and a body of an undeclared type still 415 (D25)', async () => {
      const bad = await c.post('/api/v1/datasets', { ...auth, headers: JSON_TYPE, raw: '{' });
      assert.equal(bad.status, 400, bad.text);
      assert.deepEqual(bad.body, { detail: [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }], body: null });
      const text = await c.post('/api/v1/datasets', { ...auth, headers: { 'content-type': 'text/plain' }, raw: 'x' });
      assert.equal(text.status, 415, text.text);
    });

    it('prototype poisoning is still refused by the JSON parser', async () => {
      const res = await c.post('/api/v1/datasets', { ...auth, headers: JSON_TYPE, raw: '{"name":"p","__proto__":{"x":1}}' });
      assert.equal(res.status, 400, res.text);
    });
  });
}
