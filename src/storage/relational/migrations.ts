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
    await db.schema.createIndex('tenants_external_id_uq').on('tenants').column('external_id').unique().execute();

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
    await db.schema.createIndex('user_api_key_lookup_uq').on('user_api_key').column('lookup_hash').unique().execute();

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

const m0003_memory: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    // One row per ingested item of a dataset; the same content in the same dataset is one row.
    await db.schema
      .createTable('data')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('extension', 'text', (c) => c.notNull())
      .addColumn('mime_type', 'text', (c) => c.notNull())
      .addColumn('original_extension', 'text')
      .addColumn('original_mime_type', 'text')
      .addColumn('loader_engine', 'text')
      .addColumn('raw_data_location', 'text', (c) => c.notNull())
      .addColumn('original_data_location', 'text')
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text')
      .addColumn('content_hash', 'text', (c) => c.notNull())
      .addColumn('raw_content_hash', 'text')
      .addColumn('label', 'text')
      .addColumn('external_metadata', 'text')
      .addColumn('node_set', 'text')
      .addColumn('pipeline_status', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('token_count', 'integer', (c) => c.notNull().defaultTo(-1))
      .addColumn('data_size', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .addUniqueConstraint('uq_data_dataset_content', ['dataset_id', 'content_hash'])
      .execute();
    await db.schema.createIndex('data_location_idx').on('data').column('raw_data_location').execute();

    // Where a dataset's graph and vectors live (multi-tenant mode): one row per dataset, created lazily.
    await db.schema
      .createTable('dataset_database')
      .addColumn('dataset_id', 'text', (c) => c.primaryKey().references('datasets.id').onDelete('cascade'))
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('vector_database_name', 'text')
      .addColumn('vector_database_url', 'text')
      .addColumn('vector_database_provider', 'text')
      .addColumn('vector_database_key', 'text')
      .addColumn('vector_dataset_database_handler', 'text')
      .addColumn('vector_database_connection_info', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('graph_database_name', 'text')
      .addColumn('graph_database_url', 'text')
      .addColumn('graph_database_provider', 'text')
      .addColumn('graph_database_key', 'text')
      .addColumn('graph_dataset_database_handler', 'text')
      .addColumn('graph_database_connection_info', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text')
      .execute();

    // Every status change of a pipeline run is a row; the latest by created_at is the run's status.
    await db.schema
      .createTable('pipeline_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('pipeline_run_id', 'text', (c) => c.notNull())
      .addColumn('pipeline_id', 'text', (c) => c.notNull())
      .addColumn('pipeline_name', 'text', (c) => c.notNull())
      .addColumn('dataset_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('run_info', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('seq', epochMs(dialect), (c) => c.notNull())
      .execute();
    await db.schema.createIndex('pipeline_runs_dataset_idx').on('pipeline_runs').columns(['dataset_id', 'pipeline_name', 'seq']).execute();
    await db.schema.createIndex('pipeline_runs_run_idx').on('pipeline_runs').column('pipeline_run_id').execute();

    // Search history: the caller's queries and the answers they got.
    await db.schema
      .createTable('search_history')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('principals.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('query_id', 'text')
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('query_type', 'text')
      .addColumn('dataset_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('seq', epochMs(dialect), (c) => c.notNull())
      .execute();
    await db.schema.createIndex('search_history_user_idx').on('search_history').columns(['user_id', 'seq']).execute();

    // Server settings every instance sees (secrets inside are Fernet tokens, D20).
    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('graph_metrics')
      .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id').onDelete('cascade'))
      .addColumn('pipeline_run_id', 'text', (c) => c.notNull())
      .addColumn('num_nodes', 'integer', (c) => c.notNull())
      .addColumn('num_edges', 'integer', (c) => c.notNull())
      .addColumn('computed_at', 'text')
      .addPrimaryKeyConstraint('graph_metrics_pk', ['dataset_id', 'pipeline_run_id'])
      .execute();

    // Durable background jobs for the in-process queue (the PostgreSQL queue keeps its own tables).
    await db.schema
      .createTable('jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('singleton_key', 'text')
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('jobs_state_idx').on('jobs').columns(['state', 'created_at']).execute();
  },
});

/** The in-process queue schedules retries (`run_after`) and records when a job was taken. */
const m0004_job_schedule: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('jobs').addColumn('run_after', 'text').execute();
    await db.schema.alterTable('jobs').addColumn('started_at', 'text').execute();
    // The orphan scan looks for unfinished runs by status.
    await db.schema.createIndex('pipeline_runs_status_idx').on('pipeline_runs').columns(['pipeline_name', 'status']).execute();
  },
});

/**
 * Every dataset a recorded query searched, so that removing content purges the history that could
 * quote it; the queries recorded before name their dataset only when they searched one.
 */
const m0005_search_history_datasets: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('search_history_datasets')
      .addColumn('query_id', 'text', (c) => c.notNull().references('search_history.id').onDelete('cascade'))
      .addColumn('dataset_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('search_history_datasets_pk', ['query_id', 'dataset_id'])
      .execute();
    await db.schema.createIndex('search_history_datasets_dataset_idx').on('search_history_datasets').column('dataset_id').execute();
    await db
      .insertInto('search_history_datasets')
      .columns(['query_id', 'dataset_id'])
      .expression((eb: any) => eb.selectFrom('search_history').select(['id', 'dataset_id']).where('kind', '=', 'query').where('dataset_id', 'is not', null))
      .execute();
  },
});

/**
 * Personal datasets of a deleted user waiting to be deleted whole (stores, files, rows): the user's
 * deletion marks them in its transaction and deletes them after it; a deletion interrupted there is
 * finished at the next start. The mark goes with the dataset's row.
 */
const m0006_dataset_deletions: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('dataset_deletions')
      .addColumn('dataset_id', 'text', (c) => c.primaryKey().references('datasets.id').onDelete('cascade'))
      .addColumn('requested_at', 'text', (c) => c.notNull())
      .execute();
  },
});

