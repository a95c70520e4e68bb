import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { acceptPending, asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * `GET /api/v1/permissions/datasets/{dataset_id}/principals` (an Engram addition): who holds which
 * permission on one dataset. Only a caller holding `share` on it in their active tenant may ask; the
 * refusal is the same 403 as any other sharing refusal; another tenant's grants never appear.
 */

interface Holder {
  principal_id: string;
  principal_type: 'user' | 'role' | 'tenant';
  name: string | null;
  permissions: string[];
}

const DENIED = { detail: 'Request owner does not have necessary permission: [share] for all datasets requested. [PermissionDeniedError]' };

describe('who holds which permission on a dataset', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  /** Every user of the suite by id, so that a recipient can accept what is shared with it (D23). */
  const actors = new Map<string, Actor>();
  const actor = async (prefix: string) => {
    const a = await signUpActor(server, prefix);
    actors.set(a.id, a);
    return a;
  };
  const dataset = async (a: Actor, name: string) => (await a.c.post('/api/v1/datasets', { json: { name }, ...asActor(a) })).body as { id: string };
  const share = async (a: Actor, principal: string, permission: string, ids: string[]) => {
    const res = await a.c.post(`/api/v1/permissions/datasets/${principal}?permission_name=${permission}`, { json: ids, ...asActor(a) });
    assert.equal(res.status, 200, res.text);
    await acceptPending(actors.get(principal), res);
  };
  const revoke = async (a: Actor, principal: string, permission: string, ids: string[]) => {
    const res = await a.c.delete(`/api/v1/permissions/datasets/${principal}?permission_name=${permission}`, { json: ids, ...asActor(a) });
    assert.equal(res.status, 200, res.text);
  };
  const newTenant = async (a: Actor, name: string) => (await a.c.post(`/api/v1/permissions/tenants?tenant_name=${name}`, asActor(a))).body.tenant_id as string;
  const newRole = async (a: Actor, name: string) => (await a.c.post(`/api/v1/permissions/roles?role_name=${name}`, asActor(a))).body.role_id as string;
  const addMember = async (owner: Actor, member: Actor, tenantId: string) => {
    assert.equal((await owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner))).status, 200);
    assert.equal((await member.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(member) })).status, 200);
  };
  const holders = (a: Actor, datasetId: string) => a.c.get<Holder[]>(`/api/v1/permissions/datasets/${datasetId}/principals`, asActor(a));

  it('lists every principal with its permissions: users by e-mail, roles and tenants by name', async () => {
    const owner = await actor('dp-owner');
    const member = await actor('dp-member');
    const tenantId = await newTenant(owner, 'dp-org');
    await addMember(owner, member, tenantId);
    const roleId = await newRole(owner, 'readers');
    const d = await dataset(owner, 'handbook');
    await share(owner, member.id, 'read', [d.id]);
    await share(owner, member.id, 'write', [d.id]);
    await share(owner, roleId, 'read', [d.id]);
    await share(owner, tenantId, 'read', [d.id]);

    const res = await holders(owner, d.id);
    assert.equal(res.status, 200, res.text);
    const byId = new Map(res.body.map((h) => [h.principal_id, h]));
    assert.equal(res.body.length, 4);
    assert.deepEqual(byId.get(owner.id), {
      principal_id: owner.id,
      principal_type: 'user',
      name: owner.email,
      permissions: ['read', 'write', 'delete', 'share'],
    });
    assert.deepEqual(byId.get(member.id), { principal_id: member.id, principal_type: 'user', name: member.email, permissions: ['read', 'write'] });
    assert.deepEqual(byId.get(roleId), { principal_id: roleId, principal_type: 'role', name: 'readers', permissions: ['read'] });
    assert.deepEqual(byId.get(tenantId), { principal_id: tenantId, principal_type: 'tenant', name: 'dp-org', permissions: ['read'] });
    assert.deepEqual(
      res.body.map((h) => h.principal_type),
      ['user', 'user', 'role', 'tenant'],
      'users first, then roles, then tenants',
    );

    // Revocations show at once; a principal with nothing left disappears.
    await revoke(owner, member.id, 'write', [d.id]);
    assert.deepEqual((await holders(owner, d.id)).body.find((h) => h.principal_id === member.id)?.permissions, ['read']);
    await revoke(owner, member.id, 'read', [d.id]);
    assert.equal(
      (await holders(owner, d.id)).body.find((h) => h.principal_id === member.id),
      undefined,
    );
    // The id is matched case-insensitively like every other UUID parameter.
    assert.equal((await holders(owner, d.id.toUpperCase())).status, 200);
  });

  it('needs share on the dataset: 403 with the sharing envelope otherwise, for unknown ids too; 401 anonymous', async () => {
    const owner = await actor('dp-sharer');
    const reader = await actor('dp-reader');
    const d = await dataset(owner, 'private');
    await share(owner, reader.id, 'read', [d.id]);
    await share(owner, reader.id, 'write', [d.id]);
    await share(owner, reader.id, 'delete', [d.id]);

    const refused = await holders(reader, d.id);
    assert.deepEqual([refused.status, refused.body], [403, DENIED], 'read, write and delete do not let you see the grants');
    const grantRefused = await reader.c.post(`/api/v1/permissions/datasets/${reader.id}?permission_name=share`, { json: [d.id], ...asActor(reader) });
    assert.deepEqual([grantRefused.status, grantRefused.body], [refused.status, refused.body], 'the same envelope as a refused grant');
    const ghost = await holders(owner, randomUUID());
    assert.deepEqual([ghost.status, ghost.body], [403, DENIED], 'an unknown dataset is refused like a foreign one');
    assert.equal((await holders(owner, 'not-a-uuid')).status, 400);
    assert.equal((await server.client().get(`/api/v1/permissions/datasets/${d.id}/principals`)).status, 401);

    // Given share, the same user may look.
    await share(owner, reader.id, 'share', [d.id]);
    const allowed = await holders(reader, d.id);
    assert.equal(allowed.status, 200, allowed.text);
    assert.deepEqual(allowed.body.find((h) => h.principal_id === reader.id)?.permissions, ['read', 'write', 'delete', 'share']);
    // Losing it closes the view again.
    await revoke(owner, reader.id, 'share', [d.id]);
    assert.equal((await holders(reader, d.id)).status, 403);
  });

  it("another tenant's grants never appear, and another tenant's dataset cannot be asked about", async () => {
    const alice = await actor('dp-alice');
    const bob = await actor('dp-bob');
    const tenantA = await newTenant(alice, 'dp-alpha');
    const roleA = await newRole(alice, 'alpha-readers');
    const dA = await dataset(alice, 'shared-name');
    await share(alice, roleA, 'read', [dA.id]);

    const tenantB = await newTenant(bob, 'dp-beta');
    const roleB = await newRole(bob, 'beta-readers');
    const dB = await dataset(bob, 'shared-name');
    await share(bob, roleB, 'read', [dB.id]);
    await share(bob, tenantB, 'read', [dB.id]);
    // Bob also shares his own tenant's dataset with Alice: a grant on tenant B's dataset.
    await share(bob, alice.id, 'read', [dB.id]);
    await share(bob, alice.id, 'share', [dB.id]);

    const listA = await holders(alice, dA.id);
    assert.equal(listA.status, 200, listA.text);
    const idsA = listA.body.map((h) => h.principal_id).sort();
    assert.deepEqual(idsA, [alice.id, roleA].sort(), "only tenant A's dataset's grants");
    for (const foreign of [bob.id, roleB, tenantB]) assert.ok(!idsA.includes(foreign));

    const listB = await holders(bob, dB.id);
    assert.deepEqual(listB.body.map((h) => h.principal_id).sort(), [alice.id, bob.id, roleB, tenantB].sort());
    for (const foreign of [roleA, tenantA]) assert.ok(!listB.body.some((h) => h.principal_id === foreign));

    // Bob holds nothing on tenant A's dataset; Alice holds share on tenant B's dataset, but tenant B
    // is not her active tenant, so both are refused.
    assert.deepEqual([(await holders(bob, dA.id)).status, (await holders(bob, dA.id)).body], [403, DENIED]);
    assert.deepEqual([(await holders(alice, dB.id)).status, (await holders(alice, dB.id)).body], [403, DENIED]);
    // Alice's own dataset is refused too once she leaves tenant A for her personal space.
    assert.equal((await alice.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: null }, ...asActor(alice) })).status, 200);
    assert.deepEqual((await holders(alice, dA.id)).body, DENIED);
  });
});
