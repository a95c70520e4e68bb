export { openRelationalStore, pgClientConfig, type RelationalStore } from './store.js';
export { toBool, type Database, type DbBool } from './schema.js';
