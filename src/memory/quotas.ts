import { ApiError } from '../errors.js';

/** What a user keeps stored now, and what a request would add. */
export interface StorageUse {
  readonly bytes: number;
  readonly items: number;
}

/**
 * Refuses (413, nothing written) an ingestion that would take a user past `USER_MAX_STORAGE_BYTES`
 * or `USER_MAX_ITEMS` (0 = no limit).
 */
export function checkStorageQuota(used: StorageUse, adding: StorageUse, limits: { maxStorageBytes: number; maxItems: number }): void {
  if (limits.maxStorageBytes > 0 && adding.bytes > 0 && used.bytes + adding.bytes > limits.maxStorageBytes) {
    throw ApiError.detail(
      413,
      `Storage quota exceeded: you store ${used.bytes} bytes and this request adds ${adding.bytes}; the limit is ${limits.maxStorageBytes} bytes per user (USER_MAX_STORAGE_BYTES). Nothing was stored.`,
    );
  }
  if (limits.maxItems > 0 && adding.items > 0 && used.items + adding.items > limits.maxItems) {
    throw ApiError.detail(
      413,
      `Item quota exceeded: you store ${used.items} items and this request adds ${adding.items}; the limit is ${limits.maxItems} items per user (USER_MAX_ITEMS). Nothing was stored.`,
    );
  }
}
