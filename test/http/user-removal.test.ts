import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  TEST_DB,
  acceptPending,
  asActor,
  createPgDatabase,
  signUpActor,
  startTestServer,
  upload,
  type Actor,
  type Client,
  type TestServer,
} from '../helpers/harness.js';

/**
 * What deleting a user does to what they hold (D23, D24). Their grants, API keys, memberships,
 * roles, search history and sessions go with them. Their personal datasets are deleted whole —
 * rows, stored files, graph and vectors, the per-dataset databases on disk — and the shares of them
 * end; a file another dataset holds too stays. Their tenant datasets go to the tenant's owner (its
 * owner, with the four permissions), whoever else holds share. A tenant's owner is not deleted until
 * a superuser makes another member its owner. An agent deleted on its own leaves its personal
 * datasets to its creator. A deletion interrupted after its transaction is finished at the next
 * start. In both storage modes (a database per dataset; one shared store partitioned by dataset).
 */
const ADMIN_PASSWORD = 'Admin-user-removal-4711!';
const ADMIN_EMAIL = 'default_user@example.com';
const ALL = ['read', 'write', 'delete', 'share'];
const UNIQUE_TEXT = 'Marigold Quarry ships cobalt bells to Northwick every spring.';
const SHARED_TEXT = 'Juniper Ferry carries saffron crates across Wrenmere Sound.';

const envOf = (multiTenant: boolean) => ({
  ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant),
  REQUIRE_AUTHENTICATION: 'true',
  DEFAULT_USER_PASSWORD: ADMIN_PASSWORD,
});

/** Where a dataset lives on disk and in the relational store, read before it is deleted. */
interface Footprint {
  files: string[];
  stores: string[];
}

async function footprint(server: TestServer, datasetId: string): Promise<Footprint> {
  const db = server.engram.store.db;
  const data = await db.selectFrom('data').select('raw_data_location').where('dataset_id', '=', datasetId).execute();
  const files = data.map((d) => fileURLToPath(d.raw_data_location));
  const row = await db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', datasetId).executeTakeFirst();
  const stores: string[] = [];
  if (row?.graph_database_provider === 'kuzu' && row.graph_database_name) {
    stores.push(join(server.engram.config.systemRoot, 'databases', row.owner_id, row.graph_database_name));
  }
  if (row?.vector_database_provider === 'lancedb' && row.vector_database_url) stores.push(row.vector_database_url);
  return { files, stores };
}

/** Rows the dataset has anywhere in the relational store. */
async function rowsOf(server: TestServer, datasetId: string) {
  const db = server.engram.store.db;
  const count = async (table: 'datasets' | 'data' | 'acls' | 'dataset_database' | 'dataset_deletions') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .where(table === 'datasets' ? 'id' : 'dataset_id', '=', datasetId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    datasets: await count('datasets'),
    data: await count('data'),
    acls: await count('acls'),
    dataset_database: await count('dataset_database'),
    dataset_deletions: await count('dataset_deletions'),
  };
}
const NO_ROWS = { datasets: 0, data: 0, acls: 0, dataset_database: 0, dataset_deletions: 0 };

async function addTo(server: TestServer, who: Actor, dataset: string, text: string, cognify = true, fileName = `${dataset}.txt`) {
  const added = await upload(server, who, { datasetName: dataset }, [{ name: fileName, text }]);
  assert.equal(added.status, 200, JSON.stringify(added.body));
  const id = added.body.dataset_id as string;
  if (cognify) {
    const res = await who.c.post('/api/v1/cognify', { json: { datasetIds: [id] }, ...asActor(who) });
    assert.equal(res.status, 200, res.text);
  }
  return { id, dataId: (added.body.data_ingestion_info as { data_id: string }[])[0]!.data_id };
}

const ok = async <T extends { status: number; text: string }>(pending: Promise<T>): Promise<T> => {
  const res = await pending;
  assert.equal(res.status, 200, res.text);
  return res;
};

