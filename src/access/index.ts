export { linkExternalTenant, provisionExternalScope, resolveExternalTenant, type ExternalScope } from './external.js';
export {
  PERMISSION_TYPES,
  datasetGrants,
  effectiveDatasets,
  grant,
  datasetPermissionDenied,
  isPermissionName,
  permittedIds,
  requireOnAll,
  revoke,
  subjectOf,
  type DatasetGrant,
  type DatasetRow,
  type PermissionName,
  type Subject,
} from './permissions.js';
export { datasetView, getOrCreateDataset } from './datasets.js';
export * as management from './management.js';
export { datasetsSharedBy, handOrphansToTenantOwners } from './orphans.js';
export { isPendingDeletion, pendingDatasetDeletions, refuseTenantOwners, settleDatasetsOf } from './user-removal.js';
export { agentsOf } from './principals.js';
export { canManageUsers, createTenant, findTenant, tenantsOf, transferTenant } from './tenants.js';
export { datasetId, uuid5 } from '../ids.js';
export { AccessService } from './service.js';
export { targetDatasets, type Actor, type DatasetSelection } from './targets.js';
