import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

/**
 * Just-in-time provisioning for external tokens (D2). The token's `tenant_id` may be any string: it
 * is matched to a tenant by its external id only — a tenant external tokens created, or a local
 * tenant an operator linked (`engram tenant link`) — never by a local tenant's own id, so a token
 * cannot act in a tenant its issuer was not given; a tenant seen for the first time is created
 * (with no owner: the external system manages it). Role names are created in that tenant on first
 * sight. Every step tolerates a concurrent request doing the same thing.
 */
export interface ExternalScope {
  readonly tenantId: string | null;
  readonly roleIds: readonly string[];
  readonly roleNames: readonly string[];
}

const now = () => new Date().toISOString();

async function findTenant(db: Kysely<Database>, ref: string): Promise<string | undefined> {
  const row = await db.selectFrom('tenants').select('id').where('external_id', '=', ref).executeTakeFirst();
  return row?.id;
}

/**
 * Lets external tokens naming `ref` act in an existing tenant (an operator's decision, `engram
 * tenant link`). Fails when the tenant does not exist or `ref` already names another tenant.
 */
export async function linkExternalTenant(db: Kysely<Database>, tenantId: string, ref: string): Promise<void> {
  const tenant = await db.selectFrom('tenants').select(['id', 'external_id']).where('id', '=', tenantId).executeTakeFirst();
  if (!tenant) throw new Error(`no tenant ${tenantId}`);
  const other = await findTenant(db, ref);
  if (other !== undefined && other !== tenantId) throw new Error(`the external tenant ${ref} is already the tenant ${other}`);
  await db.updateTable('tenants').set({ external_id: ref }).where('id', '=', tenantId).execute();
}

export async function resolveExternalTenant(db: Kysely<Database>, ref: string): Promise<string> {
  const existing = await findTenant(db, ref);
  if (existing) return existing;
  const id = randomUUID();
  try {
    await db.transaction().execute(async (trx) => {
      const ts = now();
      await trx.insertInto('principals').values({ id, type: 'tenant', created_at: ts, updated_at: ts }).execute();
      await trx.insertInto('tenants').values({ id, name: ref, owner_id: null, external_id: ref }).execute();
    });
    return id;
  } catch (error) {
    // A concurrent request created it first (unique external_id): use theirs.
    const raced = await findTenant(db, ref);
    if (raced) return raced;
    throw error;
  }
}

async function ensureRole(db: Kysely<Database>, tenantId: string, name: string): Promise<string> {
  const find = () => db.selectFrom('roles').select('id').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
  const existing = await find();
  if (existing) return existing.id;
  const id = randomUUID();
  try {
    await db.transaction().execute(async (trx) => {
      const ts = now();
      await trx.insertInto('principals').values({ id, type: 'role', created_at: ts, updated_at: ts }).execute();
      await trx.insertInto('roles').values({ id, name, tenant_id: tenantId }).execute();
    });
    return id;
  } catch (error) {
    const raced = await find();
    if (raced) return raced.id;
    throw error;
  }
}

/**
 * Makes sure the tenant and roles named by an external token exist and that the user is a member of
 * the tenant. The returned scope is what authorizes the request: the token's tenant is the active
 * tenant and the token's roles are the user's roles there.
 */
export async function provisionExternalScope(
  db: Kysely<Database>,
  userId: string,
  tenantRef: string | null,
  roleNames: readonly string[],
): Promise<ExternalScope> {
  if (tenantRef === null) return { tenantId: null, roleIds: [], roleNames: [] };
  const tenantId = await resolveExternalTenant(db, tenantRef);
  await db
    .insertInto('user_tenants')
    .values({ user_id: userId, tenant_id: tenantId, created_at: now() })
    .onConflict((oc) => oc.columns(['user_id', 'tenant_id']).doNothing())
    .execute();
  const roleIds: string[] = [];
  for (const name of roleNames) roleIds.push(await ensureRole(db, tenantId, name));
  return { tenantId, roleIds, roleNames: [...roleNames] };
}
