/**
 * Everything that persists, behind small interfaces: the relational store, the graph and vector
 * stores and their dataset database handlers, the Cypher sandbox, the run lock and the Fernet vault.
 * Files inside `storage/` import each other directly; other layers import this face.
 */
export * from './relational/index.js';
export * from './datasets/index.js';
export { CypherSandbox, CypherSandboxError, sandboxEnv, trackChild, type CypherSandboxOptions } from './cypher-sandbox/sandbox.js';
export { FernetKeyring, isFernetToken } from './fernet.js';
export { LocalRunLock, type RunLock } from './run-lock.js';
export { PostgresRunLock } from './pg-run-lock.js';
export { GraphQueryLimitError, GraphQueryTimeoutError, GraphQueryMemoryError, GraphQueryAnswerTooLargeError } from './stores/common.js';
export type * from './types.js';
export { FileStore } from './files.js';
export { checkStores, type StoreHealth, type StoreName } from './health.js';
