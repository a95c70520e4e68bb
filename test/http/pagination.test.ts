import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Lists page with `limit` and `offset`. A dataset's items come 100 at a time unless a limit is given
 * (the reference's SDK-607 fix: `limit` 1..1000, default 100), and `/data/count` says how many there
 * are. Datasets, a tenant's members and roles, and the search history page the same way when asked,
 * and answer their whole list when not (what old clients always got). A limit or offset that is not
 * an integer or is out of range is 422 naming the field, never clamped.
 */

const ITEMS = 101;

describe('pagination of the lists', () => {
  let server: TestServer;
  let a: Actor;
  let dataset: string;
  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true', ENABLE_BACKEND_ACCESS_CONTROL: 'true' } });
    a = await signUpActor(server, 'pages');
    const files = Array.from({ length: ITEMS }, (_, i) => ({ name: `doc-${String(i).padStart(3, '0')}.txt`, text: `Document number ${i} about page ${i}.` }));
    const added = await upload(server, a, { datasetName: 'paged' }, files);
    assert.equal(added.status, 200, JSON.stringify(added.body));
    dataset = added.body.dataset_id;
  });
  after(async () => server.close());

  const get = (path: string) => a.c.get(path, asActor(a));

  it("a dataset's items: 100 by default, limit/offset page through every item once in a stable order, and /data/count counts them", async () => {
    const first = await get(`/api/v1/datasets/${dataset}/data`);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.length, 100, 'the default page is bounded');
    const count = await get(`/api/v1/datasets/${dataset}/data/count`);
    assert.deepEqual([count.status, count.body], [200, { count: ITEMS }]);
    const whole = await get(`/api/v1/datasets/${dataset}/data?limit=1000`);
    assert.equal(whole.body.length, ITEMS);
    const seen: string[] = [];
    for (let offset = 0; offset < ITEMS; offset += 40) {
      const page = await get(`/api/v1/datasets/${dataset}/data?limit=40&offset=${offset}`);
      assert.equal(page.status, 200);
      seen.push(...page.body.map((d: { id: string }) => d.id));
    }
    assert.deepEqual(
      seen,
      whole.body.map((d: { id: string }) => d.id),
      'pages neither skip nor repeat, in the listing order',
    );
    assert.deepEqual(first.body, whole.body.slice(0, 100));
    const tail = await get(`/api/v1/datasets/${dataset}/data?offset=100`);
    assert.deepEqual(tail.body, whole.body.slice(100), 'offset alone: the default limit from there');
    assert.deepEqual((await get(`/api/v1/datasets/${dataset}/data?offset=5000`)).body, []);
  });

  it("the count and the items need read on the dataset: another user gets the reference's 403", async () => {
    const b = await signUpActor(server, 'pages-other');
    for (const path of [`/api/v1/datasets/${dataset}/data/count`, `/api/v1/datasets/${dataset}/data?limit=1`]) {
      const res = await b.c.get(path, asActor(b));
      assert.equal(res.status, 403, `${path}: ${res.text}`);
      assert.ok(!res.text.includes('count'));
    }
  });

  it('datasets: the whole list without a limit (as before); limit and offset page it', async () => {
    for (const name of ['pa', 'pb', 'pc']) assert.equal((await a.c.post('/api/v1/datasets', { json: { name }, ...asActor(a) })).status, 200);
    const all = (await get('/api/v1/datasets')).body.map((d: { id: string }) => d.id);
    assert.equal(all.length, 4);
    assert.deepEqual(
      (await get('/api/v1/datasets?limit=2')).body.map((d: { id: string }) => d.id),
      all.slice(0, 2),
    );
    assert.deepEqual(
      (await get('/api/v1/datasets?limit=2&offset=2')).body.map((d: { id: string }) => d.id),
      all.slice(2),
    );
    assert.deepEqual(
      (await get('/api/v1/datasets?offset=3')).body.map((d: { id: string }) => d.id),
      all.slice(3),
    );
  });

  it('search history: the whole history without a limit (as before); limit and offset page it', async () => {
    for (const query of ['first question', 'second question']) {
      const res = await a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query, datasetIds: [dataset] }, ...asActor(a) });
      assert.equal(res.status, 200, res.text);
    }
    const all = (await get('/api/v1/search')).body;
    assert.equal(all.length, 4, 'two queries and their two answers');
    assert.deepEqual((await get('/api/v1/search?limit=1&offset=2')).body, all.slice(2, 3));
    assert.deepEqual((await get('/api/v1/search?offset=1')).body, all.slice(1));
  });

  it("a tenant's members and roles: the whole list without a limit (as before); limit and offset page it", async () => {
    const tenantId = (await a.c.post('/api/v1/permissions/tenants?tenant_name=paging-org', asActor(a))).body.tenant_id as string;
    for (const prefix of ['m1', 'm2']) {
      const m = await signUpActor(server, prefix);
      assert.equal((await a.c.post(`/api/v1/permissions/users/${m.id}/tenants?tenant_id=${tenantId}`, asActor(a))).status, 200);
    }
    for (const role of ['alpha', 'beta', 'gamma']) assert.equal((await a.c.post(`/api/v1/permissions/roles?role_name=${role}`, asActor(a))).status, 200);
    const users = (await get(`/api/v1/permissions/tenants/${tenantId}/users`)).body;
    assert.equal(users.length, 3);
    assert.deepEqual((await get(`/api/v1/permissions/tenants/${tenantId}/users?limit=2`)).body, users.slice(0, 2));
    assert.deepEqual((await get(`/api/v1/permissions/tenants/${tenantId}/users?limit=2&offset=2`)).body, users.slice(2));
    const roles = (await get(`/api/v1/permissions/tenants/${tenantId}/roles`)).body;
    assert.deepEqual(
      roles.map((r: { name: string }) => r.name),
      ['alpha', 'beta', 'gamma'],
    );
    assert.deepEqual((await get(`/api/v1/permissions/tenants/${tenantId}/roles?offset=1&limit=1`)).body, roles.slice(1, 2));
  });

  it('a limit or offset that is not an integer or is out of range is 422 naming the field, on every paged route', async () => {
    const routes = ['/api/v1/datasets', `/api/v1/datasets/${dataset}/data`, '/api/v1/search'];
    const cases: [string, string, string][] = [
      ['limit=0', 'limit', 'greater_than_equal'],
      ['limit=1001', 'limit', 'less_than_equal'],
      ['limit=-1', 'limit', 'greater_than_equal'],
      ['limit=abc', 'limit', 'int_parsing'],
      ['limit=1.5', 'limit', 'int_parsing'],
      ['limit=', 'limit', 'int_parsing'],
      ['offset=-1', 'offset', 'greater_than_equal'],
      ['offset=1e3', 'offset', 'int_parsing'],
      ['offset=99999999999999999999', 'offset', 'int_parsing'],
    ];
    for (const route of routes) {
      for (const [query, field, type] of cases) {
        const res = await get(`${route}?${query}`);
        assert.equal(res.status, 422, `${route}?${query}: ${res.text}`);
        assert.equal(res.body.detail.length, 1);
        assert.deepEqual([res.body.detail[0].loc, res.body.detail[0].type], [['query', field], type], `${route}?${query}`);
      }
    }
    const both = await get('/api/v1/datasets?limit=0&offset=-2');
    assert.deepEqual(
      both.body.detail.map((d: { loc: string[] }) => d.loc[1]),
      ['limit', 'offset'],
    );
  });
});