/**
 * Agent connections (`/api/v1/agents/register`): one row per connection, owned by its user and the
 * tenant that was active when it registered (null: the personal space). They go with the user
 * (D24: an agent's go with the agent) and with the tenant.
 */
const m0007_agent_connections: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('agent_connections')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('tenant_id', 'text', (c) => c.references('tenants.id').onDelete('cascade'))
      .addColumn('agent_session_name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('memory_mode', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('origin_function', 'text')
      .addColumn('session_id', 'text')
      .addColumn('datasets', 'text', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_active_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('agent_connections_user_idx').on('agent_connections').columns(['user_id', 'status', 'last_active_at']).execute();
    await db.schema.createIndex('agent_connections_tenant_idx').on('agent_connections').column('tenant_id').execute();
  },
});

/**
 * D23: shares offered to users outside the dataset's tenant wait for the recipient's acceptance. An
 * offer is not a grant: it lives apart from `acls`, so no permission query can count it; accepting
 * moves it into `acls`. Grants made before this migration stay in effect (the recipient may drop them).
 */
const m0008_share_offers: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('share_offers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('principal_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('permission_id', 'text', (c) => c.notNull().references('permissions.id').onDelete('cascade'))
      .addColumn('dataset_id', 'text', (c) => c.notNull().references('datasets.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('uq_share_offers_principal_permission_dataset', ['principal_id', 'permission_id', 'dataset_id'])
      .execute();
    await db.schema.createIndex('share_offers_dataset_idx').on('share_offers').column('dataset_id').execute();
  },
});

/** Agent sessions: their records, QA turns and trace steps, and token use per model. */
const m0009_sessions: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('session_records')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('tenant_key', 'text', (c) => c.notNull())
      .addColumn('dataset_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('last_activity_at', 'text', (c) => c.notNull())
      .addColumn('ended_at', 'text')
      .addColumn('tokens_in', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('tokens_out', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('cost_usd', epochMs(dialect), (c) => c.notNull().defaultTo(0))
      .addColumn('error_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_model', 'text')
      .addColumn('bridged_seq', epochMs(dialect), (c) => c.notNull().defaultTo(0))
      .addUniqueConstraint('session_records_owner_uq', ['user_id', 'tenant_key', 'session_id'])
      .execute();
    await db.schema.createIndex('session_records_activity_idx').on('session_records').columns(['user_id', 'last_activity_at']).execute();
    await db.schema
      .createTable('session_entries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('session_pk', 'text', (c) => c.notNull().references('session_records.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('seq', epochMs(dialect), (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('session_entries_session_idx').on('session_entries').columns(['session_pk', 'kind', 'seq']).execute();
    await db.schema
      .createTable('session_model_usage')
      .addColumn('session_pk', 'text', (c) => c.notNull().references('session_records.id').onDelete('cascade'))
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('tokens_in', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('tokens_out', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('cost_usd', epochMs(dialect), (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('session_model_usage_pk', ['session_pk', 'model'])
      .execute();
  },
});

const MIGRATIONS: Record<string, VersionedMigration> = {
  '0001_principals_users_api_keys': m0001_principals,
  '0002_datasets_acl': m0002_datasets_acl,
  '0003_memory': m0003_memory,
  '0004_job_schedule': m0004_job_schedule,
  '0005_search_history_datasets': m0005_search_history_datasets,
  '0006_dataset_deletions': m0006_dataset_deletions,
  '0007_agent_connections': m0007_agent_connections,
  '0008_share_offers': m0008_share_offers,
  '0009_sessions': m0009_sessions,
};

export class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: DbProvider) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(Object.entries(MIGRATIONS).map(([name, make]) => [name, make(this.dialect)]));
  }
}
