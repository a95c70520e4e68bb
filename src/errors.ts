/**
 * One error story for every layer (this module and `errors/` import nothing from the layers):
 *   - `DomainError`: an error that carries the HTTP status a client gets and renders its own body,
 *     by default the reference's named envelope `{"detail": "<message> [<Name>]"}`; the domain
 *     errors (`ProviderError`, `IngestionError`, `SsrfProtectionError`, `CypherRefused`,
 *     `GraphQueryLimitError`) extend it;
 *   - `ApiError`: a `DomainError` built directly from a status and a body;
 *   - the catalogue: one constructor per reference error name (`datasetNotFound`, ...).
 * `http/errors.ts` renders any of them once.
 */
export { ApiError, DomainError, isErrorStatus, namedBody } from './errors/base.js';
export * from './errors/catalogue.js';
export { withoutServerPaths } from './errors/redact.js';
