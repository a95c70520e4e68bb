/**
 * Row types of the relational store. Ids are UUID strings, timestamps ISO-8601 strings, booleans
 * 0/1 on SQLite and true/false on PostgreSQL (read them through `toBool`).
 */
import type { Generated } from 'kysely';

export type DbBool = boolean | number;

export interface PrincipalsTable {
  id: string;
  type: 'user' | 'role' | 'tenant';
  created_at: string;
  updated_at: string | null;
}

export interface UsersTable {
  id: string;
  email: string;
  hashed_password: string;
  is_active: DbBool;
  is_superuser: DbBool;
  is_verified: DbBool;
  tenant_id: string | null;
  parent_user_id: string | null;
  /** Epoch milliseconds: tokens issued before this instant are no longer accepted (D3). */
  tokens_valid_after: number;
  /** True for users provisioned from an external token (D2). */
  is_external: DbBool;
}

export interface TenantsTable {
  id: string;
  name: string;
  owner_id: string | null;
  /** Identifier used by an external token issuer (D2), e.g. `tenant_456`. */
  external_id: string | null;
}

export interface RolesTable {
  id: string;
  name: string;
  tenant_id: string;
}

export interface UserRolesTable {
  user_id: string;
  role_id: string;
  created_at: string;
}

export interface UserTenantsTable {
  user_id: string;
  tenant_id: string;
  created_at: string;
}

export interface UserApiKeyTable {
  id: string;
  user_id: string;
  /** `sha256$<hex>` when hashing is on (D11), else the raw key. */
  api_key: string;
  /** sha256 hex of the raw key, always stored: the indexed lookup column. */
  lookup_hash: string;
  label: string | null;
  name: string | null;
  created_at: string;
  last_used_at: string | null;
}

export interface RevokedTokensTable {
  jti: string;
  user_id: string | null;
  /** Epoch milliseconds after which the entry can be purged (the token's own exp). */
  expires_at: number;
}

export interface DeletedUsersTable {
  id: string;
  /** Epoch milliseconds. */
  deleted_at: number;
}

export interface DatasetsTable {
  id: string;
  name: string;
  owner_id: string;
  tenant_id: string | null;
  created_at: string;
  updated_at: string | null;
}

export interface PermissionsTable {
  id: string;
  name: string;
  created_at: string;
  updated_at: string | null;
}

/** principal × permission × dataset, unique. */
export interface AclsTable {
  id: string;
  principal_id: string;
  permission_id: string;
  dataset_id: string;
  created_at: string;
  updated_at: string | null;
}

/** D23: a pending share to a user outside the dataset's tenant (user × permission × dataset, unique); it grants nothing. */
export interface ShareOffersTable {
  id: string;
  principal_id: string;
  permission_id: string;
  dataset_id: string;
  created_at: string;
}

export interface PrincipalConfigurationTable {
  id: string;
  owner_id: string;
  name: string;
  /** JSON text. */
  configuration: string;
  created_at: string;
  updated_at: string | null;
}

/** An ingested item of a dataset. JSON columns are text. */
export interface DataTable {
  id: string;
  dataset_id: string;
  name: string;
  extension: string;
  mime_type: string;
  original_extension: string | null;
  original_mime_type: string | null;
  loader_engine: string | null;
  raw_data_location: string;
  original_data_location: string | null;
  owner_id: string;
  tenant_id: string | null;
  content_hash: string;
  raw_content_hash: string | null;
  label: string | null;
  external_metadata: string | null;
  node_set: string | null;
  pipeline_status: string;
  token_count: number;
  data_size: number;
  created_at: string;
  updated_at: string | null;
}

export interface DatasetDatabaseTable {
  dataset_id: string;
  owner_id: string;
  vector_database_name: string | null;
  vector_database_url: string | null;
  vector_database_provider: string | null;
  vector_database_key: string | null;
  vector_dataset_database_handler: string | null;
  vector_database_connection_info: string;
  graph_database_name: string | null;
  graph_database_url: string | null;
  graph_database_provider: string | null;
  graph_database_key: string | null;
  graph_dataset_database_handler: string | null;
  graph_database_connection_info: string;
  created_at: string;
  updated_at: string | null;
}

