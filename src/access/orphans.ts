import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { PERMISSION_TYPES, grant, grants, withUserSharer } from './permissions.js';

/**
 * D23: a dataset never ends with no user holding `share`. When users leave a tenant or are deleted,
 * the datasets they held `share` on directly are looked at again: one of a tenant that no user holds
 * `share` on any more goes to the tenant's owner (who becomes its owner, with the four
 * permissions). A personal dataset, or one of a tenant whose owner is gone, waits for a superuser
 * (`restoreDatasetOwner`).
 */

/** The datasets on which any of `principalIds` holds `share` directly, optionally kept to one tenant. */
export async function datasetsSharedBy(db: Kysely<Database>, principalIds: readonly string[], tenantId?: string): Promise<string[]> {
  if (principalIds.length === 0) return [];
  let query = grants(db)
    .innerJoin('datasets', 'datasets.id', 'acls.dataset_id')
    .select('acls.dataset_id')
    .distinct()
    .where('permissions.name', '=', 'share')
    .where('acls.principal_id', 'in', [...principalIds]);
  if (tenantId !== undefined) query = query.where('datasets.tenant_id', '=', tenantId);
  return (await query.execute()).map((r) => r.dataset_id);
}

/** Hands the datasets among `datasetIds` left with no user holding `share` to their tenant's owner. */
export async function handOrphansToTenantOwners(db: Kysely<Database>, datasetIds: readonly string[]): Promise<void> {
  if (datasetIds.length === 0) return;
  const kept = await withUserSharer(db, datasetIds);
  const orphaned = datasetIds.filter((id) => !kept.has(id));
  if (orphaned.length === 0) return;
  const heirs = await db
    .selectFrom('datasets')
    .innerJoin('tenants', 'tenants.id', 'datasets.tenant_id')
    .innerJoin('users', 'users.id', 'tenants.owner_id')
    .select(['datasets.id', 'users.id as owner_id'])
    .where('datasets.id', 'in', orphaned)
    .execute();
  const now = new Date().toISOString();
  for (const { id, owner_id } of heirs) {
    await db.updateTable('datasets').set({ owner_id, updated_at: now }).where('id', '=', id).execute();
    for (const permission of PERMISSION_TYPES) await grant(db, owner_id, permission, [id]);
  }
}
