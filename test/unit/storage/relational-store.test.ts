import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../../src/config/index.js';
import { openRelationalStore } from '../../../src/storage/index.js';

/**
 * The SQLite relational store takes its page cache from DB_SQLITE_CACHE_MIB: past SQLite's 2 MiB
 * default, a permission listing in a large system reads its dataset index from the OS on every call.
 */
for (const [env, mib] of [
  [{}, 32],
  [{ DB_SQLITE_CACHE_MIB: '8' }, 8],
] as const) {
  test(`the SQLite store's page cache is ${mib} MiB with ${JSON.stringify(env)}`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'engram-relational-'));
    const store = openRelationalStore(loadConfig({ SYSTEM_ROOT_DIRECTORY: join(root, 'system'), ...env }, root));
    try {
      const { rows } = await sql<{ cache_size: number }>`PRAGMA cache_size`.execute(store.db);
      assert.equal(rows[0]?.cache_size, -mib * 1024);
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
}