export interface PipelineRunsTable {
  id: string;
  pipeline_run_id: string;
  pipeline_id: string;
  pipeline_name: string;
  dataset_id: string;
  status: string;
  run_info: string;
  created_at: string;
  /** Strictly increasing per process; orders rows written in the same millisecond. */
  seq: number;
}

export interface SearchHistoryTable {
  id: string;
  user_id: string;
  kind: 'query' | 'result';
  query_id: string | null;
  text: string;
  query_type: string | null;
  dataset_id: string | null;
  created_at: string;
  seq: number;
}

/** Every dataset a recorded query searched (what purges the history when content is removed). */
export interface SearchHistoryDatasetsTable {
  query_id: string;
  dataset_id: string;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface GraphMetricsTable {
  dataset_id: string;
  pipeline_run_id: string;
  num_nodes: number;
  num_edges: number;
  computed_at: string | null;
}

export interface JobsTable {
  id: string;
  name: string;
  singleton_key: string | null;
  data: string;
  state: 'queued' | 'active' | 'done' | 'failed';
  attempts: number;
  last_error: string | null;
  /** ISO time before which a queued job is not taken (retry delay); null = at once. */
  run_after: string | null;
  started_at: string | null;
  created_at: string;
  updated_at: string;
}

/** A personal dataset of a deleted user, to be deleted whole (marked in the user's deletion). */
export interface DatasetDeletionsTable {
  dataset_id: string;
  requested_at: string;
}

/** An agent connection (`/api/v1/agents/register`); JSON columns are text. */
export interface AgentConnectionsTable {
  id: string;
  user_id: string;
  /** The tenant active when it registered; null in the personal space. */
  tenant_id: string | null;
  agent_session_name: string;
  type: string;
  memory_mode: string;
  source: string;
  origin_function: string | null;
  session_id: string | null;
  /** JSON array of `{id, name, role, type}`. */
  datasets: string;
  /** JSON object. */
  metadata: string;
  status: 'active' | 'inactive';
  created_at: string;
  last_active_at: string;
}

/** One agent session: a caller-chosen id, kept per user and active tenant, with its token use. */
export interface SessionRecordsTable {
  id: string;
  session_id: string;
  user_id: string;
  /** The active tenant when the session was made; '' for the personal space (part of the unique key). */
  tenant_key: string;
  dataset_id: string | null;
  status: string;
  started_at: string;
  last_activity_at: string;
  ended_at: string | null;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  error_count: number;
  last_model: string | null;
  /** The `seq` of the last entry `improve` bridged into the dataset's graph (0 = none yet). */
  bridged_seq: number;
}

/** A session's QA turns and agent trace steps, in the order they were written. */
export interface SessionEntriesTable {
  id: string;
  session_pk: string;
  kind: 'qa' | 'trace';
  seq: number;
  created_at: string;
  /** The entry's fields as JSON (the reference's `SessionQAEntry` / `SessionAgentTraceEntry`). */
  payload: string;
}

/** Tokens and cost per session and model (a session can use several). */
export interface SessionModelUsageTable {
  session_pk: string;
  model: string;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  updated_at: string;
}

export interface Database {
  agent_connections: AgentConnectionsTable;
  session_records: SessionRecordsTable;
  session_entries: SessionEntriesTable;
  session_model_usage: SessionModelUsageTable;
  data: DataTable;
  dataset_database: DatasetDatabaseTable;
  pipeline_runs: PipelineRunsTable;
  search_history: SearchHistoryTable;
  search_history_datasets: SearchHistoryDatasetsTable;
  settings: SettingsTable;
  graph_metrics: GraphMetricsTable;
  jobs: JobsTable;
  datasets: DatasetsTable;
  dataset_deletions: DatasetDeletionsTable;
  permissions: PermissionsTable;
  acls: AclsTable;
  share_offers: ShareOffersTable;
  principal_configuration: PrincipalConfigurationTable;
  principals: PrincipalsTable;
  users: UsersTable;
  tenants: TenantsTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  user_tenants: UserTenantsTable;
  user_api_key: UserApiKeyTable;
  revoked_tokens: RevokedTokensTable;
  deleted_users: DeletedUsersTable;
}

export type { Generated };

export function toBool(value: DbBool | null | undefined): boolean {
  return value === true || value === 1;
}
