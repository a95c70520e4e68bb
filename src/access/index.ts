export { provisionExternalScope, resolveExternalTenant, type ExternalScope } from './external.js';
