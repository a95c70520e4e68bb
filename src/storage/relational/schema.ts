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

export interface PrincipalConfigurationTable {
  id: string;
  owner_id: string;
  name: string;
  /** JSON text. */
  configuration: string;
  created_at: string;
  updated_at: string | null;
}

export interface Database {
  datasets: DatasetsTable;
  permissions: PermissionsTable;
  acls: AclsTable;
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
