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
