import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  cogneeValidation,
  entityAlreadyExists,
  entityNotFound,
  permissionDenied,
  permissionNotFound,
  roleNotFound,
  tenantNotFound,
  userNotFound,
} from '../errors.js';
import type { Database } from '../storage/index.js';
import { datasetView } from './datasets.js';
import {
  PERMISSION_TYPES,
  datasetGrants,
  effectiveDatasets,
  grant,
  isPermissionName,
  permittedIds,
  requireOnAll,
  revoke,
  type PermissionName,
  type Subject,
} from './permissions.js';
import { requirePrincipal } from './principals.js';
import { canManageUsers, findTenant, isMember, requireManagement, rolesInTenant, noSuchTenant, noSuchUser } from './tenants.js';

/**
 * The operations behind `/api/v1/permissions`. Each takes the requester as a `Subject` and returns
 * what the route answers; denials are the catalogue's `ApiError`s (`errors.ts`) with the reference's messages (D14, D15 apply).
 */
const ts = () => new Date().toISOString();
const requester = (subject: Subject) => ({ userId: subject.userId, roleIds: subject.roleIds });

async function findUser(db: Kysely<Database>, id: string) {
  return db.selectFrom('users').select(['id', 'email', 'tenant_id']).where('id', '=', id).executeTakeFirst();
}

