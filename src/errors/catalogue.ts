/**
 * The catalogue of the reference's named errors: one constructor per error name Engram answers
 * with, each returning the `ApiError` with the reference's status and envelope
 * `{"detail": "<message> [<Name>]"}`. Where Engram always says the same thing, the constructor
 * holds the message; otherwise the caller passes it.
 *
 * Router-local bodies (`{"error": ..., "detail": ...}` and `{"error": ...}`) are at the end.
 */
import { ApiError } from './base.js';

const named = (status: number, name: string, message: string) => ApiError.named(status, name, message);

// 400 ---------------------------------------------------------------------------------------------

/** 400 `CogneeValidationError`: a request the reference refuses as invalid. */
export const cogneeValidation = (message: string) => named(400, 'CogneeValidationError', message);

/** 400 `CypherSearchError`: a Cypher search that was refused or failed. */
export const cypherSearchError = (message: string) => named(400, 'CypherSearchError', message);

/** 400 `UnsupportedSearchTypeError`; by default: the Cypher search types are disabled. */
export const unsupportedSearchType = (message = 'Unsupported search type: Cypher query search types are disabled.') =>
  named(400, 'UnsupportedSearchTypeError', message);

/** 400 `SearchTypeNotSupported`: a valid search type this server does not serve. */
export const searchTypeNotSupported = (message: string) => named(400, 'SearchTypeNotSupported', message);

/** 400 `InvalidLabelsError`: the labels field of an upload cannot be read. */
export const invalidLabels = (message = 'Labels must be a JSON array of strings or nulls, or comma-separated text.') =>
  named(400, 'InvalidLabelsError', message);

/** 400 `LabelCountMismatchError`: not one label per uploaded file. */
export const labelCountMismatch = (labels: number, files: number) =>
  named(400, 'LabelCountMismatchError', `Provide one label per uploaded file: got ${labels} labels for ${files} files.`);

/** 400 `InvalidExternalMetadataError`; by default: not a JSON array of objects or nulls. */
export const invalidExternalMetadata = (message = 'external_metadata must be a JSON array of objects or nulls.') =>
  named(400, 'InvalidExternalMetadataError', message);

/** 400 `ExternalMetadataCountMismatchError`: not one metadata entry per uploaded file. */
export const externalMetadataCountMismatch = (entries: number, files: number) =>
  named(400, 'ExternalMetadataCountMismatchError', `Provide one metadata entry per uploaded file: got ${entries} entries for ${files} files.`);

// 401 ---------------------------------------------------------------------------------------------

/** 401 `UnauthorizedDataAccessError`: the dataset is not accessible to the caller. */
export const unauthorizedDataAccess = (datasetId: string) => named(401, 'UnauthorizedDataAccessError', `Dataset ${datasetId} not accessible.`);

// 403 ---------------------------------------------------------------------------------------------

/** 403 `PermissionDeniedError` (for a missing dataset permission see `access`' `datasetPermissionDenied`). */
export const permissionDenied = (message: string) => named(403, 'PermissionDeniedError', message);

/** 403 `PermissionNotFoundError`: a permission name that is not one of the allowed types. */
export const permissionNotFound = (permissionName: string) =>
  named(403, 'PermissionNotFoundError', `${permissionName} not found or not in allowed permission types`);

/**
 * 403 `SSRFProtectionError`. A `SsrfProtectionError` renders itself the same way: rethrow it
 * rather than converting it.
 */
export const ssrfProtection = (message: string) => named(403, 'SSRFProtectionError', message);

// 404 ---------------------------------------------------------------------------------------------

/** 404 `ApiKeyNotFoundError`. */
export const apiKeyNotFound = (keyId: string) => named(404, 'ApiKeyNotFoundError', `Could not find API key: ${keyId}`);

/** 404 `DataNotFoundError`: no such data item in the dataset. */
export const dataNotFound = (dataId: string, datasetId: string) => named(404, 'DataNotFoundError', `Data ${dataId} not found in dataset ${datasetId}.`);

/** 404 `DatasetNotFoundError`; by default: none of the named datasets was found. */
export const datasetNotFound = (message = 'No datasets found.') => named(404, 'DatasetNotFoundError', message);

/** 404 `UpdateTargetNotFoundError`: an update names an item its dataset does not hold. */
export const updateTargetNotFound = (dataId: string, datasetId: string) =>
  named(
    404,
    'UpdateTargetNotFoundError',
    `No document found to update: data_id '${dataId}' does not exist in dataset '${datasetId}' (neither as a document id nor as a pre-fork legacy id). Use add() to create new documents.`,
  );

/** 404 `EntityNotFoundError`: a user, role or principal that does not exist. */
export const entityNotFound = (message: string) => named(404, 'EntityNotFoundError', message);

/** 404 `RoleNotFoundError`. */
export const roleNotFound = (message: string) => named(404, 'RoleNotFoundError', message);

/** 404 `TenantNotFoundError`. */
export const tenantNotFound = (message: string) => named(404, 'TenantNotFoundError', message);

/** 404 `UserNotFoundError`. */
export const userNotFound = (message: string) => named(404, 'UserNotFoundError', message);

// 409 ---------------------------------------------------------------------------------------------

/** 409 `EntityAlreadyExistsError`. */
export const entityAlreadyExists = (message: string) => named(409, 'EntityAlreadyExistsError', message);

// 415 ---------------------------------------------------------------------------------------------

/**
 * 415 `IngestionError`. An `IngestionError` renders itself the same way: rethrow it rather than
 * converting it.
 */
export const ingestionError = (message: string) => named(415, 'IngestionError', message);

// 422 ---------------------------------------------------------------------------------------------

/** 422 `QueryValidationError`: a search or recall parameter out of range. */
export const queryValidation = (message: string) => named(422, 'QueryValidationError', message);

// Router-local bodies -----------------------------------------------------------------------------

/** The reference's router-local body `{"error": <error>, "detail": <detail>}` (detail null by default). */
export const routerError = (status: number, error: string, detail: unknown = null) => new ApiError(status, { error, detail });

/** The reference's bare body `{"error": <error>}` (settings, recall, forget). */
export const bareError = (status: number, error: string) => new ApiError(status, { error });
