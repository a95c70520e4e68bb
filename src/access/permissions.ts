import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { permissionDenied, type ApiError } from '../errors.js';
import type { Database } from '../storage/index.js';
import type { ExternalScope } from './external.js';

/**
 * Effective dataset permissions — the one module every dataset operation asks first.
 *
 * The four permissions are independent (nothing implies anything else) and nobody bypasses them:
 * not the owner, not a superuser. A user's effective set is the union of the grants to the user,
 * to every tenant they belong to and to every role they hold, kept to datasets of the active
 * tenant (null = the personal space). For an external token (D2) the token's tenant is the active
 * tenant and the token's roles replace the stored ones.
 */
export const PERMISSION_TYPES = ['read', 'write', 'delete', 'share'] as const;
export type PermissionName = (typeof PERMISSION_TYPES)[number];

export function isPermissionName(value: string): value is PermissionName {
  return (PERMISSION_TYPES as readonly string[]).includes(value);
}

/** Who is asking, as the access rules see it. */
export interface Subject {
  readonly userId: string;
  readonly activeTenantId: string | null;
  /** The user, their tenants and their roles: every principal whose grants count. */
  readonly principalIds: readonly string[];
  readonly roleIds: readonly string[];
  readonly tenantIds: readonly string[];
}

export interface SubjectSource {
  readonly user: { readonly id: string; readonly tenantId: string | null };
  readonly external?: ExternalScope | undefined;
}

export async function subjectOf(db: Kysely<Database>, source: SubjectSource): Promise<Subject> {
  const userId = source.user.id;
  const tenantRows = await db.selectFrom('user_tenants').select('tenant_id').where('user_id', '=', userId).execute();
  const tenantIds = tenantRows.map((r) => r.tenant_id);
  let roleIds: string[];
  let activeTenantId: string | null;
  if (source.external) {
    roleIds = [...source.external.roleIds];
    activeTenantId = source.external.tenantId;
  } else {
    // As the reference: roles count only for a user who belongs to at least one tenant.
    roleIds = tenantIds.length === 0 ? [] : (await db.selectFrom('user_roles').select('role_id').where('user_id', '=', userId).execute()).map((r) => r.role_id);
    activeTenantId = source.user.tenantId;
  }
  return {
    userId,
    activeTenantId,
    principalIds: [userId, ...tenantIds, ...roleIds],
    roleIds,
    tenantIds,
  };
}

export interface DatasetRow {
  readonly id: string;
  readonly name: string;
  readonly owner_id: string;
  readonly tenant_id: string | null;
  readonly created_at: string;
  readonly updated_at: string | null;
}

/** Every grant with its permission's name: the base of every ACL query below. */
export function grants(db: Kysely<Database>) {
  return db.selectFrom('acls').innerJoin('permissions', 'permissions.id', 'acls.permission_id');
}

/** Grants of `permission` to any of the subject's principals, on datasets of its active tenant. */
function grantedInActiveTenant(db: Kysely<Database>, subject: Subject, permission: PermissionName) {
  // CROSS JOIN fixes the join order on SQLite (PostgreSQL reorders it freely): the plan starts from the
  // subject's grants (acls by principal) and looks each dataset up by id, so its cost follows what
  // the subject can see, not how many datasets its tenant holds (bench/permissions.ts).
  const query = grants(db)
    .crossJoin('datasets')
    .whereRef('datasets.id', '=', 'acls.dataset_id')
    .where('permissions.name', '=', permission)
    .where('acls.principal_id', 'in', [...subject.principalIds]);
  return subject.activeTenantId === null ? query.where('datasets.tenant_id', 'is', null) : query.where('datasets.tenant_id', '=', subject.activeTenantId);
}

/** Every dataset of the active tenant on which the subject holds `permission`. */
export async function effectiveDatasets(db: Kysely<Database>, subject: Subject, permission: PermissionName): Promise<DatasetRow[]> {
  return grantedInActiveTenant(db, subject, permission)
    .select(['datasets.id', 'datasets.name', 'datasets.owner_id', 'datasets.tenant_id', 'datasets.created_at', 'datasets.updated_at'])
    .distinct()
    .orderBy('datasets.created_at')
    .orderBy('datasets.id')
    .execute();
}

/** The ids among `datasetIds` on which the subject holds `permission` in the active tenant. */
export async function permittedIds(db: Kysely<Database>, subject: Subject, permission: PermissionName, datasetIds: readonly string[]): Promise<Set<string>> {
  if (datasetIds.length === 0) return new Set();
  const rows = await grantedInActiveTenant(db, subject, permission)
    .select('datasets.id')
    .distinct()
    .where('datasets.id', 'in', [...new Set(datasetIds)])
    .execute();
  return new Set(rows.map((r) => r.id));
}

