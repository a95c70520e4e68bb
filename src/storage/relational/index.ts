export { openRelationalStore, pgClientConfig, type RelationalStore } from './store.js';
export { toBool, type Database, type DbBool, type SessionRecordsTable } from './schema.js';
