import type { Kysely } from 'kysely';
import { cogneeValidation } from '../errors.js';
import type { Database } from '../storage/index.js';
import { PERMISSION_TYPES, grant, type DatasetRow } from './permissions.js';

/**
 * What becomes of the datasets of accounts being deleted (a user and, D24, its agents). Run in the
 * deletion's transaction, before their principals go (their grants cascade with them):
 *
 * - a dataset of a tenant goes to the tenant's owner, who becomes its owner with the four
 *   permissions (D23); in a tenant with no owner (one external tokens created) it stays, with the
 *   grants others hold, until a superuser names an owner (`restoreDatasetOwner`);
 * - a personal dataset of a deleted agent whose creator stays goes to the creator (who holds the
 *   same four permissions on it already);
 * - every other personal dataset is deleted whole: in the transaction every grant on it goes (no one
 *   can reach it any more, shares included) and it is marked in `dataset_deletions`; after the
 *   commit the caller deletes its stores, files and rows (`memory`), and a deletion interrupted
 *   there is finished by the next one or at the next start (`pendingDatasetDeletions`). Stores are
 *   removed before the dataset's row, never after: the row (with its `dataset_database` row) is what
 *   says where the stores are, so it outlives them and an interrupted deletion can be finished.
 *
 * A user who owns a tenant (or whose agent does) is not deleted: the tenant's datasets would have no
 * heir. A superuser first makes another member its owner (`transferTenant`).
 */

/** 400 when any of `ids` owns a tenant: its ownership must move first. */
export async function refuseTenantOwners(db: Kysely<Database>, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const owned = await db
    .selectFrom('tenants')
    .select(['id', 'name'])
    .where('owner_id', 'in', [...ids])
    .orderBy('id')
    .executeTakeFirst();
  if (owned) {
    throw cogneeValidation(
      `The user owns tenant ${owned.name} (${owned.id}): make another member its owner (POST /api/v1/permissions/tenants/${owned.id}/owner?user_id=...) before deleting the user.`,
    );
  }
}

/**
 * Hands over or marks for deletion the datasets `ids` own (see above). `creatorId` is the creator of
 * the deleted account when it is an agent deleted on its own. With `tenantId` (members leaving a
 * tenant), only that tenant's datasets are handed over, and nothing is deleted. Answers the ids of the
 * datasets marked for deletion.
 */
export async function settleDatasetsOf(
  db: Kysely<Database>,
  ids: readonly string[],
  options: { readonly creatorId?: string | undefined; readonly tenantId?: string } = {},
): Promise<string[]> {
  if (ids.length === 0) return [];
  const { creatorId, tenantId } = options;
  let query = db
    .selectFrom('datasets')
    .leftJoin('tenants', 'tenants.id', 'datasets.tenant_id')
    .leftJoin('users as heir', 'heir.id', 'tenants.owner_id')
    .select(['datasets.id', 'datasets.tenant_id', 'heir.id as tenant_owner'])
    .where('datasets.owner_id', 'in', [...ids]);
  if (tenantId !== undefined) query = query.where('datasets.tenant_id', '=', tenantId);
  const owned = await query.execute();
  const now = new Date().toISOString();
  const handOver = async (datasetId: string, heirId: string) => {
    await db.updateTable('datasets').set({ owner_id: heirId, updated_at: now }).where('id', '=', datasetId).execute();
    for (const permission of PERMISSION_TYPES) await grant(db, heirId, permission, [datasetId]);
  };
  const doomed: string[] = [];
  for (const dataset of owned) {
    if (dataset.tenant_id !== null) {
      if (dataset.tenant_owner && !ids.includes(dataset.tenant_owner)) await handOver(dataset.id, dataset.tenant_owner);
    } else if (creatorId !== undefined) {
      await handOver(dataset.id, creatorId);
    } else {
      doomed.push(dataset.id);
    }
  }
  if (doomed.length > 0) {
    await db.deleteFrom('acls').where('dataset_id', 'in', doomed).execute();
    await db
      .insertInto('dataset_deletions')
      .values(doomed.map((dataset_id) => ({ dataset_id, requested_at: now })))
      .onConflict((oc) => oc.column('dataset_id').doNothing())
      .execute();
  }
  return doomed;
}

/** The datasets marked for deletion (by a user's deletion) and not yet deleted, oldest mark first. */
export async function pendingDatasetDeletions(db: Kysely<Database>): Promise<DatasetRow[]> {
  return db
    .selectFrom('dataset_deletions')
    .innerJoin('datasets', 'datasets.id', 'dataset_deletions.dataset_id')
    .select(['datasets.id', 'datasets.name', 'datasets.owner_id', 'datasets.tenant_id', 'datasets.created_at', 'datasets.updated_at'])
    .orderBy('dataset_deletions.requested_at')
    .orderBy('datasets.id')
    .execute();
}

/** True when the dataset is marked for deletion: no one may be given it back. */
export async function isPendingDeletion(db: Kysely<Database>, datasetId: string): Promise<boolean> {
  return (await db.selectFrom('dataset_deletions').select('dataset_id').where('dataset_id', '=', datasetId).executeTakeFirst()) !== undefined;
}
