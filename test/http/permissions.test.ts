import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { linkExternalTenant } from '../../src/access/index.js';
import { createJwt } from '../../src/auth/tokens.js';
import { acceptPending, asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Tenants, roles and dataset permissions over HTTP: the reference's behaviours (its tests that can be
 * expressed over HTTP) and the decisions that change them (D2, D14, D15).
 */
const SECRET = 'permissions-suite-secret-0123456789-abcdefghij';

describe('tenants, roles and dataset permissions', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: SECRET } });
  });
  after(() => server.close());

  /** Every user of the suite by id, so that a recipient can accept what is shared with it (D23). */
  const actors = new Map<string, Actor>();
  const actor = async (prefix: string) => {
    const a = await signUpActor(server, prefix);
    actors.set(a.id, a);
    return a;
  };
  const dataset = async (a: Actor, name: string) => (await a.c.post('/api/v1/datasets', { json: { name }, ...asActor(a) })).body;
  const list = async (a: Actor) => ((await a.c.get('/api/v1/datasets', asActor(a))).body as { name: string }[]).map((d) => d.name).sort();
  const offer = (a: Actor, principal: string, permission: string, ids: string[]) =>
    a.c.post(`/api/v1/permissions/datasets/${principal}?permission_name=${permission}`, { json: ids, ...asActor(a) });
  /** A grant; a user outside the dataset's tenant then accepts it (D23), so it takes effect as before. */
  const share = async (a: Actor, principal: string, permission: string, ids: string[]) => {
    const res = await offer(a, principal, permission, ids);
    await acceptPending(actors.get(principal), res);
    return res;
  };
  const newTenant = async (a: Actor, name: string) => (await a.c.post(`/api/v1/permissions/tenants?tenant_name=${name}`, asActor(a))).body.tenant_id as string;
  const select = (a: Actor, tenantId: string | null) => a.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(a) });

  it('each user sees only their own datasets; sharing read makes one visible (multi-tenant e2e)', async () => {
    const a = await actor('a');
    const b = await actor('b');
    const da = await dataset(a, 'alpha');
    await dataset(b, 'beta');
    assert.deepEqual(await list(a), ['alpha']);
    assert.deepEqual(await list(b), ['beta']);
    assert.deepEqual(Object.keys(da).sort(), ['createdAt', 'id', 'name', 'ownerId', 'tenantId', 'updatedAt']);

    const del = await b.c.delete(`/api/v1/datasets/${da.id}`, asActor(b));
    assert.equal(del.status, 403);
    assert.deepEqual(await list(a), ['alpha'], 'the dataset survives');

    const found = await a.c.post('/api/v1/users/get-user-id', { json: { email: b.email }, ...asActor(a) });
    assert.equal(found.body.user_id, b.id);
    const granted = await offer(a, b.id, 'read', [da.id]);
    assert.deepEqual([granted.status, granted.body], [200, { message: 'Permission assigned to principal', pending_dataset_ids: [da.id] }]);
    assert.deepEqual(await list(b), ['beta'], 'D23: an outside share waits for the recipient');
    assert.equal((await b.c.post(`/api/v1/permissions/shares/received/${da.id}/accept`, asActor(b))).status, 200);
    assert.deepEqual(await list(b), ['alpha', 'beta']);
    assert.equal((await b.c.get('/api/v1/datasets', { cookies: false })).status, 401, 'anonymous listing is refused');
  });

  it('the four permissions are independent; no owner or superuser bypass', async () => {
    const a = await actor('owner');
    const b = await actor('grantee');
    const d = await dataset(a, 'independent');
    await share(a, b.id, 'write', [d.id]);
    await share(a, b.id, 'share', [d.id]);
    assert.deepEqual(await list(b), [], 'write and share do not imply read');
    assert.equal((await b.c.delete(`/api/v1/datasets/${d.id}`, asActor(b))).status, 403, 'nor delete');
    // D23: share lets b give only what b holds, and never to itself.
    assert.equal((await share(b, b.id, 'read', [d.id])).status, 403);
    assert.equal((await share(b, a.id, 'read', [d.id])).status, 403);
    assert.deepEqual(await list(b), []);
    assert.equal((await share(a, b.id, 'read', [d.id])).status, 200);
    assert.deepEqual(await list(b), ['independent']);
    // The owner can lose its own read.
    assert.equal((await a.c.delete(`/api/v1/permissions/datasets/${a.id}?permission_name=read`, { json: [d.id], ...asActor(a) })).status, 200);
    assert.deepEqual(await list(a), []);
  });

  it('sharing needs share on every dataset; an invalid permission name is 403 after that check', async () => {
    const a = await actor('sharer');
    const b = await actor('target');
    const mine = await dataset(a, 'mine');
    const theirs = await dataset(b, 'theirs');
    const mixed = await share(a, b.id, 'read', [mine.id, theirs.id]);
    assert.deepEqual(
      [mixed.status, mixed.body],
      [403, { detail: 'Request owner does not have necessary permission: [share] for all datasets requested. [PermissionDeniedError]' }],
    );
    const ghost = await share(a, b.id, 'read', [randomUUID()]);
    assert.equal(ghost.status, 403, 'an unknown dataset is refused like a foreign one');
    assert.deepEqual(ghost.body, mixed.body);
    const bogus = await share(a, b.id, 'admin', [mine.id]);
    assert.deepEqual([bogus.status, bogus.body], [403, { detail: 'admin not found or not in allowed permission types [PermissionNotFoundError]' }]);
    const bogusForeign = await share(a, b.id, 'admin', [theirs.id]);
    assert.match(bogusForeign.body.detail, /\[share\]/, 'the share check comes first');
    assert.equal((await share(a, b.id, 'read', [mine.id])).status, 200);
    assert.equal((await share(a, b.id, 'read', [mine.id])).status, 200, 'grants are idempotent');
    const revoke = await a.c.delete(`/api/v1/permissions/datasets/${b.id}?permission_name=read`, { json: [mine.id], ...asActor(a) });
    assert.deepEqual([revoke.status, revoke.body], [200, { message: 'Permission revoked from principal' }]);
    const again = await a.c.delete(`/api/v1/permissions/datasets/${b.id}?permission_name=read`, { json: [mine.id], ...asActor(a) });
    assert.equal(again.status, 200, 'revoking what was never granted succeeds');
  });

  it('D15: an empty dataset list is 400; D14: an unknown principal is 404', async () => {
    const a = await actor('empty');
    await dataset(a, 'one');
    const empty = await share(a, a.id, 'read', []);
    assert.equal(empty.status, 400);
    assert.match(empty.body.detail, /At least one dataset id is required/);
    const d = await dataset(a, 'two');
    const unknown = await share(a, randomUUID(), 'read', [d.id]);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.detail, /EntityNotFoundError/);
    assert.equal((await a.c.post('/api/v1/permissions/datasets/not-a-uuid?permission_name=read', { json: [d.id], ...asActor(a) })).status, 400);
    assert.equal(
      (await a.c.post(`/api/v1/permissions/datasets/${a.id}?permission_name=read`, { json: { ids: [d.id] }, ...asActor(a) })).status,
      400,
      'the body is a bare array',
    );
  });

  it('tenants: create selects it; datasets belong to the active tenant; switching changes what is visible', async () => {
    const a = await actor('tenant-owner');
    await dataset(a, 'personal');
    const created = await a.c.post('/api/v1/permissions/tenants?tenant_name=acme', asActor(a));
    assert.equal(created.body.message, 'Tenant created.');
    const tenantId = created.body.tenant_id;
    assert.deepEqual((await a.c.get('/api/v1/users/me', asActor(a))).body.tenant_id, tenantId, 'the new tenant is active');
    assert.deepEqual(await list(a), [], 'personal datasets are invisible in the tenant');
    const inTenant = await dataset(a, 'personal');
    assert.equal(inTenant.tenantId, tenantId, 'the same name in a tenant is another dataset');
    assert.deepEqual(await list(a), ['personal']);
    const back = await select(a, null);
    assert.deepEqual(back.body, { message: 'Tenant selected.', tenant_id: null }, 'D15: null, not "None"');
    const personal = (await a.c.get('/api/v1/datasets', asActor(a))).body;
    assert.equal(personal.length, 1);
    assert.notEqual(personal[0].id, inTenant.id);
    assert.deepEqual((await a.c.get('/api/v1/permissions/tenants/me', asActor(a))).body, [{ id: tenantId, name: 'acme' }]);
    assert.equal((await a.c.post('/api/v1/permissions/tenants/select', { json: {}, ...asActor(a) })).body.tenant_id, null, '{} means null');
    const camel = await a.c.post('/api/v1/permissions/tenants/select', { json: { tenantId }, ...asActor(a) });
    assert.equal(camel.body.tenant_id, tenantId, 'camelCase is accepted');
  });

  it('tenant membership: owner-only add, no tenant switch on add, select needs membership', async () => {
    const owner = await actor('t-owner');
    const member = await actor('t-member');
    const outsider = await actor('t-outsider');
    const tenantId = await newTenant(owner, 'org');
    const notOwner = await outsider.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(outsider));
    assert.deepEqual([notOwner.status, notOwner.body], [403, { detail: 'Only tenant owner can add other users to organization. [PermissionDeniedError]' }]);
    const notMember = await select(member, tenantId);
    assert.deepEqual([notMember.status, notMember.body], [404, { detail: 'User is not part of the tenant. [TenantNotFoundError]' }]);
    const added = await owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner));
    assert.deepEqual([added.status, added.body], [200, { message: 'User added to tenant' }]);
    const dup = await owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner));
    assert.deepEqual([dup.status, dup.body], [409, { detail: 'User is already part of group. [EntityAlreadyExistsError]' }]);
    assert.equal((await member.c.get('/api/v1/users/me', asActor(member))).body.tenant_id, null, 'adding does not switch the tenant');
    assert.equal((await select(member, tenantId)).status, 200);
    const unknownTenant = await select(member, randomUUID());
    assert.equal(unknownTenant.status, 404);
    assert.match(unknownTenant.body.detail, /Could not find tenant: .* \[TenantNotFoundError\]/);
  });

  it('roles: owner-only creation, unique names (D14: 409), members must be in the tenant, visibility rules', async () => {
    const owner = await actor('r-owner');
    const member = await actor('r-member');
    const other = await actor('r-other');
    const noTenant = await owner.c.post('/api/v1/permissions/roles?role_name=x', asActor(member));
    assert.deepEqual([noTenant.status, noTenant.body], [404, { detail: 'Could not find tenant: None [TenantNotFoundError]' }]);
    const tenantId = await newTenant(owner, 'roles-org');
    const role = await owner.c.post('/api/v1/permissions/roles?role_name=analyst', asActor(owner));
    assert.equal(role.body.message, 'Role created for tenant');
    assert.equal(role.body.tenant_id, tenantId);
    const roleId = role.body.role_id;
    const dup = await owner.c.post('/api/v1/permissions/roles?role_name=analyst', asActor(owner));
    assert.equal(dup.status, 409);

    const notInTenant = await owner.c.post(`/api/v1/permissions/users/${member.id}/roles?role_id=${roleId}`, asActor(owner));
    assert.deepEqual(
      [notInTenant.status, notInTenant.body],
      [404, { detail: 'User tenant does not match role tenant. User cannot be added to role. [TenantNotFoundError]' }],
    );
    await owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner));
    await owner.c.post(`/api/v1/permissions/users/${other.id}/tenants?tenant_id=${tenantId}`, asActor(owner));
    await select(member, tenantId);
    await select(other, tenantId);
    const byMember = await member.c.post('/api/v1/permissions/roles?role_name=mine', asActor(member));
    assert.deepEqual(
      [byMember.status, byMember.body],
      [403, { detail: 'User submitting request does not have permission to create role for tenant. [PermissionDeniedError]' }],
    );
    const addByMember = await member.c.post(`/api/v1/permissions/users/${member.id}/roles?role_id=${roleId}`, asActor(member));
    assert.deepEqual(
      [addByMember.status, addByMember.body],
      [403, { detail: 'User submitting request does not have permission to add user to role. [PermissionDeniedError]' }],
    );
    assert.equal((await owner.c.post(`/api/v1/permissions/users/${member.id}/roles?role_id=${roleId}`, asActor(owner))).body.message, 'User added to role');
    assert.equal((await owner.c.post(`/api/v1/permissions/users/${member.id}/roles?role_id=${roleId}`, asActor(owner))).status, 409);
    assert.equal((await owner.c.post(`/api/v1/permissions/users/${randomUUID()}/roles?role_id=${roleId}`, asActor(owner))).status, 404, 'D14: unknown user');
    assert.equal((await owner.c.post(`/api/v1/permissions/users/${member.id}/roles?role_id=${randomUUID()}`, asActor(owner))).status, 404, 'D14: unknown role');

    // Visibility: managers see every role, members their own, others none.
    const ownerView = (await owner.c.get(`/api/v1/permissions/tenants/${tenantId}/roles`, asActor(owner))).body;
    assert.deepEqual(ownerView, [{ id: roleId, name: 'analyst', description: null, user_count: 1 }]);
    assert.deepEqual((await member.c.get(`/api/v1/permissions/tenants/${tenantId}/roles`, asActor(member))).body, ownerView);
    assert.deepEqual((await other.c.get(`/api/v1/permissions/tenants/${tenantId}/roles`, asActor(other))).body, []);
    const members = await member.c.get(`/api/v1/permissions/tenants/${tenantId}/roles/${roleId}/users`, asActor(member));
    assert.deepEqual(members.body, [{ id: member.id, name: member.email }]);
    assert.equal((await other.c.get(`/api/v1/permissions/tenants/${tenantId}/roles/${roleId}/users`, asActor(other))).status, 403);
    const users = (await owner.c.get(`/api/v1/permissions/tenants/${tenantId}/users`, asActor(owner))).body as { id: string; roles: unknown[] }[];
    assert.equal(users.length, 3);
    assert.deepEqual(users.find((u) => u.id === member.id)!.roles, [{ id: roleId, name: 'analyst' }]);
    assert.equal((await other.c.get(`/api/v1/permissions/tenants/${tenantId}/users`, asActor(other))).status, 403);
  });

  it("D15: a user's roles in a tenant are only that tenant's roles", async () => {
    const owner = await actor('d15-owner');
    const user = await actor('d15-user');
    const t1 = await newTenant(owner, 'one');
    const r1 = (await owner.c.post('/api/v1/permissions/roles?role_name=admin', asActor(owner))).body.role_id;
    await owner.c.post(`/api/v1/permissions/users/${user.id}/tenants?tenant_id=${t1}`, asActor(owner));
    await owner.c.post(`/api/v1/permissions/users/${user.id}/roles?role_id=${r1}`, asActor(owner));
    const t2 = await newTenant(owner, 'two');
    const r2 = (await owner.c.post('/api/v1/permissions/roles?role_name=viewer', asActor(owner))).body.role_id;
    await owner.c.post(`/api/v1/permissions/users/${user.id}/tenants?tenant_id=${t2}`, asActor(owner));
    await owner.c.post(`/api/v1/permissions/users/${user.id}/roles?role_id=${r2}`, asActor(owner));
    const inT2 = await owner.c.get(`/api/v1/permissions/tenants/${t2}/roles/users/${user.id}`, asActor(owner));
    assert.deepEqual(inT2.body, [{ id: r2, name: 'viewer' }]);
  });

  it('admins manage users; removal strips roles and direct grants, cannot remove the owner, and (D15) leaves the tenant', async () => {
    const owner = await actor('m-owner');
    const admin = await actor('m-admin');
    const member = await actor('m-member');
    const tenantId = await newTenant(owner, 'managed');
    const adminRole = (await owner.c.post('/api/v1/permissions/roles?role_name=admin', asActor(owner))).body.role_id;
    for (const u of [admin, member]) {
      await owner.c.post(`/api/v1/permissions/users/${u.id}/tenants?tenant_id=${tenantId}`, asActor(owner));
      await select(u, tenantId);
    }
    await owner.c.post(`/api/v1/permissions/users/${admin.id}/roles?role_id=${adminRole}`, asActor(owner));
    const d = await dataset(owner, 'tenant-data');
    await share(owner, member.id, 'read', [d.id]);
    assert.deepEqual(await list(member), ['tenant-data']);

    const byMember = await member.c.delete(`/api/v1/permissions/tenants/${tenantId}/users/${admin.id}`, asActor(member));
    assert.deepEqual([byMember.status, byMember.body], [403, { detail: 'User is not authorized to manage users for this tenant [PermissionDeniedError]' }]);
    const ownerRemoval = await admin.c.delete(`/api/v1/permissions/tenants/${tenantId}/users/${owner.id}`, asActor(admin));
    assert.deepEqual(
      [ownerRemoval.status, ownerRemoval.body],
      [400, { detail: 'Cannot remove the tenant owner from their own tenant. [CogneeValidationError]' }],
    );
    const stranger = await actor('m-stranger');
    const notMember = await admin.c.delete(`/api/v1/permissions/tenants/${tenantId}/users/${stranger.id}`, asActor(admin));
    assert.deepEqual([notMember.status, notMember.body], [404, { detail: 'User not found in this tenant. [EntityNotFoundError]' }]);
    const removed = await admin.c.delete(`/api/v1/permissions/tenants/${tenantId}/users/${member.id}`, asActor(admin));
    assert.deepEqual([removed.status, removed.body], [200, { message: 'User removed from tenant' }]);
    assert.equal((await member.c.get('/api/v1/users/me', asActor(member))).body.tenant_id, null, 'D15: moved out of the tenant');
    await select(member, tenantId).then((r) => assert.equal(r.status, 404));
    // Back in the tenant, the old direct grant is gone.
    await owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner));
    await select(member, tenantId);
    assert.deepEqual(await list(member), []);

    const delRole = await admin.c.delete(`/api/v1/permissions/roles/${adminRole}`, asActor(admin));
    assert.deepEqual([delRole.status, delRole.body], [200, { message: 'Role deleted' }]);
    assert.deepEqual((await admin.c.delete(`/api/v1/permissions/roles/${adminRole}`, asActor(admin))).body, {
      detail: 'Role not found. [EntityNotFoundError]',
    });
  });

  it('role and tenant grants reach members, kept to the active tenant; a grant outside it does not count', async () => {
    const owner = await actor('g-owner');
    const member = await actor('g-member');
    const tenantId = await newTenant(owner, 'grants');
    const role = (await owner.c.post('/api/v1/permissions/roles?role_name=readers', asActor(owner))).body.role_id;
    await owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner));
    await owner.c.post(`/api/v1/permissions/users/${member.id}/roles?role_id=${role}`, asActor(owner));
    const viaRole = await dataset(owner, 'via-role');
    const viaTenant = await dataset(owner, 'via-tenant');
    await share(owner, role, 'read', [viaRole.id]);
    await share(owner, tenantId, 'read', [viaTenant.id]);
    assert.deepEqual(await list(member), [], 'in the personal space, tenant datasets are invisible');
    await select(member, tenantId);
    assert.deepEqual(await list(member), ['via-role', 'via-tenant']);
    const roleDatasets = await member.c.get(`/api/v1/permissions/principals/${role}/datasets`, asActor(member));
    assert.deepEqual(
      roleDatasets.body.map((d: { name: string }) => d.name),
      ['via-role'],
    );
    assert.deepEqual(roleDatasets.body[0].data, []);
    const tenantDatasets = await member.c.get(`/api/v1/permissions/principals/${tenantId}/datasets`, asActor(member));
    assert.deepEqual(
      tenantDatasets.body.map((d: { name: string }) => d.name),
      ['via-tenant'],
    );
    const otherTenant = await member.c.get(`/api/v1/permissions/principals/${randomUUID()}/datasets`, asActor(member));
    assert.equal(otherTenant.status, 404, 'D14: unknown principal');
    const ownersDatasets = await member.c.get(`/api/v1/permissions/principals/${owner.id}/datasets`, asActor(member));
    assert.equal(ownersDatasets.status, 403, 'another user needs management permission');

    // From inside the tenant, a personal dataset cannot be shared (the share check is kept to the
    // active tenant), as in the reference's test_permissions.
    await select(owner, null);
    const personalFirst = await dataset(owner, 'personal-first');
    await select(owner, tenantId);
    const denied = await share(owner, role, 'read', [personalFirst.id]);
    assert.deepEqual(
      [denied.status, denied.body],
      [403, { detail: 'Request owner does not have necessary permission: [share] for all datasets requested. [PermissionDeniedError]' }],
    );
    // Granted from the personal space, it still never shows inside the tenant.
    await select(owner, null);
    const personal = await dataset(owner, 'personal-only');
    assert.equal((await share(owner, role, 'read', [personal.id])).status, 200);
    assert.deepEqual(await list(member), ['via-role', 'via-tenant']);
  });

  it('D2: an external token reads a dataset shared with its role, and loses it when the role is gone from the token', async () => {
    const userId = randomUUID();
    const c = server.client();
    const withRole = await createJwt(userId, 'tenant_456', ['analyst'], { secret: SECRET });
    const me = await c.get('/api/v1/auth/me', { bearer: withRole });
    assert.equal(me.status, 200);
    // The tenant and role now exist; find them through the owner-less tenant's role list as the token user.
    const tenants = (await c.get('/api/v1/permissions/tenants/me', { bearer: withRole })).body;
    assert.deepEqual(
      tenants.map((t: { name: string }) => t.name),
      ['tenant_456'],
    );
    const tenantId = tenants[0].id;
    const roles = (await c.get(`/api/v1/permissions/tenants/${tenantId}/roles`, { bearer: withRole })).body;
    assert.deepEqual(
      roles.map((r: { name: string }) => r.name),
      ['analyst'],
    );

    // Another external user with the tenant's admin role creates a dataset there and shares it with the role.
    const adminId = randomUUID();
    const adminToken = await createJwt(adminId, 'tenant_456', ['admin'], { secret: SECRET });
    const d = (await c.post('/api/v1/datasets', { json: { name: 'reports' }, bearer: adminToken })).body;
    assert.equal(d.tenantId, tenantId, 'the token tenant is the active tenant');
    assert.equal((await c.post(`/api/v1/permissions/datasets/${roles[0].id}?permission_name=read`, { json: [d.id], bearer: adminToken })).status, 200);

    const visible = (await c.get('/api/v1/datasets', { bearer: withRole })).body.map((x: { name: string }) => x.name);
    assert.deepEqual(visible, ['reports']);
    const withoutRole = await createJwt(userId, 'tenant_456', [], { secret: SECRET });
    assert.deepEqual((await c.get('/api/v1/datasets', { bearer: withoutRole })).body, []);
    const otherTenant = await createJwt(userId, 'tenant_789', ['analyst'], { secret: SECRET });
    assert.deepEqual((await c.get('/api/v1/datasets', { bearer: otherTenant })).body, [], 'a same-named role in another tenant is another role');
  });

  it('D2: an external token cannot name a local tenant by its id; an operator can link one', async () => {
    const owner = await actor('local-owner');
    const tenantId = await newTenant(owner, 'local-co');
    const secretDs = await dataset(owner, 'payroll');
    assert.equal(secretDs.tenantId, tenantId);
    const c = server.client();
    // A token naming the local tenant's id as its tenant, with the admin role.
    const intruderId = randomUUID();
    const intruder = await createJwt(intruderId, tenantId, ['admin'], { secret: SECRET });
    assert.equal((await c.get('/api/v1/auth/me', { bearer: intruder })).status, 200);
    const tenants = (await c.get('/api/v1/permissions/tenants/me', { bearer: intruder })).body as { id: string }[];
    assert.ok(
      tenants.every((t) => t.id !== tenantId),
      'the token user is not a member of the local tenant',
    );
    assert.deepEqual((await c.get('/api/v1/datasets', { bearer: intruder })).body, []);
    const members = await c.get(`/api/v1/permissions/tenants/${tenantId}/users`, { bearer: intruder });
    assert.equal(members.status, 403, 'no admin power in the local tenant');
    const shared = await c.post(`/api/v1/permissions/datasets/${intruderId}?permission_name=read`, { json: [secretDs.id], bearer: intruder });
    assert.equal(shared.status, 403);

    // Linked by an operator, tokens naming the link act in the tenant.
    await linkExternalTenant(server.engram.store.db, tenantId, 'hr-system-7');
    const linked = await createJwt(randomUUID(), 'hr-system-7', [], { secret: SECRET });
    const linkedTenants = (await c.get('/api/v1/permissions/tenants/me', { bearer: linked })).body as { id: string }[];
    assert.deepEqual(
      linkedTenants.map((t) => t.id),
      [tenantId],
    );
    await assert.rejects(linkExternalTenant(server.engram.store.db, await newTenant(owner, 'other-co'), 'hr-system-7'), /already the tenant/);
  });

  it('agents: API-key-only users whose datasets their creator shares', async () => {
    const parent = await actor('parent');
    const created = await parent.c.post('/api/v1/agents/create?name=Research%20Bot', asActor(parent));
    assert.equal(created.status, 200);
    assert.deepEqual(Object.keys(created.body).sort(), ['agentApiKey', 'agentEmail', 'agentId']);
    assert.equal(created.body.agentEmail, 'research-bot@cognee.agent');
    const dup = await parent.c.post('/api/v1/agents/create?name=Research%20Bot', asActor(parent));
    assert.deepEqual([dup.status, dup.body], [409, { detail: "Agent with name 'Research Bot' already exists" }]);
    const listed = (await parent.c.get('/api/v1/agents/list', asActor(parent))).body;
    assert.deepEqual(
      listed.map((a: { agentId: string }) => a.agentId),
      [created.body.agentId],
    );
    const agentKey = created.body.agentApiKey;
    const agentMe = await parent.c.get('/api/v1/users/me', { apiKey: agentKey, cookies: false });
    assert.equal(agentMe.body.parent_user_id, parent.id);
    const login = await parent.c.post('/api/v1/auth/login', { form: { username: agentMe.body.email, password: 'anything-goes' } });
    assert.equal(login.status, 400);
    assert.match(login.body.detail, /API key/);

    const agentDataset = (await parent.c.post('/api/v1/datasets', { json: { name: 'agent-notes' }, apiKey: agentKey, cookies: false })).body;
    assert.deepEqual(await list(parent), ['agent-notes'], 'the parent gets the four permissions too');
    assert.equal((await parent.c.delete(`/api/v1/datasets/${agentDataset.id}`, asActor(parent))).status, 200);

    const stranger = await actor('stranger');
    assert.equal((await stranger.c.delete(`/api/v1/agents/${created.body.agentId}`, asActor(stranger))).status, 403);
    assert.equal((await stranger.c.get('/api/v1/agents/list', asActor(stranger))).body.length, 0);
    assert.equal((await parent.c.delete(`/api/v1/agents/${created.body.agentId}`, asActor(parent))).status, 200);
    assert.equal((await parent.c.get('/api/v1/auth/me', { apiKey: agentKey, cookies: false })).status, 401);
  });

  it('D15: stored configurations are readable by their owner only', async () => {
    const a = await actor('cfg-a');
    const b = await actor('cfg-b');
    const stored = await a.c.post('/api/v1/configuration/store_user_configuration', { json: { name: 'prefs', config: { model: 'x' } }, ...asActor(a) });
    assert.deepEqual([stored.status, stored.text], [200, 'null']);
    await a.c.post('/api/v1/configuration/store_user_configuration', { json: { name: 'prefs', config: { model: 'y' } }, ...asActor(a) });
    const mine = (await a.c.get('/api/v1/configuration/get_user_configuration/', asActor(a))).body;
    assert.equal(mine.length, 1, 'an upsert by name');
    assert.deepEqual(mine[0].configuration, { model: 'y' });
    assert.deepEqual((await a.c.get(`/api/v1/configuration/get_user_configuration/${mine[0].id}`, asActor(a))).body, { model: 'y' });
    assert.deepEqual((await b.c.get(`/api/v1/configuration/get_user_configuration/${mine[0].id}`, asActor(b))).body, {}, "another user's id reads as nothing");
    assert.deepEqual((await b.c.get('/api/v1/configuration/get_user_configuration/', asActor(b))).body, []);
    assert.equal((await a.c.post('/api/v1/configuration/store_user_configuration', { json: { name: 'bad' }, ...asActor(a) })).status, 400);
  });
});
