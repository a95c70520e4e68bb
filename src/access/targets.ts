import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { findDataset, getOrCreateDataset, type Creator } from './datasets.js';
import { effectiveDatasets, requireOnAll, type DatasetRow, type PermissionName, type Subject } from './permissions.js';

/** Who acts on datasets: the subject the access rules check, and the user who creates what is new. */
export interface Actor {
  readonly subject: Subject;
  readonly creator: Creator;
}

/**
 * The datasets a request names, each once, in the order named. Ids win over names; naming
 * neither means every dataset the actor holds the permission on (in the active tenant).
 */
export interface DatasetSelection {
  /** Datasets by id (any case): the permission is required on every one, else the whole request is refused (403). */
  readonly ids?: readonly string[] | null | undefined;
  /**
   * Datasets by name: the actor's own datasets of that name in the active tenant. With
   * `create`, a missing one is created (its creator gets all four permissions), as the
   * reference's add and cognify do; without it, a name that matches nothing selects nothing.
   */
  readonly names?: readonly string[] | null | undefined;
  readonly create?: boolean;
}

/**
 * The one dataset-targeting rule every route uses: which datasets a request may touch with
 * `permission`. What a route answers when the selection comes back empty (404, 403, an empty
 * list) is the route's own, as in the reference's routers.
 */
export async function targetDatasets(db: Kysely<Database>, actor: Actor, permission: PermissionName, selection: DatasetSelection = {}): Promise<DatasetRow[]> {
  const { subject } = actor;
  if (selection.ids && selection.ids.length > 0) {
    const ids = [...new Set(selection.ids.map((id) => id.toLowerCase()))];
    await requireOnAll(db, subject, permission, ids);
    return (await Promise.all(ids.map((id) => findDataset(db, id)))).filter((d): d is DatasetRow => d !== undefined);
  }
  if (selection.names && selection.names.length > 0) {
    const chosen: DatasetRow[] = [];
    if (selection.create) {
      for (const name of selection.names) chosen.push((await getOrCreateDataset(db, actor.creator, subject.activeTenantId, name)).dataset);
    } else {
      const own = (await effectiveDatasets(db, subject, permission)).filter((d) => d.owner_id === subject.userId);
      for (const name of selection.names) chosen.push(...own.filter((d) => d.name === name));
    }
    const unique = [...new Map(chosen.map((d) => [d.id, d])).values()];
    if (unique.length > 0)
      await requireOnAll(
        db,
        subject,
        permission,
        unique.map((d) => d.id),
      );
    return unique;
  }
  return effectiveDatasets(db, subject, permission);
}
