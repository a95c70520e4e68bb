import type { Kysely } from 'kysely';
import { cogneeValidation, entityNotFound } from '../errors.js';
import type { Database } from '../storage/index.js';
import { datasetOwners, isOwner, lastSharer } from './owners.js';
import {
  PERMISSION_TYPES,
  acceptOffers,
  declineOffers,
  grants,
  heldDirectly,
  isPermissionName,
  offers,
  withUserSharer,
  type PermissionName,
  type Subject,
} from './permissions.js';

/**
 * D23: the recipient's side of sharing (`/api/v1/permissions/shares/received`, Engram's own routes).
 * A share received as a user is either accepted (grants in `acls`) or pending (offers in
 * `share_offers`, which grant nothing): the recipient lists them, accepts or declines an offer, and
 * drops any share of a dataset it does not own. Grants to the recipient's tenants and roles are not
 * shares received as a user and are never touched here.
 */

export interface ReceivedShare {
  readonly dataset_id: string;
  readonly dataset_name: string;
  readonly tenant_id: string | null;
  readonly owner_email: string | null;
  readonly permissions: PermissionName[];
  readonly status: 'pending' | 'accepted';
  readonly since: string;
}

/** One answer for every dataset the caller cannot act on here, whether or not it exists. */
const notOffered = (datasetId: string) => entityNotFound(`Could not find a share of dataset ${datasetId} received by you.`);

/** 400: an owner's grants are not a share received (D23). */
const ownDataset = () => cogneeValidation('You own this dataset: delete it, or make another user its owner, instead of dropping it.');

/** Every dataset shared with the caller as a user (in any tenant), not counting the caller's own. */
export async function receivedShares(db: Kysely<Database>, subject: Subject): Promise<ReceivedShare[]> {
  const columns = ['datasets.id', 'datasets.name', 'datasets.tenant_id', 'users.email as owner_email', 'permissions.name as permission'] as const;
  const accepted = await grants(db)
    .innerJoin('datasets', 'datasets.id', 'acls.dataset_id')
    .leftJoin('users', 'users.id', 'datasets.owner_id')
    .select([...columns, 'acls.created_at as since'])
    .where('acls.principal_id', '=', subject.userId)
    .execute();
  const pending = await offers(db)
    .innerJoin('datasets', 'datasets.id', 'share_offers.dataset_id')
    .leftJoin('users', 'users.id', 'datasets.owner_id')
    .select([...columns, 'share_offers.created_at as since'])
    .where('share_offers.principal_id', '=', subject.userId)
    .execute();
  const owners = await datasetOwners(db, [...new Set([...accepted, ...pending].map((r) => r.id))]);
  const entries = new Map<string, ReceivedShare & { permissions: PermissionName[]; since: string }>();
  for (const [status, rows] of [
    ['accepted', accepted],
    ['pending', pending],
  ] as const) {
    for (const row of rows) {
      if (isOwner(owners.get(row.id), subject.userId) || !isPermissionName(row.permission)) continue;
      const key = `${row.id}|${status}`;
      const entry = entries.get(key) ?? {
        dataset_id: row.id,
        dataset_name: row.name,
        tenant_id: row.tenant_id,
        owner_email: row.owner_email,
        permissions: [],
        status,
        since: row.since,
      };
      entry.permissions.push(row.permission);
      if (row.since < entry.since) entry.since = row.since;
      entries.set(key, entry);
    }
  }
  return [...entries.values()]
    .map((e) => ({ ...e, permissions: PERMISSION_TYPES.filter((p) => e.permissions.includes(p)) }))
    .sort((a, b) => a.dataset_name.localeCompare(b.dataset_name) || a.dataset_id.localeCompare(b.dataset_id) || a.status.localeCompare(b.status));
}

/** The permissions the caller holds on the dataset directly, if it is a share received (not the caller's own). */
async function receivedGrants(db: Kysely<Database>, subject: Subject, datasetId: string): Promise<PermissionName[] | 'owner'> {
  if (isOwner((await datasetOwners(db, [datasetId])).get(datasetId), subject.userId)) return 'owner';
  const held: PermissionName[] = [];
  for (const permission of PERMISSION_TYPES) if ((await heldDirectly(db, subject.userId, permission, [datasetId])).has(datasetId)) held.push(permission);
  return held;
}

/** `POST …/received/{dataset_id}/accept`: the offers become grants; accepting an accepted share changes nothing. */
export async function acceptShare(db: Kysely<Database>, subject: Subject, datasetId: string) {
  const id = datasetId.toLowerCase();
  const before = await receivedGrants(db, subject, id);
  if (before === 'owner') throw notOffered(datasetId);
  const accepted = await acceptOffers(db, subject.userId, id);
  if (accepted.length === 0 && before.length === 0) throw notOffered(datasetId);
  const held = new Set([...before, ...accepted]);
  return { message: 'Share accepted.', dataset_id: id, permissions: PERMISSION_TYPES.filter((p) => held.has(p)) };
}

/** `POST …/received/{dataset_id}/decline`: removes the offers (grants already accepted stay; drop them with DELETE). */
export async function declineShare(db: Kysely<Database>, subject: Subject, datasetId: string) {
  const id = datasetId.toLowerCase();
  if ((await declineOffers(db, subject.userId, id)) === 0) throw notOffered(datasetId);
  return { message: 'Share declined.', dataset_id: id };
}

/**
 * `DELETE …/received/{dataset_id}`: drops every grant and offer the caller received as a user on the
 * dataset. Never the caller's own dataset (400), never grants to the caller's tenants or roles, and
 * never the last user holding `share` (400, as a revoke).
 */
export async function dropShare(db: Kysely<Database>, subject: Subject, datasetId: string) {
  const id = datasetId.toLowerCase();
  if (isOwner((await datasetOwners(db, [id])).get(id), subject.userId)) throw ownDataset();
  const dropped = await db.transaction().execute(async (trx) => {
    // Lock the dataset's row first, so a concurrent revoke of share is checked after this drop.
    await trx
      .updateTable('datasets')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('id', '=', id)
      .execute();
    const sharer = (await heldDirectly(trx, subject.userId, 'share', [id])).has(id);
    const grantsDropped = await trx.deleteFrom('acls').where('principal_id', '=', subject.userId).where('dataset_id', '=', id).executeTakeFirst();
    const offersDropped = await declineOffers(trx, subject.userId, id);
    if (sharer && !(await withUserSharer(trx, [id])).has(id)) throw lastSharer();
    return Number(grantsDropped.numDeletedRows ?? 0) + offersDropped;
  });
  if (dropped === 0) throw notOffered(datasetId);
  return { message: 'Share removed.', dataset_id: id };
}
