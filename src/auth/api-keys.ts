import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { ApiError, apiKeyNotFound } from '../errors.js';
import { nowIso } from './user-store.js';

/**
 * API keys (D11): 256-bit random values shown as 64 lowercase hex characters. With HASH_API_KEY (the
 * default) the stored value is `sha256$<hex>` and the key is shown once, at creation. Lookup goes
 * through an indexed SHA-256 column and the stored value is compared in constant time.
 */
export const MASKED_KEY = '************';
const HASH_PREFIX = 'sha256$';
const MAX_PRESENTED_LENGTH = 512;

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Constant-time equality of two strings of any length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

export interface ApiKeyView {
  readonly id: string;
  /** The key itself, at creation and for keys stored in plaintext; null for a hashed key once created. */
  readonly key: string | null;
  readonly label: string | null;
  readonly name: string | null;
}

export interface ApiKeyMatch {
  readonly keyId: string;
  readonly userId: string;
  readonly lastUsedAt: string | null;
}

const LAST_USED_THROTTLE_MS = 5 * 60 * 1000;

export class ApiKeyService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly options: { hash: boolean; maxPerUser: number },
  ) {}

  async list(userId: string): Promise<ApiKeyView[]> {
    const rows = await this.db
      .selectFrom('user_api_key')
      .select(['id', 'api_key', 'label', 'name'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      key: row.api_key.startsWith(HASH_PREFIX) ? null : row.api_key,
      label: row.label,
      name: row.name,
      id: row.id,
    }));
  }

  async create(userId: string, name: string | null): Promise<ApiKeyView & { readonly key: string }> {
    const raw = randomBytes(32).toString('hex');
    const lookup = sha256Hex(raw);
    const id = randomUUID();
    const label = `${raw.slice(0, 8)}****`;
    await this.db.transaction().execute(async (trx) => {
      // Serialise concurrent creations for one user so the limit holds (SQLite transactions are
      // already serial; PostgreSQL locks the user's row).
      if (this.dialect === 'postgres') {
        await trx.selectFrom('principals').select('id').where('id', '=', userId).forUpdate().execute();
      }
      const { count } = await trx
        .selectFrom('user_api_key')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      if (Number(count) >= this.options.maxPerUser) {
        throw new ApiError(400, { error: { message: 'You have reached the maximum number of API keys.' } });
      }
      await trx
        .insertInto('user_api_key')
        .values({
          id,
          user_id: userId,
          api_key: this.options.hash ? HASH_PREFIX + lookup : raw,
          lookup_hash: lookup,
          label,
          name,
          created_at: nowIso(),
          last_used_at: null,
        })
        .execute();
    });
    return { key: raw, label, name, id };
  }

  /** Deletes one of the caller's own keys; a missing or foreign key is 404 (D14). */
  async delete(userId: string, keyId: string): Promise<void> {
    const result = await this.db.deleteFrom('user_api_key').where('id', '=', keyId).where('user_id', '=', userId).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) {
      throw apiKeyNotFound(keyId);
    }
  }

  /** One indexed lookup, then a constant-time comparison of the stored value. */
  async match(presented: string): Promise<ApiKeyMatch | undefined> {
    if (presented.length === 0 || presented.length > MAX_PRESENTED_LENGTH) return undefined;
    const lookup = sha256Hex(presented);
    const row = await this.db
      .selectFrom('user_api_key')
      .select(['id', 'user_id', 'api_key', 'last_used_at'])
      .where('lookup_hash', '=', lookup)
      .executeTakeFirst();
    if (!row) return undefined;
    const expected = row.api_key.startsWith(HASH_PREFIX) ? HASH_PREFIX + lookup : presented;
    if (!constantTimeEqual(row.api_key, expected)) return undefined;
    return { keyId: row.id, userId: row.user_id, lastUsedAt: row.last_used_at };
  }

  /** Best effort, at most once per five minutes per key (as the reference). */
  needsTouch(lastUsedMs: number, now = Date.now()): boolean {
    return lastUsedMs === 0 || now - lastUsedMs > LAST_USED_THROTTLE_MS;
  }

  async touch(keyId: string, at = new Date()): Promise<void> {
    await this.db.updateTable('user_api_key').set({ last_used_at: at.toISOString() }).where('id', '=', keyId).execute();
  }
}
