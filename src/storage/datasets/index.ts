export { auraHandler, AURA_CREDENTIALS_MISSING, type FetchLike } from './aura.js';
export { kuzuHandler, lancedbHandler, pgvectorHandler } from './handlers.js';
export { DatasetDatabases } from './pool.js';
export { HandlerRegistry } from './registry.js';
export type { DatasetDatabaseHandler, DatasetDatabaseRow, DatasetRef, StorePair } from './types.js';
