import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { cogneeValidation, entityNotFound, permissionDenied, tenantNotFound } from '../errors.js';
import type { Database } from '../storage/index.js';

/**
 * Tenants, roles and memberships, with the reference's management rules:
 * - owner only: create a role (in the requester's active tenant), add a user to a tenant or a role;
 * - owner or holder of the `admin` role: delete a role, remove a user from a role or a tenant, list
 *   a tenant's users, a user's roles, every role and every role's members;
 * - any member: their own roles and the members of those roles.
 */
export const USER_MANAGEMENT_ROLE_NAMES = new Set(['admin']);

const now = () => new Date().toISOString();

/** 404 TenantNotFoundError naming the tenant id (`None` for no tenant, as the reference). */
export const noSuchTenant = (id: string | null) => tenantNotFound(`Could not find tenant: ${id ?? 'None'}`);
/** 404 EntityNotFoundError naming the user id. */
export const noSuchUser = (id: string) => entityNotFound(`Could not find user: ${id}`);
const cannotManage = () => permissionDenied('User is not authorized to manage users for this tenant');

export interface TenantRow {
  readonly id: string;
  readonly name: string;
  readonly owner_id: string | null;
}

export async function findTenant(db: Kysely<Database>, id: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenants').select(['id', 'name', 'owner_id']).where('id', '=', id).executeTakeFirst();
}

export async function isMember(db: Kysely<Database>, userId: string, tenantId: string): Promise<boolean> {
  const row = await db.selectFrom('user_tenants').select('user_id').where('user_id', '=', userId).where('tenant_id', '=', tenantId).executeTakeFirst();
  return row !== undefined;
}

/** Roles the user holds in one tenant. */
export async function rolesInTenant(db: Kysely<Database>, userId: string, tenantId: string): Promise<{ id: string; name: string }[]> {
  return db
    .selectFrom('user_roles')
    .innerJoin('roles', 'roles.id', 'user_roles.role_id')
    .select(['roles.id', 'roles.name'])
    .where('user_roles.user_id', '=', userId)
    .where('roles.tenant_id', '=', tenantId)
    .orderBy('roles.name')
    .execute();
}

/**
 * True when the requester is the tenant's owner or holds a role named `admin` there. `roleIds`
 * replaces the stored roles for an external token (D2).
 */
export async function canManageUsers(
  db: Kysely<Database>,
  requester: { userId: string; roleIds?: readonly string[] | undefined },
  tenant: TenantRow,
): Promise<boolean> {
  if (tenant.owner_id !== null && tenant.owner_id === requester.userId) return true;
  let names: string[];
  if (requester.roleIds) {
    if (requester.roleIds.length === 0) return false;
    names = (
      await db
        .selectFrom('roles')
        .select('name')
        .where('id', 'in', [...requester.roleIds])
        .where('tenant_id', '=', tenant.id)
        .execute()
    ).map((r) => r.name);
  } else {
    names = (await rolesInTenant(db, requester.userId, tenant.id)).map((r) => r.name);
  }
  return names.some((name) => USER_MANAGEMENT_ROLE_NAMES.has(name));
}

export async function requireManagement(
  db: Kysely<Database>,
  requester: { userId: string; roleIds?: readonly string[] | undefined },
  tenantId: string,
): Promise<TenantRow> {
  const tenant = await findTenant(db, tenantId);
  if (!tenant) throw noSuchTenant(tenantId);
  if (!(await canManageUsers(db, requester, tenant))) throw cannotManage();
  return tenant;
}

/** Creates a tenant owned by the user, makes them a member and selects it as their active tenant. */
export async function createTenant(db: Kysely<Database>, ownerId: string, name: string): Promise<string> {
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    const ts = now();
    await trx.insertInto('principals').values({ id, type: 'tenant', created_at: ts, updated_at: ts }).execute();
    await trx.insertInto('tenants').values({ id, name, owner_id: ownerId, external_id: null }).execute();
    await trx.insertInto('user_tenants').values({ user_id: ownerId, tenant_id: id, created_at: ts }).execute();
    await trx.updateTable('users').set({ tenant_id: id }).where('id', '=', ownerId).execute();
  });
  return id;
}

export async function tenantsOf(db: Kysely<Database>, userId: string): Promise<{ id: string; name: string }[]> {
  return db
    .selectFrom('user_tenants')
    .innerJoin('tenants', 'tenants.id', 'user_tenants.tenant_id')
    .select(['tenants.id', 'tenants.name'])
    .where('user_tenants.user_id', '=', userId)
    .orderBy('user_tenants.created_at')
    .orderBy('tenants.id')
    .execute();
}

/**
 * `POST /permissions/tenants/{tenant_id}/owner?user_id=` (superuser; an Engram addition): makes a
 * member the tenant's owner, so that the owner before can be deleted (a tenant owner cannot be).
 */
export async function transferTenant(db: Kysely<Database>, tenantId: string, userId: string) {
  const tenant = await findTenant(db, tenantId);
  if (!tenant) throw noSuchTenant(tenantId);
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw noSuchUser(userId);
  if (!(await isMember(db, userId, tenantId))) throw cogneeValidation("The tenant's owner must be a member of the tenant.");
  await db.updateTable('tenants').set({ owner_id: userId }).where('id', '=', tenantId).execute();
  return { message: 'Tenant owner changed.', tenant_id: tenantId, owner_id: userId };
}