async function findRole(db: Kysely<Database>, id: string) {
  return db.selectFrom('roles').select(['id', 'name', 'tenant_id']).where('id', '=', id).executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------
// Sharing

export async function changeDatasetPermission(
  db: Kysely<Database>,
  subject: Subject,
  action: 'grant' | 'revoke',
  principalId: string,
  permissionName: string,
  datasetIds: readonly string[],
): Promise<void> {
  await requirePrincipal(db, principalId);
  // D15: an empty list is an error, never "every dataset I can share".
  if (datasetIds.length === 0) {
    throw cogneeValidation('At least one dataset id is required.');
  }
  const shareable = await permittedIds(db, subject, 'share', datasetIds);
  if (datasetIds.some((id) => !shareable.has(id))) {
    throw permissionDenied('Request owner does not have necessary permission: [share] for all datasets requested.');
  }
  if (!isPermissionName(permissionName)) {
    throw permissionNotFound(permissionName);
  }
  if (action === 'grant') await grant(db, principalId, permissionName, datasetIds);
  else await revoke(db, principalId, permissionName, datasetIds);
}

/** `GET /principals/{id}/datasets`: who may ask about whose datasets. */
export async function principalDatasets(db: Kysely<Database>, subject: Subject, principalId: string, permissionName: string) {
  const type = await requirePrincipal(db, principalId);
  const active = subject.activeTenantId;
  if (type === 'user') {
    if (principalId !== subject.userId) {
      if (active === null) throw noSuchTenant(null);
      await requireManagement(db, requester(subject), active);
    }
  } else if (type === 'role') {
    const role = await findRole(db, principalId);
    if (!role || active === null || role.tenant_id !== active) {
      throw roleNotFound('Role not found for this tenant.');
    }
    if (!subject.roleIds.includes(role.id)) await requireManagement(db, requester(subject), active);
  } else if (principalId !== active) {
    throw permissionDenied('User is not authorized to read datasets of another tenant');
  }
  if (!isPermissionName(permissionName)) return [];
  // The principal's own grants (not its union), kept to the requester's active tenant.
  const principalSubject: Subject = {
    userId: principalId,
    activeTenantId: active,
    principalIds: [principalId],
    roleIds: [],
    tenantIds: [],
  };
  const rows = await effectiveDatasets(db, principalSubject, permissionName as PermissionName);
  return rows.map((row) => ({ ...datasetView(row), data: [] }));
}

/**
 * `GET /datasets/{id}/principals` (an Engram addition): who holds which permission on one dataset.
 * Only a caller holding `share` on it in their active tenant may ask (the same 403 as any other
 * refusal, so the answer never reveals whether the dataset exists).
 */
export async function datasetPrincipals(db: Kysely<Database>, subject: Subject, datasetId: string) {
  await requireOnAll(db, subject, 'share', [datasetId]);
  const byPrincipal = new Map<string, { type: 'user' | 'role' | 'tenant'; permissions: Set<PermissionName> }>();
  for (const g of await datasetGrants(db, datasetId)) {
    const entry = byPrincipal.get(g.principal_id) ?? { type: g.principal_type, permissions: new Set<PermissionName>() };
    entry.permissions.add(g.permission);
    byPrincipal.set(g.principal_id, entry);
  }
  const ids = (type: 'user' | 'role' | 'tenant') => [...byPrincipal].filter(([, e]) => e.type === type).map(([id]) => id);
  const names = new Map<string, string>();
  const named = (rows: { id: string; name: string }[]) => rows.forEach((r) => names.set(r.id, r.name));
  const [userIds, roleIds, tenantIds] = [ids('user'), ids('role'), ids('tenant')];
  if (userIds.length > 0) named(await db.selectFrom('users').select(['id', 'email as name']).where('id', 'in', userIds).execute());
  if (roleIds.length > 0) named(await db.selectFrom('roles').select(['id', 'name']).where('id', 'in', roleIds).execute());
  if (tenantIds.length > 0) named(await db.selectFrom('tenants').select(['id', 'name']).where('id', 'in', tenantIds).execute());
  const typeOrder = { user: 0, role: 1, tenant: 2 } as const;
  return [...byPrincipal]
    .map(([id, e]) => ({
      principal_id: id,
      principal_type: e.type,
      name: names.get(id) ?? null,
      permissions: PERMISSION_TYPES.filter((p) => e.permissions.has(p)),
    }))
    .sort(
      (a, b) =>
        typeOrder[a.principal_type] - typeOrder[b.principal_type] || (a.name ?? '').localeCompare(b.name ?? '') || a.principal_id.localeCompare(b.principal_id),
    );
}

// ---------------------------------------------------------------------------------------------
// Roles

export async function createRole(db: Kysely<Database>, subject: Subject, name: string) {
  const tenantId = subject.activeTenantId;
  if (tenantId === null) throw noSuchTenant(null);
  const tenant = await findTenant(db, tenantId);
  if (!tenant) throw noSuchTenant(tenantId);
  if (tenant.owner_id !== subject.userId) {
    throw permissionDenied('User submitting request does not have permission to create role for tenant.');
  }
  const existing = await db.selectFrom('roles').select('id').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
  const duplicate = () => entityAlreadyExists(`Role ${name} already exists for this tenant.`);
  if (existing) throw duplicate();
  const id = randomUUID();
  try {
    await db.transaction().execute(async (trx) => {
      const now = ts();
      await trx.insertInto('principals').values({ id, type: 'role', created_at: now, updated_at: now }).execute();
      await trx.insertInto('roles').values({ id, name, tenant_id: tenantId }).execute();
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '23505' || code?.startsWith('SQLITE_CONSTRAINT')) throw duplicate();
    throw error;
  }
  return { message: 'Role created for tenant', role_id: id, tenant_id: tenantId };
}

export async function deleteRole(db: Kysely<Database>, subject: Subject, roleId: string) {
  const role = await findRole(db, roleId);
  if (!role) throw entityNotFound('Role not found.');
  await requireManagement(db, requester(subject), role.tenant_id);
  // The principal row cascades to the role, its memberships and its grants.
  await db.deleteFrom('principals').where('id', '=', roleId).execute();
  return { message: 'Role deleted', affectedUsers: [] as string[] };
}

export async function addUserToRole(db: Kysely<Database>, subject: Subject, userId: string, roleId: string) {
  const user = await findUser(db, userId);
  if (!user) throw noSuchUser(userId);
  const role = await findRole(db, roleId);
  if (!role) throw roleNotFound('User role not found.');
  const tenant = await findTenant(db, role.tenant_id);
  if (!tenant) throw noSuchTenant(role.tenant_id);
  if (!(await isMember(db, userId, role.tenant_id))) {
    throw tenantNotFound('User tenant does not match role tenant. User cannot be added to role.');
  }
  if (tenant.owner_id !== subject.userId) {
    throw permissionDenied('User submitting request does not have permission to add user to role.');
  }
  const inserted = await db
    .insertInto('user_roles')
    .values({ user_id: userId, role_id: roleId, created_at: ts() })
    .onConflict((oc) => oc.columns(['user_id', 'role_id']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
    throw entityAlreadyExists('User is already part of group.');
  }
  return { message: 'User added to role' };
}

export async function removeUserFromRole(db: Kysely<Database>, subject: Subject, userId: string, roleId: string) {
  if (!(await findUser(db, userId))) {
    throw userNotFound('No user found in the system. Please create a user.');
  }
  const role = await findRole(db, roleId);
  if (!role) throw roleNotFound('User role not found.');
  await requireManagement(db, requester(subject), role.tenant_id);
  await db.deleteFrom('user_roles').where('user_id', '=', userId).where('role_id', '=', roleId).execute();
  return { message: 'User removed from role' };
}

// ---------------------------------------------------------------------------------------------
// Tenants

export async function addUserToTenant(db: Kysely<Database>, subject: Subject, userId: string, tenantId: string) {
  if (!(await findUser(db, userId))) throw noSuchUser(userId);
  const tenant = await findTenant(db, tenantId);
  if (!tenant) throw noSuchTenant(tenantId);
  if (tenant.owner_id !== subject.userId) throw permissionDenied('Only tenant owner can add other users to organization.');
  const inserted = await db
    .insertInto('user_tenants')
    .values({ user_id: userId, tenant_id: tenantId, created_at: ts() })
    .onConflict((oc) => oc.columns(['user_id', 'tenant_id']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
    throw entityAlreadyExists('User is already part of group.');
  }
  return { message: 'User added to tenant' };
}

/**
 * Removes a member: their roles in the tenant, their direct grants on the tenant's datasets and the
 * membership; and (D15) moves them to their personal space if it was their active tenant.
 */
export async function removeUserFromTenant(db: Kysely<Database>, subject: Subject, tenantId: string, userId: string) {
  const tenant = await requireManagement(db, requester(subject), tenantId);
  if (tenant.owner_id === userId) {
    throw cogneeValidation('Cannot remove the tenant owner from their own tenant.');
  }
  const user = await findUser(db, userId);
  if (!user) throw noSuchUser(userId);
  if (!(await isMember(db, userId, tenantId))) {
    throw entityNotFound('User not found in this tenant.');
  }
  await db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('user_roles')
      .where('user_id', '=', userId)
      .where('role_id', 'in', (eb) => eb.selectFrom('roles').select('id').where('tenant_id', '=', tenantId))
      .execute();
    await trx
      .deleteFrom('acls')
      .where('principal_id', '=', userId)
      .where('dataset_id', 'in', (eb) => eb.selectFrom('datasets').select('id').where('tenant_id', '=', tenantId))
      .execute();
    await trx.deleteFrom('user_tenants').where('user_id', '=', userId).where('tenant_id', '=', tenantId).execute();
    if (user.tenant_id === tenantId) await trx.updateTable('users').set({ tenant_id: null }).where('id', '=', userId).execute();
  });
  return { message: 'User removed from tenant' };
}

export async function selectTenant(db: Kysely<Database>, userId: string, tenantId: string | null) {
  if (tenantId !== null) {
    if (!(await findTenant(db, tenantId))) throw noSuchTenant(tenantId);
    if (!(await isMember(db, userId, tenantId))) {
      throw tenantNotFound('User is not part of the tenant.');
    }
  }
  await db.updateTable('users').set({ tenant_id: tenantId }).where('id', '=', userId).execute();
  return { message: 'Tenant selected.', tenant_id: tenantId };
}

export async function tenantRoles(db: Kysely<Database>, subject: Subject, tenantId: string) {
  const tenant = await findTenant(db, tenantId);
  if (!tenant) throw noSuchTenant(tenantId);
  const manager = await canManageUsers(db, requester(subject), tenant);
  let query = db
    .selectFrom('roles')
    .leftJoin('user_roles', 'user_roles.role_id', 'roles.id')
    .select((eb) => ['roles.id', 'roles.name', eb.fn.count<number>('user_roles.user_id').as('user_count')])
    .where('roles.tenant_id', '=', tenantId)
    .groupBy(['roles.id', 'roles.name'])
    .orderBy('roles.name');
  if (!manager) {
    if (subject.roleIds.length === 0) return [];
    query = query.where('roles.id', 'in', [...subject.roleIds]);
  }
  const rows = await query.execute();
  return rows.map((r) => ({ id: r.id, name: r.name, description: null, user_count: Number(r.user_count) }));
}

export async function roleMembers(db: Kysely<Database>, subject: Subject, tenantId: string, roleId: string) {
  const role = await findRole(db, roleId);
  if (!role || role.tenant_id !== tenantId) throw roleNotFound('Role not found for this tenant.');
  if (!subject.roleIds.includes(roleId)) await requireManagement(db, requester(subject), tenantId);
  const rows = await db
    .selectFrom('user_roles')
    .innerJoin('users', 'users.id', 'user_roles.user_id')
    .select(['users.id', 'users.email'])
    .where('user_roles.role_id', '=', roleId)
    .orderBy('users.email')
    .execute();
  return rows.map((r) => ({ id: r.id, name: r.email }));
}

/** D15: only the roles of this tenant (the reference lists every tenant's). */
export async function userRolesInTenant(db: Kysely<Database>, subject: Subject, tenantId: string, userId: string) {
  await requireManagement(db, requester(subject), tenantId);
  if (!(await findUser(db, userId))) throw noSuchUser(userId);
  return rolesInTenant(db, userId, tenantId);
}

export async function tenantUsers(db: Kysely<Database>, subject: Subject, tenantId: string) {
  await requireManagement(db, requester(subject), tenantId);
  const users = await db
    .selectFrom('user_tenants')
    .innerJoin('users', 'users.id', 'user_tenants.user_id')
    .select(['users.id', 'users.email'])
    .where('user_tenants.tenant_id', '=', tenantId)
    .orderBy('users.email')
    .execute();
  const roles = await db
    .selectFrom('user_roles')
    .innerJoin('roles', 'roles.id', 'user_roles.role_id')
    .select(['user_roles.user_id', 'roles.id', 'roles.name'])
    .where('roles.tenant_id', '=', tenantId)
    .orderBy('roles.name')
    .execute();
  return users.map((u) => ({
    id: u.id,
    email: u.email,
    roles: roles.filter((r) => r.user_id === u.id).map((r) => ({ id: r.id, name: r.name })),
  }));
}
