import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { UserConfigurations } from './configurations.js';
import { getOrCreateDataset } from './datasets.js';
import { subjectOf, type DatasetRow, type PermissionName, type SubjectSource } from './permissions.js';
import { targetDatasets, type Actor, type DatasetSelection } from './targets.js';

/** Who may touch which datasets, for the routers: the access rules bound to the relational store. */
export class AccessService {
  /** Users' named configurations (owner only, D15). */
  readonly configurations: UserConfigurations;

  constructor(private readonly db: Kysely<Database>) {
    this.configurations = new UserConfigurations(db);
  }

  /** The actor behind a principal: its subject (tenants, roles, active tenant) and the creator of what it makes. */
  async actorOf(principal: SubjectSource & { readonly user: { readonly parentUserId: string | null } }): Promise<Actor> {
    const subject = await subjectOf(this.db, principal);
    return { subject, creator: { id: principal.user.id, parentUserId: principal.user.parentUserId } };
  }

  /** The datasets a request may touch with `permission` (see `targetDatasets`). */
  datasets(actor: Actor, permission: PermissionName, selection: DatasetSelection = {}): Promise<DatasetRow[]> {
    return targetDatasets(this.db, actor, permission, selection);
  }

  /** The actor's dataset of that name in the active tenant, created (with all four permissions) if missing. */
  async ownDataset(actor: Actor, name: string): Promise<DatasetRow> {
    return (await getOrCreateDataset(this.db, actor.creator, actor.subject.activeTenantId, name)).dataset;
  }
}