for (const multiTenant of [true, false]) {
  describe(`deleting a user: what becomes of their datasets (${multiTenant ? 'multi-tenant' : 'single-user, auth forced on'})`, () => {
    let server: TestServer;
    let admin: Client;
    let adminToken: string;
    before(async () => {
      server = await startTestServer({ env: envOf(multiTenant) });
      admin = server.client();
      adminToken = await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
      admin.jar.clear();
    });
    after(() => server.close());

    const actor = (prefix: string) => signUpActor(server, prefix);
    const deleteUser = (id: string) => admin.delete(`/api/v1/users/${id}`, { bearer: adminToken });
    const holders = async (a: Actor, id: string) => {
      const res = await ok(a.c.get(`/api/v1/permissions/datasets/${id}/principals`, asActor(a)));
      return new Map((res.body as { principal_id: string; permissions: string[] }[]).map((h) => [h.principal_id, h.permissions]));
    };
    const listed = async (a: Actor) => (await ok(a.c.get('/api/v1/datasets', asActor(a)))).body as { id: string; ownerId: string }[];
    const join = async (owner: Actor, member: Actor, tenantId: string) => {
      await ok(owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner)));
      await ok(member.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(member) }));
    };

    it('D23: personal datasets are deleted whole (rows, stored files, graph, vectors, their databases on disk) and their shares end; grants, keys, sessions and search history go', async () => {
      const owner = await actor('ur-owner');
      const friend = await actor('ur-friend');
      const personal = await addTo(server, owner, 'ur-personal', UNIQUE_TEXT);
      const alsoShared = await addTo(server, owner, 'ur-common', SHARED_TEXT, true, 'same.txt');
      const friends = await addTo(server, friend, 'ur-friends', SHARED_TEXT, true, 'same.txt');
      for (const permission of ['read', 'share']) {
        // A personal dataset's share is an offer the friend accepts (D23).
        await acceptPending(
          friend,
          await ok(owner.c.post(`/api/v1/permissions/datasets/${friend.id}?permission_name=${permission}`, { json: [personal.id], ...asActor(owner) })),
        );
      }
      assert.ok(
        (await listed(friend)).some((d) => d.id === personal.id),
        'the friend sees the share',
      );
      await ok(owner.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'cobalt bells', datasetIds: [personal.id] }, ...asActor(owner) }));
      const key = (await owner.c.post('/api/v1/auth/api-keys', { json: { name: 'ur' }, ...asActor(owner) })).body.key as string;
      assert.equal((await server.client().get('/api/v1/users/me', { apiKey: key, cookies: false })).status, 200);

      const db = server.engram.store.db;
      const before = { personal: await footprint(server, personal.id), common: await footprint(server, alsoShared.id) };
      const friendsFiles = (await footprint(server, friends.id)).files;
      // In the shared store the same upload is one stored file (a file per owner in multi-tenant mode).
      if (!multiTenant) assert.deepEqual(before.common.files, friendsFiles, 'the same upload is one stored file');
      const everything = [...before.personal.files, ...before.personal.stores, ...before.common.files, ...before.common.stores];
      assert.equal(before.personal.stores.length, multiTenant ? 2 : 0, 'a database per dataset in multi-tenant mode only');
      for (const path of everything) assert.ok(existsSync(path), `${path} exists before`);
      const history = () => db.selectFrom('search_history').select('id').where('user_id', '=', owner.id).execute();
      assert.ok((await history()).length > 0);

      assert.equal((await deleteUser(owner.id)).status, 204);

      for (const id of [personal.id, alsoShared.id]) assert.deepEqual(await rowsOf(server, id), NO_ROWS, `no row of ${id} is left`);
      const goneFiles = [...before.personal.files, ...before.personal.stores, ...before.common.stores, ...(multiTenant ? before.common.files : [])];
      for (const path of goneFiles) assert.ok(!existsSync(path), `${path} is gone`);
      assert.ok(existsSync(friendsFiles[0]!), "the friend's copy of the same text stays");
      assert.equal((await friend.c.get(`/api/v1/datasets/${friends.id}/data/${friends.dataId}/raw`, asActor(friend))).status, 200);
      assert.ok(!(await listed(friend)).some((d) => d.id === personal.id), 'the share ended');
      assert.notEqual((await friend.c.get(`/api/v1/datasets/${personal.id}/data`, asActor(friend))).status, 200);
      const search = await friend.c.post('/api/v1/search', {
        json: { searchType: 'CHUNKS', query: 'saffron crates', datasetIds: [friends.id] },
        ...asActor(friend),
      });
      assert.ok(search.text.includes('Juniper'), "the friend's own dataset still answers");
      assert.deepEqual(await history(), []);
      assert.deepEqual(await db.selectFrom('user_api_key').select('id').where('user_id', '=', owner.id).execute(), []);
      assert.deepEqual(await db.selectFrom('acls').select('id').where('principal_id', '=', owner.id).execute(), []);
      assert.equal((await server.client().get('/api/v1/users/me', { apiKey: key, cookies: false })).status, 401);
      assert.equal((await owner.c.get('/api/v1/users/me', asActor(owner))).status, 401);
      const restore = await admin.post(`/api/v1/permissions/datasets/${personal.id}/owner?user_id=${friend.id}`, { bearer: adminToken });
      assert.equal(restore.status, 404, 'a deleted dataset cannot be restored');
    });

    it("D23: a deleted member's tenant datasets go to the tenant's owner, whoever else holds share; a tenant's owner is deleted only once a superuser makes another member its owner", async () => {
      const boss = await actor('ur-boss');
      const member = await actor('ur-member');
      const colleague = await actor('ur-colleague');
      const outsider = await actor('ur-outsider');
      const tenantId = (await ok(boss.c.post('/api/v1/permissions/tenants?tenant_name=ur-org', asActor(boss)))).body.tenant_id as string;
      await join(boss, member, tenantId);
      await join(boss, colleague, tenantId);
      const report = await addTo(server, member, 'ur-report', UNIQUE_TEXT, false);
      await ok(member.c.post(`/api/v1/permissions/datasets/${colleague.id}?permission_name=share`, { json: [report.id], ...asActor(member) }));
      const files = (await footprint(server, report.id)).files;

      assert.equal((await deleteUser(member.id)).status, 204);
      assert.deepEqual(
        [...(await holders(boss, report.id))].sort(),
        [
          [boss.id, ALL],
          [colleague.id, ['share']],
        ].sort(),
      );
      assert.equal((await listed(boss)).find((d) => d.id === report.id)?.ownerId, boss.id);
      assert.equal((await boss.c.get(`/api/v1/datasets/${report.id}/data/${report.dataId}/raw`, asActor(boss))).status, 200, 'the content stays');
      for (const path of files) assert.ok(existsSync(path));

      // The tenant's owner: refused, nothing changes, until a superuser names another member.
      const refused = await deleteUser(boss.id);
      assert.deepEqual(
        [refused.status, refused.body],
        [
          400,
          {
            detail: `The user owns tenant ur-org (${tenantId}): make another member its owner (POST /api/v1/permissions/tenants/${tenantId}/owner?user_id=...) before deleting the user. [CogneeValidationError]`,
          },
        ],
      );
      assert.equal((await boss.c.get('/api/v1/users/me', asActor(boss))).status, 200, 'the owner is still there');
      assert.deepEqual((await holders(boss, report.id)).get(boss.id), ALL);
      const transfer = (userId: string, who: { bearer: string; cookies: false }) =>
        server.client().post(`/api/v1/permissions/tenants/${tenantId}/owner?user_id=${userId}`, who);
      const asAdmin = { bearer: adminToken, cookies: false as const };
      assert.deepEqual(await transfer(colleague.id, asActor(boss)).then((r) => [r.status, r.body]), [403, { detail: 'Forbidden' }]);
      const notMember = await transfer(outsider.id, asAdmin);
      assert.deepEqual([notMember.status, notMember.body], [400, { detail: "The tenant's owner must be a member of the tenant. [CogneeValidationError]" }]);
      const unknownTenant = await server.client().post(`/api/v1/permissions/tenants/${outsider.id}/owner?user_id=${colleague.id}`, asAdmin);
      assert.equal(unknownTenant.status, 404);
      const moved = await transfer(colleague.id, asAdmin);
      assert.deepEqual([moved.status, moved.body], [200, { message: 'Tenant owner changed.', tenant_id: tenantId, owner_id: colleague.id }]);

      assert.equal((await deleteUser(boss.id)).status, 204);
      assert.equal((await listed(colleague)).find((d) => d.id === report.id)?.ownerId, colleague.id, "the tenant's new owner inherits");
      assert.deepEqual([...(await holders(colleague, report.id))], [[colleague.id, ALL]]);
    });

    it('D23: a member removed from a tenant leaves the datasets they own there to its owner', async () => {
      const boss = await actor('ur-rm-boss');
      const member = await actor('ur-rm-member');
      const colleague = await actor('ur-rm-colleague');
      const tenantId = (await ok(boss.c.post('/api/v1/permissions/tenants?tenant_name=ur-rm-org', asActor(boss)))).body.tenant_id as string;
      await join(boss, member, tenantId);
      await join(boss, colleague, tenantId);
      const notes = await addTo(server, member, 'ur-rm-notes', UNIQUE_TEXT, false);
      await ok(member.c.post(`/api/v1/permissions/datasets/${colleague.id}?permission_name=share`, { json: [notes.id], ...asActor(member) }));
      await ok(boss.c.delete(`/api/v1/permissions/tenants/${tenantId}/users/${member.id}`, asActor(boss)));
      assert.equal((await listed(boss)).find((d) => d.id === notes.id)?.ownerId, boss.id);
      assert.deepEqual(
        [...(await holders(boss, notes.id))].sort(),
        [
          [boss.id, ALL],
          [colleague.id, ['share']],
        ].sort(),
      );
    });

    it('D24: an agent deleted on its own leaves its personal datasets to its creator; deleting the creator deletes them', async () => {
      const parent = await actor('ur-parent');
      const created = await ok(parent.c.post('/api/v1/agents/create?name=Archivist', asActor(parent)));
      const agent: Actor = { c: server.client(), id: created.body.agentId, token: '', email: created.body.agentEmail };
      const asAgent = { apiKey: created.body.agentApiKey as string, cookies: false as const };
      const form = new FormData();
      form.append('datasetName', 'ur-agent-notes');
      form.append('data', new Blob([UNIQUE_TEXT], { type: 'text/plain' }), 'notes.txt');
      const added = await fetch(`${server.url}/api/v1/add`, { method: 'POST', body: form, headers: { 'x-api-key': asAgent.apiKey } });
      assert.equal(added.status, 200);
      const datasetId = ((await added.json()) as { dataset_id: string }).dataset_id;
      assert.equal((await agent.c.get('/api/v1/datasets', asAgent)).body[0].ownerId, agent.id);

      await ok(parent.c.delete(`/api/v1/agents/${agent.id}`, asActor(parent)));
      assert.equal((await listed(parent)).find((d) => d.id === datasetId)?.ownerId, parent.id, 'the creator owns it now');
      assert.deepEqual([...(await holders(parent, datasetId))], [[parent.id, ALL]]);
      assert.equal((await rowsOf(server, datasetId)).data, 1, 'with its content');

      const where = await footprint(server, datasetId);
      assert.equal((await deleteUser(parent.id)).status, 204);
      assert.deepEqual(await rowsOf(server, datasetId), NO_ROWS);
      for (const path of [...where.files, ...where.stores]) assert.ok(!existsSync(path), `${path} is gone`);
    });
  });
}

