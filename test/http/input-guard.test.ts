import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, uniqueEmail, type TestServer } from '../helpers/harness.js';

/** NUL characters never reach a store: every route answers 400 at the boundary (on PostgreSQL they used to fail as 500). */
describe('NUL characters in input', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('are a 400 in the validation envelope on every kind of input, and login stays LOGIN_BAD_CREDENTIALS', async () => {
    const c = server.client();
    const { token } = await c.signUp(uniqueEmail('nul'));
    const cases: [string, string, unknown, (string | number)[]][] = [
      ['POST', '/api/v1/permissions/tenants?tenant_name=a%00b', undefined, ['query', 'tenant_name']],
      ['POST', '/api/v1/datasets', { name: 'a\u0000b' }, ['body', 'name']],
      ['POST', '/api/v1/agents/create?name=a%00b', undefined, ['query', 'name']],
      ['POST', '/api/v1/configuration/store_user_configuration', { name: 'n', config: { deep: ['x', 'y\u0000'] } }, ['body', 'config', 'deep', 1]],
      ['POST', '/api/v1/auth/api-keys', { name: 'k\u0000' }, ['body', 'name']],
      ['POST', '/api/v1/auth/register', { email: uniqueEmail('x'), password: 'a long pass\u0000phrase' }, ['body', 'password']],
    ];
    for (const [method, path, json, loc] of cases) {
      const res = await c.request(method, path, { bearer: token, ...(json !== undefined ? { json } : {}) });
      assert.equal(res.status, 400, `${method} ${path}`);
      assert.deepEqual(res.body.detail, [{ type: 'string_nul', loc, msg: 'NUL characters are not allowed' }], `${method} ${path}`);
    }
    // A NUL in a key: refused too (here the schema, which runs first, misses the expected key).
    const key = await c.post('/api/v1/configuration/store_user_configuration', { json: { name: 'n', config: { ['k\u0000']: 1 } }, bearer: token });
    assert.deepEqual(key.body.detail, [{ type: 'string_nul', loc: ['body', 'config', 'k\u0000'], msg: 'NUL characters are not allowed' }]);
    const login = await c.post('/api/v1/auth/login', { form: { username: 'a\u0000@example.com', password: 'x' } });
    assert.deepEqual([login.status, login.body], [400, { detail: 'LOGIN_BAD_CREDENTIALS' }]);
    assert.equal((await c.get('/api/v1/datasets', { bearer: token })).status, 200, 'the server is unharmed');
  });
});
