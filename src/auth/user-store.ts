import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { agentsOf, datasetsSharedBy, handOrphansToTenantOwners, refuseTenantOwners, settleDatasetsOf } from '../access/index.js';
import { toBool, type Database } from '../storage/index.js';

/** A user as the auth layer sees it. */
export interface User {
  readonly id: string;
  readonly email: string;
  readonly hashedPassword: string;
  readonly isActive: boolean;
  readonly isSuperuser: boolean;
  readonly isVerified: boolean;
  readonly tenantId: string | null;
  readonly parentUserId: string | null;
  /** Epoch ms; tokens issued before it are refused (D3). */
  readonly tokensValidAfter: number;
  readonly isExternal: boolean;
}

/** The reference's `UserRead` response shape. */
export function userRead(user: User) {
  return {
    id: user.id,
    email: user.email,
    is_active: user.isActive,
    is_superuser: user.isSuperuser,
    is_verified: user.isVerified,
    tenant_id: user.tenantId,
    parent_user_id: user.parentUserId,
  };
}

const USER_COLUMNS = [
  'users.id',
  'users.email',
  'users.hashed_password',
  'users.is_active',
  'users.is_superuser',
  'users.is_verified',
  'users.tenant_id',
  'users.parent_user_id',
  'users.tokens_valid_after',
  'users.is_external',
] as const;

type UserRow = {
  id: string;
  email: string;
  hashed_password: string;
  is_active: boolean | number;
  is_superuser: boolean | number;
  is_verified: boolean | number;
  tenant_id: string | null;
  parent_user_id: string | null;
  tokens_valid_after: number | string;
  is_external: boolean | number;
};

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    hashedPassword: row.hashed_password,
    isActive: toBool(row.is_active),
    isSuperuser: toBool(row.is_superuser),
    isVerified: toBool(row.is_verified),
    tenantId: row.tenant_id,
    parentUserId: row.parent_user_id,
    tokensValidAfter: Number(row.tokens_valid_after),
    isExternal: toBool(row.is_external),
  };
}

export interface NewUser {
  readonly id?: string;
  readonly email: string;
  readonly hashedPassword: string;
  readonly isSuperuser?: boolean;
  readonly isVerified?: boolean;
  readonly isActive?: boolean;
  readonly parentUserId?: string | null;
  readonly tenantId?: string | null;
  readonly isExternal?: boolean;
}

export interface UserPatch {
  email?: string;
  hashedPassword?: string;
  isActive?: boolean;
  isSuperuser?: boolean;
  isVerified?: boolean;
  tenantId?: string | null;
  tokensValidAfter?: number;
}

export const nowIso = () => new Date().toISOString();

