export { AuthService, normaliseEmail } from './service.js';
export { Credentials, type AuthenticatedUser, type CredentialKind, type PresentedCredentials, type Resolution } from './credentials.js';
export { createJwt, verifyAccessToken, isUuid, type CreateJwtOptions } from './tokens.js';
export { resolveSecrets, type SigningSecrets } from './secrets.js';
export { createMailer, type Mailer, type AccountMessage } from './mailer.js';
export { LocalBus, PostgresBus, RedisBus, type InvalidationBus } from './invalidation.js';
export { MemoryCounterStore, RedisCounterStore, type CounterStore } from './rate-limit.js';
export { userRead, type User } from './user-store.js';
export { hashPassword, passwordPolicyViolation, MAX_PASSWORD_LENGTH } from './passwords.js';
export { constantTimeEqual } from './api-keys.js';
export { isServerAssignedEmail } from './reserved-emails.js';
export {
  CONNECTION_RANGES,
  CONNECTION_SOURCES,
  CONNECTION_STATUSES,
  MAX_METADATA_BYTES,
  MEMORY_MODES,
  type AgentConnection,
  type ConnectionScope,
  type RegisterConnection,
} from './connections.js';
