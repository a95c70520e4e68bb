/**
 * A memory engine below the HTTP layer for the engine tests (test/unit/memory-engine.test.ts,
 * test/unit/neo4j-aura-engine.test.ts): a fresh root, a migrated SQLite store, the dataset
 * databases, the offline providers and two datasets (DATASETS) of two different owners.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { DatasetDatabases } from '../../src/storage/datasets/pool.js';
import { MemoryEngine, type DatasetInfo } from '../../src/memory/engine.js';
import { HashingEmbedder, OfflineModel } from '../../src/memory/providers/offline.js';
import { searchDependenciesOf, type SearchType } from '../../src/memory/search.js';
import { LocalJobQueue } from '../../src/memory/jobs.js';
import { MemorySettings } from '../../src/memory/settings.js';
import { openRelationalStore } from '../../src/storage/index.js';

export const DOC = [
  'Ada Lovelace worked with Charles Babbage in London in 1843.',
  'Babbage designed the Analytical Engine, a mechanical computer.',
  '',
  'Lovelace wrote the first published algorithm for the Analytical Engine.',
].join('\n');

/** [dataset id, owner id] of the two datasets every engine starts with. */
export const DATASETS = [
  ['11111111-1111-4111-8111-111111111111', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'],
  ['22222222-2222-4222-8222-222222222222', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'],
] as const;

const dirs: string[] = [];
/** Removes the roots of every engine set up so far (call it in the test file's `after`). */
export function removeEngineRoots(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface EngineSetupOptions {
  /** Keep every log line (level trace) in `logs`; otherwise the engine logs nothing. */
  readonly captureLogs?: boolean;
  /** Give the engine an in-process job queue (started by `engine.startJobs()`). */
  readonly jobs?: boolean;
}

/** An engine on `env` (over the defaults: authentication required, Cypher allowed, a fresh root). */
export async function setupEngine(env: Record<string, string>, options: EngineSetupOptions = {}) {
  const root = mkdtempSync(join(tmpdir(), 'engram-engine-'));
  dirs.push(root);
  const logs: string[] = [];
  const config = loadConfig(
    {
      REQUIRE_AUTHENTICATION: 'true',
      SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
      DATA_ROOT_DIRECTORY: join(root, 'data'),
      ALLOW_CYPHER_QUERY: 'true',
      ...env,
    },
    root,
  );
  const store = openRelationalStore(config);
  await store.migrate();
  const databases = DatasetDatabases.create(config, store.db, undefined);
  const logger = options.captureLogs ? pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) }) : pino({ level: 'silent' });
  const settings = new MemorySettings(store.db, config, logger, new OfflineModel());
  const queue = options.jobs ? new LocalJobQueue(store.db, config.memory.jobs, logger) : undefined;
  const engine = new MemoryEngine(config, store.db, logger, databases, settings, new HashingEmbedder(), queue ? { queue } : {});
  const now = new Date().toISOString();
  const datasets: DatasetInfo[] = [];
  for (const [id, owner] of DATASETS) {
    await store.db
      .insertInto('datasets')
      .values({ id, name: `ds_${id.slice(0, 4)}`, owner_id: owner, tenant_id: null, created_at: now, updated_at: now })
      .execute();
    datasets.push({ id, ownerId: owner, name: `ds_${id.slice(0, 4)}`, tenantId: null });
  }
  return {
    config,
    store,
    engine,
    search: searchDependenciesOf(engine),
    datasets,
    logs,
    async close() {
      await engine.parsers.close();
      await databases.close();
      await store.close();
    },
  };
}

/** A search request as the search route builds it. */
export const searchRequest = (type: SearchType, query: string, onlyContext = false) => ({
  type,
  query,
  topK: 5,
  systemPrompt: 'Answer briefly.',
  onlyContext,
});
