/** Engram's public API for programs that embed or talk to it. */
export { createJwt, type CreateJwtOptions } from './auth/index.js';
export { startEngram, VERSION, type Engram, type StartOptions } from './server.js';
export { loadConfig, resolvePosture, ConfigError, type Config, type AuthPosture } from './config/index.js';
export { ApiError } from './errors.js';
