import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder, Kysely } from 'kysely';
import {
  cogneeValidation,
  datasetNotFound,
  entityAlreadyExists,
  entityNotFound,
  permissionDenied,
  permissionNotFound,
  roleNotFound,
  tenantNotFound,
  userNotFound,
} from '../errors.js';
import type { Database } from '../storage/index.js';
import { datasetView, findDataset } from './datasets.js';
import {
  PERMISSION_TYPES,
  datasetGrants,
  datasetOffers,
  datasetPermissionDenied,
  effectiveDatasets,
  grant,
  grantOrOffer,
  heldDirectly,
  isPermissionName,
  permittedIds,
  requireOnAll,
  revoke,
  withUserSharer,
  type PermissionName,
  type Subject,
} from './permissions.js';
import { datasetsSharedBy, handOrphansToTenantOwners } from './orphans.js';
import { isPendingDeletion, settleDatasetsOf } from './user-removal.js';
import { datasetOwners, isOwner, lastSharer } from './owners.js';
import { agentsOf, requirePrincipal } from './principals.js';
export { acceptShare, declineShare, dropShare, receivedShares } from './shares.js';
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

/**
 * `POST|DELETE /permissions/datasets/{principal}`. Every caller needs `share` on every dataset
 * (the reference's rule); D23 adds:
 * - a grant gives only what the caller holds, never to the caller, and — unless the caller owns
 *   every dataset — never to a role the caller holds or a tenant the caller belongs to (that would
 *   reach the caller, and outlive a grant the caller may lose);
 * - the owner's grants are revoked only by the owner (an agent owner's, also by its creator) or a
 *   superuser;
 * - no revoke leaves a dataset without a user holding `share`.
 */
export async function changeDatasetPermission(
  db: Kysely<Database>,
  subject: Subject,
  action: 'grant' | 'revoke',
  principalId: string,
  permissionName: string,
  datasetIds: readonly string[],
  options: { readonly superuser?: boolean } = {},
): Promise<{ readonly pending: string[] }> {
  const principal = await requirePrincipal(db, principalId);
  // D15: an empty list is an error, never "every dataset I can share".
  if (datasetIds.length === 0) {
    throw cogneeValidation('At least one dataset id is required.');
  }
  const ids = [...new Set(datasetIds.map((id) => id.toLowerCase()))];
  const shareable = await permittedIds(db, subject, 'share', ids);
  if (ids.some((id) => !shareable.has(id))) {
    throw datasetPermissionDenied('share');
  }
  if (!isPermissionName(permissionName)) {
    throw permissionNotFound(permissionName);
  }
  const owners = await datasetOwners(db, ids);
  if (action === 'grant') {
    if (principalId === subject.userId) throw permissionDenied('Permissions cannot be granted to yourself.');
    const held = permissionName === 'share' ? shareable : await permittedIds(db, subject, permissionName, ids);
    if (ids.some((id) => !held.has(id))) throw datasetPermissionDenied(permissionName);
    const reachesCaller =
      (principal === 'role' && subject.roleIds.includes(principalId)) || (principal === 'tenant' && subject.tenantIds.includes(principalId));
    if (reachesCaller && ids.some((id) => !isOwner(owners.get(id), subject.userId))) {
      throw permissionDenied("Only the dataset's owner can grant permissions to a role or tenant they belong to.");
    }
    // D23: to a user outside the dataset's tenant, an offer the user must accept.
    return { pending: await grantOrOffer(db, principalId, principal, permissionName, ids) };
  }
  const mayRevoke = (id: string) => {
    const owner = owners.get(id);
    if (!isOwner(owner, principalId) || principalId === subject.userId || options.superuser === true) return true;
    // An agent's creator may revoke what its agent holds on the agent's dataset.
    return owner!.ownerId === principalId && owner!.parentId === subject.userId;
  };
  if (!ids.every(mayRevoke)) throw permissionDenied("Only the dataset's owner can revoke the owner's permissions.");
  if (permissionName !== 'share') {
    await revoke(db, principalId, permissionName, ids);
    return { pending: [] };
  }
  await db.transaction().execute(async (trx) => {
    // Lock the datasets' rows first, so concurrent revokes of share are checked one after another.
    await trx
      .updateTable('datasets')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('id', 'in', ids)
      .execute();
    const held = await heldDirectly(trx, principalId, 'share', ids);
    await revoke(trx, principalId, 'share', ids);
    const kept = await withUserSharer(trx, [...held]);
    if ([...held].some((id) => !kept.has(id))) throw lastSharer();
  });
  return { pending: [] };
}

