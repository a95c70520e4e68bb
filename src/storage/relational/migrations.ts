import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DbProvider } from '../../config/index.js';

/**
 * Versioned migrations. Each one is written once for both dialects; `dialect` lets a migration pick
 * a column type where SQLite and PostgreSQL differ. Never edit a migration that has shipped: add one.
 */
type VersionedMigration = (dialect: DbProvider) => Migration;

const bool = (dialect: DbProvider) => (dialect === 'postgres' ? 'boolean' : 'integer');
const falseValue = (dialect: DbProvider) => (dialect === 'postgres' ? sql`false` : sql`0`);
const trueValue = (dialect: DbProvider) => (dialect === 'postgres' ? sql`true` : sql`1`);
const epochMs = (dialect: DbProvider) => (dialect === 'postgres' ? 'double precision' : 'real');

const m0001_principals: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('principals')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute();

    await db.schema
      .createTable('tenants')
      .addColumn('id', 'text', (c) => c.primaryKey().references('principals.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text')
      .addColumn('external_id', 'text')
      .execute();
    await db.schema.createIndex('tenants_name_idx').on('tenants').column('name').execute();
    await db.schema.createIndex('tenants_owner_idx').on('tenants').column('owner_id').execute();
    await db.schema
      .createIndex('tenants_external_id_uq')
      .on('tenants')
      .column('external_id')
      .unique()
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey().references('principals.id').onDelete('cascade'))
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('hashed_password', 'text', (c) => c.notNull())
      .addColumn('is_active', bool(dialect), (c) => c.notNull().defaultTo(trueValue(dialect)))
      .addColumn('is_superuser', bool(dialect), (c) => c.notNull().defaultTo(falseValue(dialect)))
      .addColumn('is_verified', bool(dialect), (c) => c.notNull().defaultTo(falseValue(dialect)))
      .addColumn('tenant_id', 'text', (c) => c.references('tenants.id').onDelete('set null'))
      .addColumn('parent_user_id', 'text', (c) => c.references('users.id').onDelete('set null'))
      .addColumn('tokens_valid_after', epochMs(dialect), (c) => c.notNull().defaultTo(0))
      .addColumn('is_external', bool(dialect), (c) => c.notNull().defaultTo(falseValue(dialect)))
      .execute();
    // Case-insensitive uniqueness: login and registration match e-mails without regard to case.
    await sql`CREATE UNIQUE INDEX users_email_lower_uq ON users (lower(email))`.execute(db);
    await db.schema.createIndex('users_parent_idx').on('users').column('parent_user_id').execute();

    await db.schema
      .createTable('roles')
      .addColumn('id', 'text', (c) => c.primaryKey().references('principals.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addUniqueConstraint('uq_roles_tenant_id_name', ['tenant_id', 'name'])
      .execute();

    await db.schema
      .createTable('user_roles')
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role_id'])
      .execute();
    await db.schema.createIndex('user_roles_role_idx').on('user_roles').column('role_id').execute();

    await db.schema
      .createTable('user_tenants')
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('user_tenants_pk', ['user_id', 'tenant_id'])
      .execute();
    await db.schema.createIndex('user_tenants_tenant_idx').on('user_tenants').column('tenant_id').execute();

    await db.schema
      .createTable('user_api_key')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('principals.id').onDelete('cascade'))
      .addColumn('api_key', 'text', (c) => c.notNull())
      .addColumn('lookup_hash', 'text', (c) => c.notNull())
      .addColumn('label', 'text')
      .addColumn('name', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .execute();
    await db.schema.createIndex('user_api_key_user_idx').on('user_api_key').column('user_id').execute();
    await db.schema
      .createIndex('user_api_key_lookup_uq')
      .on('user_api_key')
      .column('lookup_hash')
      .unique()
      .execute();

    await db.schema
      .createTable('revoked_tokens')
      .addColumn('jti', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text')
      .addColumn('expires_at', epochMs(dialect), (c) => c.notNull())
      .execute();
    await db.schema.createIndex('revoked_tokens_exp_idx').on('revoked_tokens').column('expires_at').execute();

    await db.schema
      .createTable('deleted_users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('deleted_at', epochMs(dialect), (c) => c.notNull())
      .execute();
  },
});

const m0002_datasets_acl: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('datasets')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute();
    await db.schema.createIndex('datasets_owner_idx').on('datasets').columns(['owner_id', 'name']).execute();
    await db.schema.createIndex('datasets_tenant_idx').on('datasets').column('tenant_id').execute();

    await db.schema
      .createTable('permissions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute();

    await db.schema
      .createTable('acls')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('principal_id', 'text', (c) => c.notNull().references('principals.id').onDelete('cascade'))
      .addColumn('permission_id', 'text', (c) => c.notNull().references('permissions.id').onDelete('cascade'))
      .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .addUniqueConstraint('uq_acls_principal_permission_dataset', ['principal_id', 'permission_id', 'dataset_id'])
      .execute();
    await db.schema.createIndex('acls_dataset_idx').on('acls').column('dataset_id').execute();

    await db.schema
      .createTable('principal_configuration')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner_id', 'text', (c) => c.notNull().references('principals.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('configuration', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .addUniqueConstraint('uq_principal_configuration_owner_name', ['owner_id', 'name'])
      .execute();
  },
});

const MIGRATIONS: Record<string, VersionedMigration> = {
  '0001_principals_users_api_keys': m0001_principals,
  '0002_datasets_acl': m0002_datasets_acl,
};

export class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: DbProvider) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(
      Object.entries(MIGRATIONS).map(([name, make]) => [name, make(this.dialect)]),
    );
  }
}
