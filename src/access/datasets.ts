import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { PERMISSION_TYPES, grant, type DatasetRow } from './permissions.js';
import { datasetId, legacyDatasetId } from '../ids.js';

/** The reference's dataset JSON (camelCase `DatasetDTO`). */
export function datasetView(row: DatasetRow) {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ownerId: row.owner_id,
    tenantId: row.tenant_id,
  };
}

export interface Creator {
  readonly id: string;
  readonly parentUserId: string | null;
}

const DATASET_COLUMNS = ['id', 'name', 'owner_id', 'tenant_id', 'created_at', 'updated_at'] as const;

export async function findDataset(db: Kysely<Database>, id: string): Promise<DatasetRow | undefined> {
  return db.selectFrom('datasets').select(DATASET_COLUMNS).where('id', '=', id).executeTakeFirst();
}

/**
 * Returns the creator's dataset of that name in the active tenant, or creates it: the creator gets
 * all four permissions, and so does the parent of an agent user (a missing parent is skipped).
 */
export async function getOrCreateDataset(
  db: Kysely<Database>,
  creator: Creator,
  activeTenantId: string | null,
  name: string,
): Promise<{ dataset: DatasetRow; created: boolean }> {
  const legacy = activeTenantId === null ? await findDataset(db, legacyDatasetId(name, creator.id)) : undefined;
  if (legacy && legacy.owner_id === creator.id) return { dataset: legacy, created: false };
  const id = datasetId(name, creator.id, activeTenantId);
  const existing = await findDataset(db, id);
  if (existing) return { dataset: existing, created: false };

  const now = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('datasets')
      .values({ id, name, owner_id: creator.id, tenant_id: activeTenantId, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return; // a concurrent request created it
    for (const permission of PERMISSION_TYPES) await grant(trx, creator.id, permission, [id]);
    if (creator.parentUserId && creator.parentUserId !== creator.id) {
      const parent = await trx.selectFrom('users').select('id').where('id', '=', creator.parentUserId).executeTakeFirst();
      if (parent) for (const permission of PERMISSION_TYPES) await grant(trx, parent.id, permission, [id]);
    }
  });
  const dataset = (await findDataset(db, id))!;
  return { dataset, created: dataset.created_at === now };
}
