/**
 * Resolved credentials, so a repeated request costs no signature check and no database round trip.
 * Entries expire after a TTL or at the credential's own expiry, and are dropped at once when the
 * user is invalidated. The key is the credential itself (exact match, no hashing on the hot path);
 * it lives only in this process's memory, as the credential does while its request is served.
 */
export interface CacheEntry<T> {
  readonly userId: string;
  readonly value: T;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export function credentialKey(kind: string, credential: string): string {
  return `${kind}\u0000${credential}`;
}

export class CredentialCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();
  private readonly byUser = new Map<string, Set<string>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
  ) {}

  get(key: string, now = Date.now()): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.delete(key, entry.userId);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, userId: string, value: T, credentialExpiresAt?: number, now = Date.now()): void {
    if (this.ttlMs <= 0) return;
    const expiresAt = Math.min(now + this.ttlMs, credentialExpiresAt ?? Number.POSITIVE_INFINITY);
    if (expiresAt <= now) return;
    if (this.entries.size >= this.maxEntries) {
      // Evict the oldest insertion (Map keeps insertion order).
      const oldest = this.entries.keys().next().value as string | undefined;
      if (oldest !== undefined) this.delete(oldest, this.entries.get(oldest)!.userId);
    }
    this.entries.set(key, { userId, value, expiresAt });
    let keys = this.byUser.get(userId);
    if (!keys) this.byUser.set(userId, (keys = new Set()));
    keys.add(key);
  }

  invalidateUser(userId: string): void {
    const keys = this.byUser.get(userId);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.byUser.delete(userId);
  }

  clear(): void {
    this.entries.clear();
    this.byUser.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private delete(key: string, userId: string) {
    this.entries.delete(key);
    const keys = this.byUser.get(userId);
    keys?.delete(key);
    if (keys?.size === 0) this.byUser.delete(userId);
  }
}
