import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Stored originals are keyed by the SHA-256 of their bytes: two users uploading different files
 * with the same MD5 (a published collision pair) and the same name each get their own bytes back,
 * in the shared data root of single-user mode and in one tenant's directory in multi-tenant mode.
 * On SQLite and PostgreSQL (ENGRAM_TEST_DB).
 */

// Selinger's MD5 collision pair: 128 bytes each, six bytes apart, one MD5.
const FIRST = Buffer.from(
  'd131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5b' +
    'd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70',
  'hex',
);
const SECOND = Buffer.from(FIRST);
for (const i of [19, 45, 59, 83, 109, 123]) SECOND[i] = SECOND[i]! ^ 0x80;

async function add(server: TestServer, a: Actor, datasetName: string, bytes: Buffer): Promise<{ ds: string; dataId: string }> {
  const form = new FormData();
  form.append('datasetName', datasetName);
  form.append('data', new Blob([bytes], { type: 'application/octet-stream' }), 'report.bin');
  const response = await fetch(`${server.url}/api/v1/add`, { method: 'POST', body: form, headers: { authorization: `Bearer ${a.token}` } });
  const body = (await response.json()) as any;
  assert.equal(response.status, 200, JSON.stringify(body));
  const items = (await (
    await fetch(`${server.url}/api/v1/datasets/${body.dataset_id}/data`, { headers: { authorization: `Bearer ${a.token}` } })
  ).json()) as any[];
  return { ds: body.dataset_id, dataId: items[0].id };
}

async function raw(server: TestServer, a: Actor, item: { ds: string; dataId: string }): Promise<Buffer> {
  const response = await fetch(`${server.url}/api/v1/datasets/${item.ds}/data/${item.dataId}/raw`, { headers: { authorization: `Bearer ${a.token}` } });
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

it('the collision pair is one: different bytes, one MD5', () => {
  assert.ok(!FIRST.equals(SECOND));
  assert.equal(createHash('md5').update(FIRST).digest('hex'), createHash('md5').update(SECOND).digest('hex'));
});

for (const multiTenant of [false, true]) {
  describe(`stored originals with colliding MD5s (${multiTenant ? 'multi-tenant, one tenant' : 'single-user, shared data root'})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant), REQUIRE_AUTHENTICATION: 'true' } });
    });
    after(async () => {
      await server.close();
    });

    it('each user gets back the bytes they uploaded', async () => {
      const a = await signUpActor(server, 'files-a');
      const b = await signUpActor(server, 'files-b');
      if (multiTenant) {
        // Both in a's tenant: one storage directory.
        const tenant = await a.c.post('/api/v1/permissions/tenants?tenant_name=files', { bearer: a.token, cookies: false });
        assert.equal(tenant.status, 200, tenant.text);
        const joined = await a.c.post(`/api/v1/permissions/users/${b.id}/tenants?tenant_id=${tenant.body.tenant_id}`, { bearer: a.token, cookies: false });
        assert.equal(joined.status, 200, joined.text);
        const selected = await b.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenant.body.tenant_id }, bearer: b.token, cookies: false });
        assert.equal(selected.status, 200, selected.text);
      }
      const first = await add(server, a, 'mine', FIRST);
      const second = await add(server, b, 'mine', SECOND);
      assert.ok((await raw(server, a, first)).equals(FIRST), "a's original is a's bytes");
      assert.ok((await raw(server, b, second)).equals(SECOND), "b's original is b's bytes");
    });
  });
}
