import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, type Actor, type Client, type TestServer } from '../helpers/harness.js';

/**
 * D24: agents follow their creator. Deleting, deactivating or removing a user from a tenant does
 * the same to the agents they created (their API keys, memberships, roles and grants), at any depth;
 * reactivating the user wakes the agents deactivated with it. Only a tenant's owner or an admin may
 * add agents to a tenant. In both storage modes.
 */
const ADMIN_PASSWORD = 'Admin-agent-lifecycle-4711!';
const ADMIN_EMAIL = 'default_user@example.com';
const NOT_MANAGER = {
  detail: "Only the tenant's owner or an admin can add agents to a tenant; select your personal space to create a personal agent. [PermissionDeniedError]",
};

for (const multiTenant of [true, false]) {
  describe(`D24: agents follow their creator (${multiTenant ? 'multi-tenant' : 'single-user, auth forced on'})`, () => {
    let server: TestServer;
    let admin: Client;
    let adminToken: string;
    before(async () => {
      server = await startTestServer({
        env: { ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant), REQUIRE_AUTHENTICATION: 'true', DEFAULT_USER_PASSWORD: ADMIN_PASSWORD },
      });
      admin = server.client();
      adminToken = await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);
      admin.jar.clear();
    });
    after(() => server.close());

    const actor = (prefix: string) => signUpActor(server, prefix);
    const ok = async <T extends { status: number; text: string }>(pending: Promise<T>): Promise<T> => {
      const res = await pending;
      assert.equal(res.status, 200, res.text);
      return res;
    };
    interface Agent {
      id: string;
      key: string;
    }
    const createAgent = async (c: Client, name: string, auth: { bearer: string } | { apiKey: string }): Promise<Agent> => {
      const res = await ok(c.post(`/api/v1/agents/create?name=${encodeURIComponent(name)}`, { ...auth, cookies: false }));
      return { id: res.body.agentId, key: res.body.agentApiKey };
    };
    /** The status of `GET /users/me` with the agent's key: 200 while it may act, 401 once it may not. */
    const keyStatus = async (agent: Agent) => (await server.client().get('/api/v1/users/me', { apiKey: agent.key, cookies: false })).status;
    const userAsAdmin = (id: string) => admin.get(`/api/v1/users/${id}`, { bearer: adminToken });
    const setActive = async (id: string, active: boolean) => {
      const res = await ok(admin.patch(`/api/v1/users/${id}`, { json: { is_active: active }, bearer: adminToken }));
      assert.equal(res.body.is_active, active);
    };
    const select = (a: Actor, tenantId: string | null) => ok(a.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(a) }));

    it('deleting a user deletes their agents, and their agents’ agents, with their keys', async () => {
      const parent = await actor('al-parent');
      const agent = await createAgent(parent.c, 'Helper', { bearer: parent.token });
      const subAgent = await createAgent(server.client(), 'Sub Helper', { apiKey: agent.key });
      const sibling = await createAgent(parent.c, 'Other Helper', { bearer: parent.token });
      const stranger = await actor('al-stranger');
      const strangersAgent = await createAgent(stranger.c, 'Helper', { bearer: stranger.token });
      // The agent's dataset is shared with a third user: the grant goes with the agent.
      const ds = (await ok(server.client().post('/api/v1/datasets', { json: { name: 'agent-notes' }, apiKey: agent.key, cookies: false }))).body;
      for (const a of [agent, subAgent, sibling, strangersAgent]) assert.equal(await keyStatus(a), 200);

      // Deleting one agent through the agents routes takes its own agents along.
      assert.equal((await parent.c.delete(`/api/v1/agents/${agent.id}`, asActor(parent))).status, 200);
      assert.deepEqual([await keyStatus(agent), await keyStatus(subAgent), await keyStatus(sibling)], [401, 401, 200]);
      assert.equal((await userAsAdmin(subAgent.id)).status, 404);
      assert.equal((await parent.c.get(`/api/v1/permissions/datasets/${ds.id}/principals`, asActor(parent))).body.length, 1, 'only the parent is left');

      // Deleting the user takes every agent along; another user's agents stay.
      assert.equal((await admin.delete(`/api/v1/users/${parent.id}`, { bearer: adminToken })).status, 204);
      assert.equal(await keyStatus(sibling), 401);
      assert.equal((await userAsAdmin(sibling.id)).status, 404);
      assert.equal(await keyStatus(strangersAgent), 200);
      assert.equal((await admin.delete(`/api/v1/users/${parent.id}`, { bearer: adminToken })).status, 404);
    });

    it("D25: an agent's e-mail cannot be registered or taken beforehand, so no one can block an agent name", async () => {
      const victim = await actor('al-victim');
      const squatter = await actor('al-squatter');
      const password = 'Squatter-pass-4711!';
      const agentForms = [
        `helper+${victim.id}@cognee.agent`,
        `Helper+${victim.id}@COGNEE.Agent`,
        `helper@mail.cognee.agent`,
        `${randomUUID()}@external.invalid`,
      ];
      for (const email of agentForms) {
        const res = await server.client().post('/api/v1/auth/register', { json: { email, password } });
        assert.deepEqual([res.status, res.body], [400, { detail: 'REGISTER_USER_ALREADY_EXISTS' }], email);
        const change = await squatter.c.patch('/api/v1/users/me', { json: { email }, ...asActor(squatter) });
        assert.deepEqual([change.status, change.body], [400, { detail: 'UPDATE_USER_EMAIL_ALREADY_EXISTS' }], email);
        const bySuperuser = await admin.patch(`/api/v1/users/${squatter.id}`, { json: { email }, bearer: adminToken });
        assert.deepEqual([bySuperuser.status, bySuperuser.body], [400, { detail: 'UPDATE_USER_EMAIL_ALREADY_EXISTS' }], email);
      }
      assert.equal((await userAsAdmin(squatter.id)).body.email, squatter.email, 'the e-mail did not change');
      // The name stays the victim's to use.
      const created = await ok(victim.c.post('/api/v1/agents/create?name=Helper', asActor(victim)));
      assert.equal(created.body.agentEmail, 'helper@cognee.agent');
      assert.equal(await keyStatus({ id: created.body.agentId, key: created.body.agentApiKey }), 200);
    });

    it('deactivating a user deactivates their agents; reactivating wakes those deactivated with it', async () => {
      const parent = await actor('al-sleeper');
      const agent = await createAgent(parent.c, 'Worker', { bearer: parent.token });
      const subAgent = await createAgent(server.client(), 'Sub Worker', { apiKey: agent.key });
      const benched = await createAgent(parent.c, 'Benched', { bearer: parent.token });
      const lateBenched = await createAgent(parent.c, 'Late Benched', { bearer: parent.token });
      // The key works and is cached before the deactivation: the cache must not keep it alive.
      assert.equal(await keyStatus(agent), 200);
      await setActive(benched.id, false);
      assert.equal(await keyStatus(benched), 401);

      await setActive(parent.id, false);
      assert.deepEqual([await keyStatus(agent), await keyStatus(subAgent)], [401, 401]);
      for (const a of [agent, subAgent, benched]) assert.equal((await userAsAdmin(a.id)).body.is_active, false);
      // An agent switched off on its own while its creator is off stays off when the creator returns.
      await setActive(lateBenched.id, false);
      // A password change while inactive does not break the link.
      await ok(admin.patch(`/api/v1/users/${parent.id}`, { json: { password: 'A-new-sleeper-pass-4711!' }, bearer: adminToken }));

      await setActive(parent.id, true);
      assert.deepEqual([await keyStatus(agent), await keyStatus(subAgent)], [200, 200]);
      assert.equal(await keyStatus(benched), 401, 'an agent deactivated on its own stays off');
      assert.equal(await keyStatus(lateBenched), 401, 'also when deactivated while its creator was off');
      assert.equal((await userAsAdmin(benched.id)).body.is_active, false);
    });

    it('removing a user from a tenant removes their agents from it, with their roles and grants', async () => {
      const owner = await actor('al-org-owner');
      const manager = await actor('al-org-admin');
      const member = await actor('al-org-member');
      const tenantId = (await ok(owner.c.post('/api/v1/permissions/tenants?tenant_name=al-org', asActor(owner)))).body.tenant_id as string;
      const adminRole = (await ok(owner.c.post('/api/v1/permissions/roles?role_name=admin', asActor(owner)))).body.role_id as string;
      const readers = (await ok(owner.c.post('/api/v1/permissions/roles?role_name=readers', asActor(owner)))).body.role_id as string;
      for (const u of [manager, member]) {
        await ok(owner.c.post(`/api/v1/permissions/users/${u.id}/tenants?tenant_id=${tenantId}`, asActor(owner)));
        await select(u, tenantId);
      }
      await ok(owner.c.post(`/api/v1/permissions/users/${manager.id}/roles?role_id=${adminRole}`, asActor(owner)));

      // A plain member cannot bring agents into the tenant; from the personal space it can have its own.
      const refused = await member.c.post('/api/v1/agents/create?name=Intruder', asActor(member));
      assert.deepEqual([refused.status, refused.body], [403, NOT_MANAGER]);
      assert.deepEqual((await member.c.get('/api/v1/agents/list', asActor(member))).body, []);
      await select(member, null);
      const personal = await createAgent(member.c, 'Personal', { bearer: member.token });
      assert.equal((await userAsAdmin(personal.id)).body.tenant_id, null);
      await select(member, tenantId);

      // An admin can; the agent joins the tenant and is given a role and a grant there.
      const agent = await createAgent(manager.c, 'Analyst', { bearer: manager.token });
      const bySubAgent = await server.client().post('/api/v1/agents/create?name=Sub%20Analyst', { apiKey: agent.key, cookies: false });
      assert.deepEqual([bySubAgent.status, bySubAgent.body], [403, NOT_MANAGER], 'the agent is a plain member itself');
      await ok(owner.c.post(`/api/v1/permissions/users/${agent.id}/roles?role_id=${readers}`, asActor(owner)));
      const shared = (await ok(owner.c.post('/api/v1/datasets', { json: { name: 'org-report' }, ...asActor(owner) }))).body;
      await ok(owner.c.post(`/api/v1/permissions/datasets/${agent.id}?permission_name=read`, { json: [shared.id], ...asActor(owner) }));
      const viaRole = (await ok(owner.c.post('/api/v1/datasets', { json: { name: 'org-role' }, ...asActor(owner) }))).body;
      await ok(owner.c.post(`/api/v1/permissions/datasets/${readers}?permission_name=read`, { json: [viaRole.id], ...asActor(owner) }));
      const agentSees = async () =>
        ((await server.client().get('/api/v1/datasets', { apiKey: agent.key, cookies: false })).body as { name: string }[]).map((d) => d.name).sort();
      assert.deepEqual(await agentSees(), ['org-report', 'org-role']);
      // The manager's own dataset in the tenant: when the manager leaves, it goes to the tenant owner.
      const managers = (await ok(manager.c.post('/api/v1/datasets', { json: { name: 'manager-notes' }, ...asActor(manager) }))).body;

      await ok(owner.c.delete(`/api/v1/permissions/tenants/${tenantId}/users/${manager.id}`, asActor(owner)));
      const members = (await owner.c.get(`/api/v1/permissions/tenants/${tenantId}/users`, asActor(owner))).body as { id: string }[];
      assert.deepEqual(members.map((m) => m.id).sort(), [owner.id, member.id].sort(), 'the agent left with its creator');
      assert.equal((await userAsAdmin(agent.id)).body.tenant_id, null, 'moved to its personal space');
      assert.deepEqual(await agentSees(), []);
      const back = await server.client().post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, apiKey: agent.key, cookies: false });
      assert.equal(back.status, 404, 'no longer a member');
      assert.equal(await keyStatus(agent), 200, 'the agent itself still exists');
      const ownerView = await owner.c.get(`/api/v1/permissions/datasets/${managers.id}/principals`, asActor(owner));
      assert.equal(ownerView.status, 200, ownerView.text);
      assert.deepEqual(
        (ownerView.body as { principal_id: string; permissions: string[] }[]).map((h) => [h.principal_id, h.permissions]),
        [[owner.id, ['read', 'write', 'delete', 'share']]],
        "D23: the tenant's owner takes over a dataset left with no user holding share",
      );
      const ownersList = (await owner.c.get('/api/v1/datasets', asActor(owner))).body as { id: string; ownerId: string }[];
      assert.equal(ownersList.find((d) => d.id === managers.id)?.ownerId, owner.id);
    });
  });
}
