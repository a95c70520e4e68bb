import { del, get, postJson, request } from './client';

/** Tenants, their members and roles, and dataset sharing, through `/api/v1/permissions/…`. */

const P = '/api/v1/permissions';
const q = encodeURIComponent;

export const PERMISSIONS = ['read', 'write', 'delete', 'share'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface TenantRef {
  id: string;
  name: string;
}
export interface RoleRef {
  id: string;
  name: string;
}
export interface Member {
  id: string;
  email: string;
  roles: RoleRef[];
}
export interface Role extends RoleRef {
  description: string | null;
  user_count: number;
}
export interface Holder {
  principal_id: string;
  principal_type: 'user' | 'role' | 'tenant';
  name: string | null;
  permissions: Permission[];
  /** Permissions offered to a user outside the dataset's tenant, waiting for their acceptance (D23). */
  pending_permissions?: Permission[];
}
/** A dataset shared with the caller as a user: accepted, or offered and waiting for acceptance (D23). */
export interface ReceivedShare {
  dataset_id: string;
  dataset_name: string;
  tenant_id: string | null;
  owner_email: string | null;
  permissions: Permission[];
  status: 'pending' | 'accepted';
  since: string;
}

export const myTenants = () => get<TenantRef[]>(`${P}/tenants/me`);

/** Makes a tenant (or, with null, the personal space) the caller's active one. */
export async function selectTenant(tenantId: string | null): Promise<void> {
  await postJson(`${P}/tenants/select`, { tenant_id: tenantId });
}

/** Creates a tenant owned by the caller; it becomes the active one. */
export async function createTenant(name: string): Promise<void> {
  await request('POST', `${P}/tenants?tenant_name=${q(name)}`);
}

export const tenantUsers = (tenantId: string) => get<Member[]>(`${P}/tenants/${q(tenantId)}/users`);

export async function addUserToTenant(userId: string, tenantId: string): Promise<void> {
  await request('POST', `${P}/users/${q(userId)}/tenants?tenant_id=${q(tenantId)}`);
}

export async function removeUserFromTenant(tenantId: string, userId: string): Promise<void> {
  await del(`${P}/tenants/${q(tenantId)}/users/${q(userId)}`);
}

export const tenantRoles = (tenantId: string) => get<Role[]>(`${P}/tenants/${q(tenantId)}/roles`);

/** Creates a role in the caller's active tenant. */
export async function createRole(name: string): Promise<void> {
  await request('POST', `${P}/roles?role_name=${q(name)}`);
}

export async function deleteRole(roleId: string): Promise<void> {
  await del(`${P}/roles/${q(roleId)}`);
}

export async function addUserToRole(userId: string, roleId: string): Promise<void> {
  await request('POST', `${P}/users/${q(userId)}/roles?role_id=${q(roleId)}`);
}

export async function removeUserFromRole(userId: string, roleId: string): Promise<void> {
  await request('DELETE', `${P}/users/${q(userId)}/roles?role_id=${q(roleId)}`);
}

/** Who holds which permissions on a dataset. */
export const datasetPrincipals = (datasetId: string) => get<Holder[]>(`${P}/datasets/${q(datasetId)}/principals`);

/**
 * Grants or revokes one permission of a principal (user, role or tenant) on datasets. Answers the ids
 * whose grant is only an offer waiting for the recipient's acceptance (D23).
 */
export async function changeDatasetPermission(
  change: 'grant' | 'revoke',
  principalId: string,
  permission: Permission,
  datasetIds: string[],
): Promise<string[]> {
  const answer = await request<{ pending_dataset_ids?: string[] } | undefined>(
    change === 'grant' ? 'POST' : 'DELETE',
    `${P}/datasets/${q(principalId)}?permission_name=${q(permission)}`,
    { json: datasetIds },
  );
  return answer?.pending_dataset_ids ?? [];
}

/** Datasets shared with the caller as a user (D23). */
export const receivedShares = () => get<ReceivedShare[]>(`${P}/shares/received`);

/** Accepts or declines the share of a dataset offered to the caller, or drops a share received. */
export async function answerShare(answer: 'accept' | 'decline' | 'drop', datasetId: string): Promise<void> {
  if (answer === 'drop') await del(`${P}/shares/received/${q(datasetId)}`);
  else await request('POST', `${P}/shares/received/${q(datasetId)}/${answer}`);
}