export interface DatasetGrant {
  readonly principal_id: string;
  readonly principal_type: 'user' | 'role' | 'tenant';
  readonly permission: PermissionName;
}

/** Every grant on one dataset, whoever holds it (callers decide who may see them). */
export async function datasetGrants(db: Kysely<Database>, datasetId: string): Promise<DatasetGrant[]> {
  const rows = await grants(db)
    .innerJoin('principals', 'principals.id', 'acls.principal_id')
    .select(['acls.principal_id', 'principals.type as principal_type', 'permissions.name as permission'])
    .where('acls.dataset_id', '=', datasetId)
    .execute();
  return rows.flatMap((row) => (isPermissionName(row.permission) ? [{ ...row, permission: row.permission }] : []));
}

/** Every offer on one dataset (D23): users waiting to accept, with the permissions offered. */
export async function datasetOffers(db: Kysely<Database>, datasetId: string): Promise<{ principal_id: string; permission: PermissionName }[]> {
  const rows = await offers(db)
    .select(['share_offers.principal_id', 'permissions.name as permission'])
    .where('share_offers.dataset_id', '=', datasetId)
    .execute();
  return rows.flatMap((row) => (isPermissionName(row.permission) ? [{ ...row, permission: row.permission }] : []));
}

/** 403 PermissionDeniedError: the caller lacks `permission` on one of the datasets requested. */
export function datasetPermissionDenied(permission: PermissionName): ApiError {
  return permissionDenied(`Request owner does not have necessary permission: [${permission}] for all datasets requested.`);
}

/**
 * Refuses the whole request with 403 unless the subject holds `permission` on every listed dataset.
 * An unknown id is refused the same way, so the answer never reveals whether a dataset exists.
 */
export async function requireOnAll(db: Kysely<Database>, subject: Subject, permission: PermissionName, datasetIds: readonly string[]): Promise<void> {
  const allowed = await permittedIds(db, subject, permission, datasetIds);
  if (datasetIds.length === 0 || datasetIds.some((id) => !allowed.has(id))) throw datasetPermissionDenied(permission);
}

/** Of `datasetIds`, those on which `principalId` itself (not through a role or tenant) holds `permission`. */
export async function heldDirectly(db: Kysely<Database>, principalId: string, permission: PermissionName, datasetIds: readonly string[]): Promise<Set<string>> {
  if (datasetIds.length === 0) return new Set();
  const rows = await grants(db)
    .select('acls.dataset_id')
    .where('permissions.name', '=', permission)
    .where('acls.principal_id', '=', principalId)
    .where('acls.dataset_id', 'in', [...new Set(datasetIds)])
    .execute();
  return new Set(rows.map((r) => r.dataset_id));
}

/** Of `datasetIds`, those on which at least one user holds `share` directly (D23: none may end without). */
export async function withUserSharer(db: Kysely<Database>, datasetIds: readonly string[]): Promise<Set<string>> {
  if (datasetIds.length === 0) return new Set();
  const rows = await grants(db)
    .innerJoin('principals', 'principals.id', 'acls.principal_id')
    .select('acls.dataset_id')
    .distinct()
    .where('permissions.name', '=', 'share')
    .where('principals.type', '=', 'user')
    .where('acls.dataset_id', 'in', [...new Set(datasetIds)])
    .execute();
  return new Set(rows.map((r) => r.dataset_id));
}

