import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { UserConfigurations } from './configurations.js';
import { getOrCreateDataset } from './datasets.js';
import * as managementRules from './management.js';
import { subjectOf, type DatasetRow, type PermissionName, type Subject, type SubjectSource } from './permissions.js';
import { targetDatasets, type Actor, type DatasetSelection } from './targets.js';
import { createTenant, tenantsOf, transferTenant } from './tenants.js';
import { pendingDatasetDeletions } from './user-removal.js';

type Rules = typeof managementRules;
/** The management rules with the relational store already given. */
export type Management = {
  readonly [K in keyof Rules]: Rules[K] extends (db: Kysely<Database>, ...rest: infer A) => infer R ? (...rest: A) => R : never;
};

function bindManagement(db: Kysely<Database>): Management {
  const bound: Record<string, unknown> = {};
  for (const [name, rule] of Object.entries(managementRules)) {
    if (typeof rule === 'function') bound[name] = (...rest: unknown[]) => (rule as (...args: unknown[]) => unknown)(db, ...rest);
  }
  return Object.freeze(bound) as Management;
}

/** Who may touch which datasets, for the routers: the access rules bound to the relational store. */
export class AccessService {
  /** Users' named configurations (owner only, D15). */
  readonly configurations: UserConfigurations;

  /** Sharing, roles and tenants (D14, D15): each rule checks its subject's right itself. */
  readonly management: Management;

  constructor(private readonly db: Kysely<Database>) {
    this.configurations = new UserConfigurations(db);
    this.management = bindManagement(db);
  }

  /** A principal's subject: its user, tenants, roles and active tenant, as the permission rules read them. */
  subjectOf(principal: SubjectSource): Promise<Subject> {
    return subjectOf(this.db, principal);
  }

  /** Creates a tenant owned by the user, which becomes their active tenant; answers its id. */
  createTenant(userId: string, name: string): Promise<string> {
    return createTenant(this.db, userId, name);
  }

  /** The tenants a user belongs to. */
  tenantsOf(userId: string): ReturnType<typeof tenantsOf> {
    return tenantsOf(this.db, userId);
  }

  /** Makes a member the tenant's owner (superuser route). */
  transferTenant(tenantId: string, userId: string): ReturnType<typeof transferTenant> {
    return transferTenant(this.db, tenantId, userId);
  }

  /** Personal datasets of deleted users still to be deleted whole (`user-removal.ts`). */
  pendingDatasetDeletions(): Promise<DatasetRow[]> {
    return pendingDatasetDeletions(this.db);
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
