import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createJwt } from '../../src/auth/tokens.js';
import { acceptPending, asActor, signUpActor, startTestServer, type Actor, type Client, type TestServer } from '../helpers/harness.js';

/**
 * D23: a permission grants no more than itself. A holder of `share` grants only what he holds, never
 * to himself nor to a role or tenant that reaches him; the owner's grants are revoked only by the
 * owner or a superuser; no revoke leaves a dataset without a user holding `share`; a superuser can
 * restore a dataset's owner. In both storage modes (multi-tenant, and single-user with
 * authentication forced on).
 */
const ADMIN_PASSWORD = 'Admin-dataset-control-4711!';
const ADMIN_EMAIL = 'default_user@example.com';
const SECRET = 'dataset-control-secret-0123456789abcdef0123';

const denied = (permission: string) => ({
  detail: `Request owner does not have necessary permission: [${permission}] for all datasets requested. [PermissionDeniedError]`,
});
const SELF = { detail: 'Permissions cannot be granted to yourself. [PermissionDeniedError]' };
const GROUP = { detail: "Only the dataset's owner can grant permissions to a role or tenant they belong to. [PermissionDeniedError]" };
const OWNERS = { detail: "Only the dataset's owner can revoke the owner's permissions. [PermissionDeniedError]" };
const LAST = {
  detail: 'A dataset must keep at least one user holding share: grant share to another user before revoking this one. [CogneeValidationError]',
};

