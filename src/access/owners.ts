import type { Kysely } from 'kysely';
import { cogneeValidation } from '../errors.js';
import type { Database } from '../storage/index.js';

/** A dataset's owner: the user who created it, and that user's creator when it is an agent (D23). */
export interface DatasetOwner {
  readonly ownerId: string;
  readonly parentId: string | null;
}

/**
 * Who counts as each dataset's owner: the user who created it (`datasets.owner_id`) and, when that
 * user is an agent, the agent's creator, who received the same four permissions (D23). A deleted
 * owner's datasets go to an heir or are deleted (`user-removal.ts`); one of a tenant with no owner
 * has none until a superuser names one (`restoreDatasetOwner`).
 */
export async function datasetOwners(db: Kysely<Database>, datasetIds: readonly string[]): Promise<Map<string, DatasetOwner>> {
  if (datasetIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('datasets')
    .leftJoin('users', 'users.id', 'datasets.owner_id')
    .select(['datasets.id', 'datasets.owner_id', 'users.id as user_id', 'users.parent_user_id'])
    .where('datasets.id', 'in', [...datasetIds])
    .execute();
  const owners = new Map<string, DatasetOwner>();
  for (const row of rows) if (row.user_id) owners.set(row.id, { ownerId: row.owner_id, parentId: row.parent_user_id ?? null });
  return owners;
}

export const isOwner = (owner: DatasetOwner | undefined, userId: string) => owner !== undefined && (owner.ownerId === userId || owner.parentId === userId);

/** 400: the change would leave a dataset with no user holding `share` (D23). */
export const lastSharer = () => cogneeValidation('A dataset must keep at least one user holding share: grant share to another user before revoking this one.');