/**
 * `POST /permissions/datasets/{dataset_id}/owner` (superuser; an Engram addition, D23): gives the
 * dataset's owner back its four permissions, or makes another user its owner with them — the way
 * back for a dataset whose owner lost `share` or was deleted. The owner must belong to the
 * dataset's tenant.
 */
export async function restoreDatasetOwner(db: Kysely<Database>, datasetId: string, newOwnerId: string | null = null) {
  const dataset = await findDataset(db, datasetId.toLowerCase());
  // A deleted user's personal dataset being deleted is gone already for everyone.
  if (!dataset || (await isPendingDeletion(db, dataset.id))) throw datasetNotFound(`Could not find dataset: ${datasetId}`);
  const ownerId = newOwnerId ?? dataset.owner_id;
  const owner = await findUser(db, ownerId);
  if (!owner) {
    if (newOwnerId !== null) throw noSuchUser(newOwnerId);
    throw cogneeValidation("The dataset's owner no longer exists: name a new owner with user_id.");
  }
  if (dataset.tenant_id !== null && !(await isMember(db, owner.id, dataset.tenant_id))) {
    throw cogneeValidation("The owner must be a member of the dataset's tenant.");
  }
  await db.transaction().execute(async (trx) => {
    if (owner.id !== dataset.owner_id) await trx.updateTable('datasets').set({ owner_id: owner.id, updated_at: ts() }).where('id', '=', dataset.id).execute();
    for (const permission of PERMISSION_TYPES) await grant(trx, owner.id, permission, [dataset.id]);
  });
  return { message: 'Dataset owner restored.', dataset_id: dataset.id, owner_id: owner.id };
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
  type Entry = { type: 'user' | 'role' | 'tenant'; permissions: Set<PermissionName>; pending: Set<PermissionName> };
  const byPrincipal = new Map<string, Entry>();
  const entryOf = (id: string, type: Entry['type']) => {
    const entry = byPrincipal.get(id) ?? { type, permissions: new Set<PermissionName>(), pending: new Set<PermissionName>() };
    byPrincipal.set(id, entry);
    return entry;
  };
  for (const g of await datasetGrants(db, datasetId)) entryOf(g.principal_id, g.principal_type).permissions.add(g.permission);
  // D23: offers waiting for their recipient's acceptance, shown apart (they grant nothing).
  for (const o of await datasetOffers(db, datasetId)) entryOf(o.principal_id, 'user').pending.add(o.permission);
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
      ...(e.pending.size > 0 ? { pending_permissions: PERMISSION_TYPES.filter((p) => e.pending.has(p)) } : {}),
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
 * membership; and (D15) moves them to their personal space if it was their active tenant. D24: the
 * member's agents in the tenant leave it the same way. D23: the tenant datasets they own, and any
 * tenant dataset left with no user holding `share`, go to the tenant's owner (its owner, with the
 * four permissions).
 * `affectedUsers` are the users whose cached credentials must be dropped.
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
  const agents = (await agentsOf(db, userId)).filter((id) => id !== tenant.owner_id);
  const leaving = [userId, ...agents];
  await db.transaction().execute(async (trx) => {
    const tenantDatasets = (eb: ExpressionBuilder<Database, 'acls'>) => eb.selectFrom('datasets').select('id').where('tenant_id', '=', tenantId);
    const shared = await datasetsSharedBy(trx, leaving, tenantId);
    await trx
      .deleteFrom('user_roles')
      .where('user_id', 'in', leaving)
      .where('role_id', 'in', (eb) => eb.selectFrom('roles').select('id').where('tenant_id', '=', tenantId))
      .execute();
    await trx.deleteFrom('acls').where('principal_id', 'in', leaving).where('dataset_id', 'in', tenantDatasets).execute();
    await trx.deleteFrom('user_tenants').where('user_id', 'in', leaving).where('tenant_id', '=', tenantId).execute();
    await trx.updateTable('users').set({ tenant_id: null }).where('id', 'in', leaving).where('tenant_id', '=', tenantId).execute();
    // Their own datasets in the tenant go to its owner; others left with no user holding share too.
    await settleDatasetsOf(trx, leaving, { tenantId });
    await handOrphansToTenantOwners(trx, shared);
  });
  return { message: 'User removed from tenant', affectedUsers: leaving };
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
