import { optionalBool, type Env } from './parse.js';

/**
 * The auth posture table of the Security Controls document, resolved once at startup.
 * ENABLE_BACKEND_ACCESS_CONTROL is the posture switch (multi-tenant mode); REQUIRE_AUTHENTICATION
 * overrides the authentication requirement alone, except that multi-tenant mode always requires it.
 */
export interface AuthPosture {
  readonly requireAuthentication: boolean;
  readonly multiTenant: boolean;
  readonly reason: string;
  /** Set when REQUIRE_AUTHENTICATION=false was overridden by multi-tenant mode. */
  readonly warning?: string;
  /** The exact startup line. */
  readonly logLine: string;
}

export const FORCED_ON_WARNING =
  'REQUIRE_AUTHENTICATION=false is incompatible with ENABLE_BACKEND_ACCESS_CONTROL=true: ' +
  'multi-tenant mode requires authentication. Forcing REQUIRE_AUTHENTICATION=true. ' +
  'To disable auth for a single-user deployment, also set ENABLE_BACKEND_ACCESS_CONTROL=false.';

export function resolvePosture(env: Env): AuthPosture {
  const accessControl = optionalBool(env, 'ENABLE_BACKEND_ACCESS_CONTROL');
  const requireAuth = optionalBool(env, 'REQUIRE_AUTHENTICATION');
  const multiTenant = accessControl ?? true;

  let requireAuthentication: boolean;
  let reason: string;
  let warning: string | undefined;

  if (requireAuth === undefined) {
    requireAuthentication = multiTenant;
    reason = accessControl === undefined ? 'default (no env vars set)' : 'inherited from ENABLE_BACKEND_ACCESS_CONTROL';
  } else if (requireAuth === false && multiTenant) {
    requireAuthentication = true;
    reason = 'forced on by multi-tenant mode (REQUIRE_AUTHENTICATION=false was ignored)';
    warning = FORCED_ON_WARNING;
  } else {
    requireAuthentication = requireAuth;
    reason = 'explicit REQUIRE_AUTHENTICATION';
  }

  const logLine =
    `auth posture: authentication=${requireAuthentication ? 'required' : 'disabled'}, ` + `multi_tenant=${multiTenant ? 'enabled' : 'disabled'} (${reason})`;

  return Object.freeze({
    requireAuthentication,
    multiTenant,
    reason,
    logLine,
    ...(warning ? { warning } : {}),
  });
}
