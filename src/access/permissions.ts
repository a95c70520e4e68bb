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
  const query = grants(db)
    .innerJoin('datasets', 'datasets.id', 'acls.dataset_id')
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

export async function revoke(db: Kysely<Database>, principalId: string, permission: PermissionName, datasetIds: readonly string[]): Promise<void> {
  if (datasetIds.length === 0) return;
  await db
    .deleteFrom('acls')
    .where('principal_id', '=', principalId)
    .where('dataset_id', 'in', [...new Set(datasetIds)])
    .where('permission_id', 'in', (eb) => eb.selectFrom('permissions').select('id').where('name', '=', permission))
    .execute();
}