describe('deleting a user: a deletion interrupted after its transaction is finished at the next start', () => {
  for (const multiTenant of [true, false]) {
    it(`a marked dataset is out of everyone's reach, then deleted whole at start (${multiTenant ? 'multi-tenant' : 'single-user'})`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'engram-user-removal-'));
      const pg = TEST_DB === 'postgres' ? await createPgDatabase() : undefined;
      const start = () => startTestServer({ root, env: envOf(multiTenant), ...(pg ? { dbEnv: pg.env } : {}) });
      try {
        let server = await start();
        const owner = await signUpActor(server, 'ur-crash-owner');
        const friend = await signUpActor(server, 'ur-crash-friend');
        const personal = await addTo(server, owner, 'ur-crash', UNIQUE_TEXT);
        await acceptPending(
          friend,
          await ok(owner.c.post(`/api/v1/permissions/datasets/${friend.id}?permission_name=read`, { json: [personal.id], ...asActor(owner) })),
        );
        const friendSees = async () =>
          ((await ok(friend.c.get('/api/v1/datasets', asActor(friend)))).body as { id: string }[]).some((d) => d.id === personal.id);
        assert.ok(await friendSees(), 'the friend sees the share before');
        const where = await footprint(server, personal.id);
        // The relational part alone, as a process that stopped right after its commit leaves it.
        const { users, doomedDatasets } = await server.engram.auth.users.delete(owner.id);
        assert.deepEqual([users, doomedDatasets], [[owner.id], [personal.id]]);
        assert.deepEqual(await rowsOf(server, personal.id), { datasets: 1, data: 1, acls: 0, dataset_database: multiTenant ? 1 : 0, dataset_deletions: 1 });
        assert.ok(!(await friendSees()), 'the share ended with the commit');
        for (const path of [...where.files, ...where.stores]) assert.ok(existsSync(path));
        await server.close();

        server = await start();
        try {
          assert.deepEqual(await rowsOf(server, personal.id), NO_ROWS);
          for (const path of [...where.files, ...where.stores]) assert.ok(!existsSync(path), `${path} is gone`);
        } finally {
          await server.close();
        }
      } finally {
        await pg?.drop();
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
