import type { Kysely } from 'kysely';
import { entityNotFound } from '../errors.js';
import type { Database } from '../storage/index.js';

export type PrincipalType = 'user' | 'role' | 'tenant';

export async function principalType(db: Kysely<Database>, id: string): Promise<PrincipalType | undefined> {
  const row = await db.selectFrom('principals').select('type').where('id', '=', id).executeTakeFirst();
  return row?.type;
}

/** D14: an unknown principal is 404, not the reference's 500. */
export async function requirePrincipal(db: Kysely<Database>, id: string): Promise<PrincipalType> {
  const type = await principalType(db, id);
  if (!type) throw entityNotFound(`Could not find principal: ${id}`);
  return type;
}

/**
 * Every agent below a user (users whose `parent_user_id` is the user, and theirs, at any depth),
 * breadth first. `parent_user_id` is set once, at creation, so there is no cycle.
 */
export async function agentsOf(db: Kysely<Database>, userId: string): Promise<string[]> {
  const found: string[] = [];
  const seen = new Set([userId]);
  let frontier = [userId];
  while (frontier.length > 0) {
    const rows = await db.selectFrom('users').select('id').where('parent_user_id', 'in', frontier).execute();
    frontier = rows.map((r) => r.id).filter((child) => !seen.has(child));
    for (const child of frontier) {
      seen.add(child);
      found.push(child);
    }
  }
  return found;
}
