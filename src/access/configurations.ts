import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

/** The reference's `/configuration` DTO of one stored configuration. */
export interface ConfigurationView {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly configuration: unknown;
  readonly createdAt: string;
  readonly updatedAt: string | null;
}

/** A user's named configurations: each readable and writable by its owner only (D15). */
export class UserConfigurations {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores `configuration` under `name` for the owner, replacing what was there. */
  async store(ownerId: string, name: string, configuration: unknown): Promise<void> {
    const now = new Date().toISOString();
    const json = JSON.stringify(configuration);
    await this.db
      .insertInto('principal_configuration')
      .values({ id: randomUUID(), owner_id: ownerId, name, configuration: json, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['owner_id', 'name']).doUpdateSet({ configuration: json, updated_at: now }))
      .execute();
  }

  /** The owner's configurations, oldest first. */
  async list(ownerId: string): Promise<ConfigurationView[]> {
    const rows = await this.db.selectFrom('principal_configuration').selectAll().where('owner_id', '=', ownerId).orderBy('created_at').execute();
    return rows.map((row) => ({
      id: row.id,
      ownerId: row.owner_id,
      name: row.name,
      configuration: JSON.parse(row.configuration) as unknown,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }

  /** One of the owner's configurations by id, or undefined (another owner's reads as missing). */
  async get(ownerId: string, id: string): Promise<unknown> {
    const row = await this.db
      .selectFrom('principal_configuration')
      .select('configuration')
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return row ? (JSON.parse(row.configuration) as unknown) : undefined;
  }
}