/** True when an insert or update failed on a unique constraint (SQLite or PostgreSQL). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class UserStore {
  constructor(readonly db: Kysely<Database>) {}

  async findById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').select(USER_COLUMNS).where('users.id', '=', id).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  /** Case-insensitive (login, registration, forgot-password). */
  async findByEmail(email: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .select(USER_COLUMNS)
      .where(sql<string>`lower(users.email)`, '=', email.toLowerCase())
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  /** Exact match, as the reference's get-user-id. */
  async findByEmailExact(email: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').select(USER_COLUMNS).where('users.email', '=', email).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  /** One round trip: the token's user and whether its jti was revoked. */
  async findForToken(id: string, jti: string | undefined): Promise<{ user: User | undefined; revoked: boolean }> {
    const row = await this.db
      .selectFrom('users')
      .select(USER_COLUMNS)
      .select((eb) =>
        eb
          .exists(
            eb
              .selectFrom('revoked_tokens')
              .select('revoked_tokens.jti')
              .where('revoked_tokens.jti', '=', jti ?? ''),
          )
          .as('revoked'),
      )
      .where('users.id', '=', id)
      .executeTakeFirst();
    if (!row) return { user: undefined, revoked: false };
    return { user: toUser(row), revoked: toBool(row.revoked as boolean | number) };
  }

  async create(input: NewUser): Promise<User> {
    const id = input.id ?? randomUUID();
    const now = nowIso();
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('principals').values({ id, type: 'user', created_at: now, updated_at: now }).execute();
      await trx
        .insertInto('users')
        .values({
          id,
          email: input.email,
          hashed_password: input.hashedPassword,
          is_active: input.isActive ?? true,
          is_superuser: input.isSuperuser ?? false,
          is_verified: input.isVerified ?? false,
          tenant_id: input.tenantId ?? null,
          parent_user_id: input.parentUserId ?? null,
          tokens_valid_after: 0,
          is_external: input.isExternal ?? false,
        })
        .execute();
    });
    return (await this.findById(id))!;
  }

  async update(id: string, patch: UserPatch): Promise<User | undefined> {
    const values: Record<string, unknown> = {};
    if (patch.email !== undefined) values.email = patch.email;
    if (patch.hashedPassword !== undefined) values.hashed_password = patch.hashedPassword;
    if (patch.isActive !== undefined) values.is_active = patch.isActive;
    if (patch.isSuperuser !== undefined) values.is_superuser = patch.isSuperuser;
    if (patch.isVerified !== undefined) values.is_verified = patch.isVerified;
    if (patch.tenantId !== undefined) values.tenant_id = patch.tenantId;
    if (patch.tokensValidAfter !== undefined) values.tokens_valid_after = patch.tokensValidAfter;
    if (Object.keys(values).length > 0) {
      await this.db.transaction().execute(async (trx) => {
        await trx.updateTable('users').set(values).where('id', '=', id).execute();
        await trx.updateTable('principals').set({ updated_at: nowIso() }).where('id', '=', id).execute();
      });
    }
    return this.findById(id);
  }

  /**
   * Deletes a user and everything that cascades from its principal (grants, API keys, memberships,
   * roles, configurations, search history), and (D24) the user's agents with theirs, in one
   * transaction; leaves a tombstone for each (D3), so no earlier session or external token works.
   * Their datasets are handed over or marked for deletion (`settleDatasetsOf`); a user who owns a
   * tenant is refused (400). Answers the ids deleted (none when the user does not exist) and the
   * datasets marked, which the caller deletes whole after the commit.
   */
  async delete(id: string, atMs = Date.now()): Promise<{ users: string[]; doomedDatasets: string[] }> {
    return this.db.transaction().execute(async (trx) => {
      const user = await trx.selectFrom('users').select(['id', 'parent_user_id']).where('id', '=', id).executeTakeFirst();
      if (!user) return { users: [], doomedDatasets: [] };
      const ids = [id, ...(await agentsOf(trx, id))];
      await refuseTenantOwners(trx, ids);
      const creator = user.parent_user_id ? await trx.selectFrom('users').select('id').where('id', '=', user.parent_user_id).executeTakeFirst() : undefined;
      const doomedDatasets = await settleDatasetsOf(trx, ids, { creatorId: creator?.id });
      const shared = await datasetsSharedBy(trx, ids);
      await trx.deleteFrom('principals').where('id', 'in', ids).where('type', '=', 'user').execute();
      // D23: a tenant dataset they leave with no user holding share goes to the tenant's owner.
      await handOrphansToTenantOwners(trx, shared);
      for (const deleted of ids) {
        await trx
          .insertInto('deleted_users')
          .values({ id: deleted, deleted_at: atMs })
          .onConflict((oc) => oc.column('id').doUpdateSet({ deleted_at: atMs }))
          .execute();
      }
      return { users: ids, doomedDatasets };
    });
  }

  /** The user's agents (users whose `parent_user_id` is the user), and theirs, at any depth. */
  agentsOf(id: string): Promise<string[]> {
    return agentsOf(this.db, id);
  }

  /**
   * A `tokensValidAfter` for the user no earlier than `nowMs` and later than the stamps its agents and
   * its creator carry, so `followActivation` never mistakes an agent deactivated on its own for one
   * deactivated with its creator.
   */
  async nextSessionStamp(id: string, nowMs: number): Promise<number> {
    const related = await this.agentsOf(id);
    const self = await this.db.selectFrom('users').select('parent_user_id').where('id', '=', id).executeTakeFirst();
    if (self?.parent_user_id) related.push(self.parent_user_id);
    if (related.length === 0) return nowMs;
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.max('tokens_valid_after').as('latest'))
      .where('id', 'in', related)
      .executeTakeFirst();
    const latest = Number(row?.latest ?? 0);
    return Math.max(nowMs, latest + 1);
  }

  /**
   * D24: the user's agents follow an activation change of the user. Deactivating stamps each active
   * agent with the user's `tokensValidAfter`; reactivating wakes the agents that carry the stamp the
   * user had (those deactivated with it, not those deactivated on their own); a new stamp on a user
   * that stays inactive moves to the agents that carry the old one. Answers the agents changed.
   */
  async followActivation(before: User, after: User): Promise<string[]> {
    const agents = await this.agentsOf(before.id);
    if (agents.length === 0) return [];
    let query = this.db.updateTable('users').where('id', 'in', agents);
    if (before.isActive && !after.isActive) {
      query = query.set({ is_active: false, tokens_valid_after: after.tokensValidAfter }).where('is_active', '=', true);
    } else if (!before.isActive && after.isActive) {
      query = query.set({ is_active: true }).where('is_active', '=', false).where('tokens_valid_after', '=', before.tokensValidAfter);
    } else if (!after.isActive && before.tokensValidAfter !== after.tokensValidAfter) {
      query = query
        .set({ tokens_valid_after: after.tokensValidAfter })
        .where('is_active', '=', false)
        .where('tokens_valid_after', '=', before.tokensValidAfter);
    } else {
      return [];
    }
    await query.execute();
    return agents;
  }

  async deletedAt(id: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('deleted_users').select('deleted_at').where('id', '=', id).executeTakeFirst();
    return row ? Number(row.deleted_at) : undefined;
  }

  async revokeToken(jti: string, userId: string | null, expiresAtMs: number): Promise<void> {
    await this.db
      .insertInto('revoked_tokens')
      .values({ jti, user_id: userId, expires_at: expiresAtMs })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  async purgeExpiredRevocations(now = Date.now()): Promise<number> {
    const result = await this.db.deleteFrom('revoked_tokens').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Names of the user's roles in one tenant (the `roles` claim of issued tokens). */
  async roleNamesInTenant(userId: string, tenantId: string | null): Promise<string[]> {
    if (tenantId === null) return [];
    const rows = await this.db
      .selectFrom('user_roles')
      .innerJoin('roles', 'roles.id', 'user_roles.role_id')
      .select('roles.name')
      .where('user_roles.user_id', '=', userId)
      .where('roles.tenant_id', '=', tenantId)
      .orderBy('roles.name')
      .execute();
    return rows.map((r) => r.name);
  }
}