async function permissionId(db: Kysely<Database>, name: PermissionName): Promise<string> {
  const existing = await db.selectFrom('permissions').select('id').where('name', '=', name).executeTakeFirst();
  if (existing) return existing.id;
  const now = new Date().toISOString();
  await db
    .insertInto('permissions')
    .values({ id: randomUUID(), name, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  return (await db.selectFrom('permissions').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
}

/** Grants are idempotent: the unique constraint keeps one row per principal × permission × dataset. */
export async function grant(db: Kysely<Database>, principalId: string, permission: PermissionName, datasetIds: readonly string[]): Promise<void> {
  if (datasetIds.length === 0) return;
  const pid = await permissionId(db, permission);
  const now = new Date().toISOString();
  await db
    .insertInto('acls')
    .values(
      [...new Set(datasetIds)].map((datasetId) => ({
        id: randomUUID(),
        principal_id: principalId,
        permission_id: pid,
        dataset_id: datasetId,
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['principal_id', 'permission_id', 'dataset_id']).doNothing())
    .execute();
}

/** Revokes a grant, and withdraws the same permission if it is only offered (D23). */
export async function revoke(db: Kysely<Database>, principalId: string, permission: PermissionName, datasetIds: readonly string[]): Promise<void> {
  if (datasetIds.length === 0) return;
  for (const table of ['acls', 'share_offers'] as const) {
    await db
      .deleteFrom(table)
      .where('principal_id', '=', principalId)
      .where('dataset_id', 'in', [...new Set(datasetIds)])
      .where('permission_id', 'in', (eb) => eb.selectFrom('permissions').select('id').where('name', '=', permission))
      .execute();
  }
}

// ---------------------------------------------------------------------------------------------
// D23: shares offered to users outside the dataset's tenant

/**
 * Of `datasetIds`, those on which a grant to user `userId` is only an offer: the user is not a member
 * of the dataset's tenant (a personal dataset has no member but its owner) and has not accepted the
 * dataset already (holds no grant on it directly). Acceptance is per user and dataset.
 */
export async function needsAcceptance(db: Kysely<Database>, userId: string, datasetIds: readonly string[]): Promise<Set<string>> {
  if (datasetIds.length === 0) return new Set();
  const ids = [...new Set(datasetIds)];
  const rows = await db
    .selectFrom('datasets')
    .leftJoin('user_tenants', (join) => join.onRef('user_tenants.tenant_id', '=', 'datasets.tenant_id').on('user_tenants.user_id', '=', userId))
    .select(['datasets.id', 'datasets.owner_id', 'user_tenants.user_id as member'])
    .where('datasets.id', 'in', ids)
    .execute();
  const accepted = await db.selectFrom('acls').select('dataset_id').distinct().where('principal_id', '=', userId).where('dataset_id', 'in', ids).execute();
  const held = new Set(accepted.map((r) => r.dataset_id));
  return new Set(rows.filter((r) => r.owner_id !== userId && r.member === null && !held.has(r.id)).map((r) => r.id));
}

/**
 * A grant as the sharing route makes it: to a role, a tenant or a user in the dataset's tenant it
 * takes effect at once; to a user outside, it is recorded as an offer that grants nothing until the
 * user accepts it. Answers the ids that wait for acceptance.
 */
export async function grantOrOffer(
  db: Kysely<Database>,
  principalId: string,
  principalType: 'user' | 'role' | 'tenant',
  permission: PermissionName,
  datasetIds: readonly string[],
): Promise<string[]> {
  const ids = [...new Set(datasetIds)];
  const pending = principalType === 'user' ? await needsAcceptance(db, principalId, ids) : new Set<string>();
  await grant(
    db,
    principalId,
    permission,
    ids.filter((id) => !pending.has(id)),
  );
  if (pending.size === 0) return [];
  const pid = await permissionId(db, permission);
  const now = new Date().toISOString();
  await db
    .insertInto('share_offers')
    .values([...pending].map((datasetId) => ({ id: randomUUID(), principal_id: principalId, permission_id: pid, dataset_id: datasetId, created_at: now })))
    .onConflict((oc) => oc.columns(['principal_id', 'permission_id', 'dataset_id']).doNothing())
    .execute();
  return ids.filter((id) => pending.has(id));
}

/** Offers (never grants) with their permission's name: the base of every offer query. */
export function offers(db: Kysely<Database>) {
  return db.selectFrom('share_offers').innerJoin('permissions', 'permissions.id', 'share_offers.permission_id');
}

/** The permissions offered to `userId` on one dataset, in the canonical order. */
export async function offeredPermissions(db: Kysely<Database>, userId: string, datasetId: string): Promise<PermissionName[]> {
  const rows = await offers(db)
    .select('permissions.name')
    .where('share_offers.principal_id', '=', userId)
    .where('share_offers.dataset_id', '=', datasetId)
    .execute();
  const names = new Set(rows.map((r) => r.name));
  return PERMISSION_TYPES.filter((p) => names.has(p));
}

/** Accepts every offer to `userId` on one dataset: each becomes a grant. Answers the permissions accepted. */
export async function acceptOffers(db: Kysely<Database>, userId: string, datasetId: string): Promise<PermissionName[]> {
  return db.transaction().execute(async (trx) => {
    const offered = await offeredPermissions(trx, userId, datasetId);
    for (const permission of offered) await grant(trx, userId, permission, [datasetId]);
    await trx.deleteFrom('share_offers').where('principal_id', '=', userId).where('dataset_id', '=', datasetId).execute();
    return offered;
  });
}

/** Removes every offer to `userId` on one dataset; answers how many there were. */
export async function declineOffers(db: Kysely<Database>, userId: string, datasetId: string): Promise<number> {
  const result = await db.deleteFrom('share_offers').where('principal_id', '=', userId).where('dataset_id', '=', datasetId).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0);
}