for (const multiTenant of [true, false]) {
  describe(`D23: a permission grants no more than itself (${multiTenant ? 'multi-tenant' : 'single-user, auth forced on'})`, () => {
    let server: TestServer;
    let admin: Client;
    let adminToken: string;
    let adminId: string;
    before(async () => {
      server = await startTestServer({
        env: {
          ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant),
          REQUIRE_AUTHENTICATION: 'true',
          DEFAULT_USER_PASSWORD: ADMIN_PASSWORD,
          FASTAPI_USERS_JWT_SECRET: SECRET,
        },
      });
      admin = server.client();
      adminToken = await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
      admin.jar.clear();
      adminId = (await admin.get('/api/v1/users/me', { bearer: adminToken })).body.id;
    });
    after(() => server.close());

    /** Every user of the suite by id, so that a recipient can accept what is shared with it (D23). */
    const actors = new Map<string, Actor>();
    const actor = async (prefix: string) => {
      const a = await signUpActor(server, prefix);
      actors.set(a.id, a);
      return a;
    };
    const dataset = async (a: Actor, name: string) => {
      const res = await a.c.post('/api/v1/datasets', { json: { name }, ...asActor(a) });
      assert.equal(res.status, 200, res.text);
      return res.body as { id: string; ownerId: string };
    };
    const change = (a: Actor, method: 'POST' | 'DELETE', principal: string, permission: string, ids: string[]) =>
      a.c.request(method, `/api/v1/permissions/datasets/${principal}?permission_name=${permission}`, { json: ids, ...asActor(a) });
    /** A grant; a user outside the dataset's tenant then accepts it (D23), so it takes effect as before. */
    const share = async (a: Actor, principal: string, permission: string, ids: string[]) => {
      const res = await change(a, 'POST', principal, permission, ids);
      await acceptPending(actors.get(principal), res);
      return res;
    };
    const unshare = (a: Actor, principal: string, permission: string, ids: string[]) => change(a, 'DELETE', principal, permission, ids);
    const ok = async (pending: Promise<{ status: number; text: string }>) => {
      const res = await pending;
      assert.equal(res.status, 200, res.text);
    };
    const refused = async (pending: Promise<{ status: number; body: unknown }>, status: number, body: unknown, message: string) => {
      const res = await pending;
      assert.deepEqual([res.status, res.body], [status, body], message);
    };
    /** The dataset's grants as the owner's listing shows them: principal id → permissions. */
    const holders = async (a: Actor, id: string) => {
      const res = await a.c.get(`/api/v1/permissions/datasets/${id}/principals`, asActor(a));
      assert.equal(res.status, 200, res.text);
      return new Map((res.body as { principal_id: string; permissions: string[] }[]).map((h) => [h.principal_id, h.permissions]));
    };
    const ALL = ['read', 'write', 'delete', 'share'];
    const newTenant = async (a: Actor, name: string) =>
      (await a.c.post(`/api/v1/permissions/tenants?tenant_name=${name}`, asActor(a))).body.tenant_id as string;
    const join = async (owner: Actor, member: Actor, tenantId: string) => {
      await ok(owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner)));
      await ok(member.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(member) }));
    };
    const restore = (datasetId: string, userId?: string) =>
      admin.post(`/api/v1/permissions/datasets/${datasetId}/owner${userId ? `?user_id=${userId}` : ''}`, { bearer: adminToken });

    it('a holder of share alone cannot take over or delete the dataset (the reported attack)', async () => {
      const owner = await actor('dc-owner');
      const sharer = await actor('dc-sharer');
      const d = await dataset(owner, 'crown-jewels');
      const added = await owner.c.post('/api/v1/add_text', { json: { textData: ['The vault code is 1234.'], datasetId: d.id }, ...asActor(owner) });
      assert.equal(added.status, 200, added.text);
      await ok(share(owner, sharer.id, 'share', [d.id]));

      await refused(share(sharer, sharer.id, 'delete', [d.id]), 403, SELF, 'no grant to oneself');
      await refused(share(sharer, sharer.id, 'read', [d.id]), 403, SELF, 'not even read');
      for (const p of ['read', 'write', 'delete']) {
        await refused(share(sharer, owner.id, p, [d.id]), 403, denied(p), `share alone does not give ${p} to give`);
      }
      for (const p of ALL) await refused(unshare(sharer, owner.id, p, [d.id]), 403, OWNERS, `the owner keeps ${p}`);
      assert.equal((await sharer.c.delete(`/api/v1/datasets/${d.id}`, asActor(sharer))).status, 403);
      assert.equal((await sharer.c.get(`/api/v1/datasets/${d.id}/data`, asActor(sharer))).status, 403);

      // The owner still holds everything, and the data is there.
      assert.deepEqual((await holders(owner, d.id)).get(owner.id), ALL);
      const data = await owner.c.get(`/api/v1/datasets/${d.id}/data`, asActor(owner));
      assert.equal(data.status, 200, data.text);
      assert.equal(data.body.length, 1);
      // The owner can take share away again.
      await ok(unshare(owner, sharer.id, 'share', [d.id]));
      assert.deepEqual([...(await holders(owner, d.id)).keys()], [owner.id]);
    });

    it('a sharer grants only what he holds, on every dataset named', async () => {
      const owner = await actor('dc-giver');
      const sharer = await actor('dc-middle');
      const friend = await actor('dc-friend');
      const d1 = await dataset(owner, 'one');
      const d2 = await dataset(owner, 'two');
      for (const p of ['share', 'read']) await ok(share(owner, sharer.id, p, [d1.id, d2.id]));
      await ok(share(owner, sharer.id, 'write', [d1.id]));

      await ok(share(sharer, friend.id, 'read', [d1.id, d2.id]));
      await refused(share(sharer, friend.id, 'write', [d1.id, d2.id]), 403, denied('write'), 'write is held on one dataset only');
      await ok(share(sharer, friend.id, 'write', [d1.id]));
      await refused(share(sharer, friend.id, 'delete', [d1.id]), 403, denied('delete'), 'delete is not held');
      await ok(share(sharer, friend.id, 'share', [d1.id]));
      const seen = await holders(owner, d1.id);
      assert.deepEqual(seen.get(friend.id), ['read', 'write', 'share']);
      assert.deepEqual(seen.get(sharer.id), ['read', 'write', 'share']);
      assert.deepEqual((await holders(owner, d2.id)).get(friend.id), ['read']);
      // The owner may grant anything he holds, to anyone else.
      await ok(share(owner, friend.id, 'delete', [d2.id]));
      // The share check still comes first, and unknown datasets are refused like foreign ones.
      await refused(share(friend, friend.id, 'read', [d2.id]), 403, denied('share'), 'share is checked first');
      await refused(share(sharer, friend.id, 'read', [randomUUID()]), 403, denied('share'), 'an unknown dataset');
    });

    it('a sharer cannot reach himself through a role or tenant; the owner can share with his tenant', async () => {
      const owner = await actor('dc-org-owner');
      const member = await actor('dc-org-member');
      const colleague = await actor('dc-org-colleague');
      const tenantId = await newTenant(owner, 'dc-org');
      await join(owner, member, tenantId);
      await join(owner, colleague, tenantId);
      const roleRes = await owner.c.post('/api/v1/permissions/roles?role_name=analysts', asActor(owner));
      const otherRoleRes = await owner.c.post('/api/v1/permissions/roles?role_name=auditors', asActor(owner));
      const [role, otherRole] = [roleRes.body.role_id as string, otherRoleRes.body.role_id as string];
      await ok(owner.c.post(`/api/v1/permissions/users/${member.id}/roles?role_id=${role}`, asActor(owner)));
      const d = await dataset(owner, 'org-plans');
      for (const p of ['read', 'share']) await ok(share(owner, member.id, p, [d.id]));

      await refused(share(member, tenantId, 'read', [d.id]), 403, GROUP, 'the tenant includes the sharer');
      await refused(share(member, role, 'read', [d.id]), 403, GROUP, 'the role includes the sharer');
      await ok(share(member, otherRole, 'read', [d.id]));
      await ok(share(member, colleague.id, 'read', [d.id]));
      await ok(share(owner, tenantId, 'read', [d.id]));
      await ok(share(owner, role, 'share', [d.id]));
      const seen = await holders(owner, d.id);
      assert.deepEqual(seen.get(tenantId), ['read']);
      assert.deepEqual(seen.get(otherRole), ['read']);
      assert.deepEqual(seen.get(role), ['share']);
      // Once the owner grants share to the role, what the member holds through it is still his to
      // give to others, never back to himself directly.
      await refused(share(member, member.id, 'read', [d.id]), 403, SELF, 'no laundering a grant into a direct one');
    });

    it("the owner's grants are the owner's: revoked only by him or a superuser; the last share holder stays", async () => {
      const owner = await actor('dc-keeper');
      const deputy = await actor('dc-deputy');
      const d = await dataset(owner, 'ledger');
      await refused(unshare(owner, owner.id, 'share', [d.id]), 400, LAST, 'the only share holder cannot drop share');
      await ok(unshare(owner, owner.id, 'write', [d.id]));
      await ok(share(owner, deputy.id, 'share', [d.id]));
      await refused(unshare(deputy, owner.id, 'read', [d.id]), 403, OWNERS, 'another sharer cannot touch the owner');
      // Revoking a share the principal never held is still a no-op.
      const nobody = await actor('dc-nobody');
      await ok(unshare(owner, nobody.id, 'share', [d.id]));
      // With a second user holding share, the owner may step back; the deputy is then the last.
      await ok(unshare(owner, owner.id, 'share', [d.id]));
      await refused(unshare(deputy, deputy.id, 'share', [d.id]), 400, LAST, 'the deputy is now the last share holder');
      await refused(unshare(deputy, owner.id, 'read', [d.id]), 403, OWNERS, 'the owner is protected even without share');
      assert.deepEqual((await holders(deputy, d.id)).get(owner.id), ['read', 'delete']);

      // A superuser holding share may revoke the owner's grants.
      const adminActor: Actor = { c: admin, id: adminId, token: adminToken, email: ADMIN_EMAIL };
      actors.set(adminId, adminActor);
      await ok(share(deputy, adminId, 'share', [d.id]));
      await ok(unshare(adminActor, owner.id, 'delete', [d.id]));
      assert.deepEqual((await holders(deputy, d.id)).get(owner.id), ['read']);
      // Without share on the dataset, a superuser is refused like anyone else.
      const other = await dataset(owner, 'other-ledger');
      await refused(unshare(adminActor, owner.id, 'read', [other.id]), 403, denied('share'), 'a superuser needs share too');
    });

    it("an agent's dataset has two owners: the agent and its creator, who alone may revoke the agent's grants", async () => {
      const parent = await actor('dc-agent-parent');
      const stranger = await actor('dc-agent-stranger');
      const created = await parent.c.post('/api/v1/agents/create?name=Owner%20Bot', asActor(parent));
      assert.equal(created.status, 200, created.text);
      const agent: Actor = { c: server.client(), id: created.body.agentId, token: '', email: created.body.agentEmail };
      const asAgent = { apiKey: created.body.agentApiKey as string, cookies: false as const };
      const d = (await agent.c.post('/api/v1/datasets', { json: { name: 'bot-notes' }, ...asAgent })).body as { id: string };
      const agentChange = (method: 'POST' | 'DELETE', principal: string, permission: string) =>
        agent.c.request(method, `/api/v1/permissions/datasets/${principal}?permission_name=${permission}`, { json: [d.id], ...asAgent });
      await ok(share(parent, stranger.id, 'share', [d.id]));

      await refused(unshare(stranger, agent.id, 'write', [d.id]), 403, OWNERS, "a sharer cannot touch the agent's grants");
      await refused(unshare(stranger, parent.id, 'write', [d.id]), 403, OWNERS, "nor the creator's");
      await refused(agentChange('DELETE', parent.id, 'read'), 403, OWNERS, "the agent cannot revoke its creator's grants");
      await refused(agentChange('POST', agent.id, 'read'), 403, SELF, 'the agent cannot grant to itself either');
      await ok(unshare(parent, agent.id, 'write', [d.id]));
      assert.deepEqual((await holders(parent, d.id)).get(agent.id), ['read', 'delete', 'share']);
      // The owners may share with a group they belong to; the stranger may not.
      const tenantId = await newTenant(stranger, 'dc-stranger-org');
      await ok(stranger.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: null }, ...asActor(stranger) }));
      await refused(share(stranger, tenantId, 'share', [d.id]), 403, GROUP, 'the stranger belongs to the tenant');
    });

    it("a superuser restores a dataset's owner; a deleted owner's personal dataset is gone with them", async () => {
      const owner = await actor('dc-lost');
      const heir = await actor('dc-heir');
      const d = await dataset(owner, 'estate');
      await ok(share(owner, heir.id, 'share', [d.id]));
      await ok(unshare(owner, owner.id, 'delete', [d.id]));
      await ok(unshare(owner, owner.id, 'share', [d.id]));
      assert.deepEqual((await holders(heir, d.id)).get(owner.id), ['read', 'write']);

      const byUser = await owner.c.post(`/api/v1/permissions/datasets/${d.id}/owner`, asActor(owner));
      assert.deepEqual([byUser.status, byUser.body], [403, { detail: 'Forbidden' }], 'superusers only');
      assert.equal((await server.client().post(`/api/v1/permissions/datasets/${d.id}/owner`)).status, 401);
      const restored = await restore(d.id);
      assert.deepEqual([restored.status, restored.body], [200, { message: 'Dataset owner restored.', dataset_id: d.id, owner_id: owner.id }]);
      assert.deepEqual((await holders(owner, d.id)).get(owner.id), ALL);

      const unknown = await restore(randomUUID());
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.detail, /\[DatasetNotFoundError\]$/);
      assert.equal((await restore('not-a-uuid')).status, 400);
      const ghostUser = await restore(d.id, randomUUID());
      assert.equal(ghostUser.status, 404);
      assert.match(ghostUser.body.detail, /^Could not find user: .* \[EntityNotFoundError\]$/);

      // The owner is deleted: a personal dataset goes with its owner, so there is nothing to restore.
      assert.equal((await admin.delete(`/api/v1/users/${owner.id}`, { bearer: adminToken })).status, 204);
      const deleted = await restore(d.id, heir.id);
      assert.equal(deleted.status, 404);
      assert.match(deleted.body.detail, /\[DatasetNotFoundError\]$/);
      assert.ok(!((await heir.c.get('/api/v1/datasets', asActor(heir))).body as { id: string }[]).some((x) => x.id === d.id));
    });

    it('a superuser names a new owner for a dataset of a tenant with no owner whose owner was deleted (D2 tenants)', async () => {
      // A tenant external tokens created has no owner to inherit its datasets.
      const tenantRef = `dc-ext-${randomUUID()}`;
      const ext = async () => {
        const id = randomUUID();
        const token = await createJwt(id, tenantRef, [], { secret: SECRET });
        assert.equal((await server.client().get('/api/v1/users/me', { bearer: token, cookies: false })).status, 200);
        return { id, token };
      };
      const creator = await ext();
      const heir = await ext();
      const created = await server.client().post('/api/v1/datasets', { json: { name: 'ext-estate' }, bearer: creator.token, cookies: false });
      assert.equal(created.status, 200, created.text);
      const d = created.body as { id: string; tenantId: string | null };
      assert.notEqual(d.tenantId, null);

      assert.equal((await admin.delete(`/api/v1/users/${creator.id}`, { bearer: adminToken })).status, 204);
      const gone = await restore(d.id);
      assert.deepEqual(
        [gone.status, gone.body],
        [400, { detail: "The dataset's owner no longer exists: name a new owner with user_id. [CogneeValidationError]" }],
      );
      const handed = await restore(d.id, heir.id);
      assert.deepEqual([handed.status, handed.body], [200, { message: 'Dataset owner restored.', dataset_id: d.id, owner_id: heir.id }]);
      const listed = (await server.client().get('/api/v1/datasets', { bearer: heir.token, cookies: false })).body as { id: string; ownerId: string }[];
      assert.equal(listed.find((x) => x.id === d.id)?.ownerId, heir.id);
      assert.equal(
        (await server.client().delete(`/api/v1/datasets/${d.id}`, { bearer: heir.token, cookies: false })).status,
        200,
        'the new owner holds delete',
      );
    });

    it("a deleted member's tenant datasets go to the tenant's owner, also one another user still holds share on", async () => {
      const owner = await actor('dc-heir-owner');
      const member = await actor('dc-leaver');
      const tenantId = await newTenant(owner, 'dc-heirs');
      await join(owner, member, tenantId);
      const left = await dataset(member, 'left-behind');
      const kept = await dataset(member, 'co-shared');
      await ok(share(member, owner.id, 'read', [left.id]));
      const colleague = await actor('dc-colleague');
      await join(owner, colleague, tenantId);
      await ok(share(member, colleague.id, 'share', [kept.id]));

      assert.equal((await admin.delete(`/api/v1/users/${member.id}`, { bearer: adminToken })).status, 204);
      assert.deepEqual([...(await holders(owner, left.id))], [[owner.id, ALL]], 'the tenant owner holds everything');
      const listed = (await owner.c.get('/api/v1/datasets', asActor(owner))).body as { id: string; ownerId: string }[];
      assert.equal(listed.find((x) => x.id === left.id)?.ownerId, owner.id);
      // A dataset another user still holds share on goes to the tenant's owner too; the share stays.
      assert.deepEqual(
        [...(await holders(colleague, kept.id))].sort(),
        [
          [owner.id, ALL],
          [colleague.id, ['share']],
        ].sort(),
      );
      assert.equal(listed.find((x) => x.id === kept.id)?.ownerId, owner.id);
    });

    it("a tenant dataset's new owner must belong to the tenant", async () => {
      const owner = await actor('dc-t-owner');
      const outsider = await actor('dc-t-outsider');
      await newTenant(owner, 'dc-t');
      const d = await dataset(owner, 'tenant-only');
      const refusedOwner = await restore(d.id, outsider.id);
      assert.deepEqual(
        [refusedOwner.status, refusedOwner.body],
        [400, { detail: "The owner must be a member of the dataset's tenant. [CogneeValidationError]" }],
      );
      assert.equal((await restore(d.id)).status, 200);
    });
  });
}
