import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { AccessService, Actor } from '../access/index.js';
import type { AuthService, AuthenticatedUser, PresentedCredentials } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { ApiError } from '../errors.js';
import { isAllowedOrigin, namedOrigin, UNSAFE_METHODS } from './request-guard.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: AuthenticatedUser;
  }
}

/**
 * The credential-resolution hooks. AUTH follows the posture (D6, D7); STRICT always requires a user
 * (the reference's `/api/v1/users/*`); SUPERUSER additionally requires `is_superuser`.
 */
export type AuthMode = 'auth' | 'strict' | 'superuser';

export function presentedCredentials(request: FastifyRequest, cookieName: string): PresentedCredentials {
  const header = (name: string) => {
    const value = request.headers[name];
    const single = Array.isArray(value) ? value[0] : value;
    return single === undefined || single.trim() === '' ? undefined : single.trim();
  };
  const authorization = header('authorization');
  // D6: a non-empty Bearer value is a presented credential even when malformed (e.g. two tokens).
  const match = authorization ? /^bearer(?:\s+(.+))?$/i.exec(authorization) : null;
  const cookie = request.cookies?.[cookieName];
  return {
    apiKey: header('x-api-key'),
    bearer: match?.[1],
    cookie: cookie === undefined || cookie === '' ? undefined : cookie,
  };
}

/**
 * D5: an unsafe request authenticated by the cookie alone must come from the server's own origin
 * or an allowed CORS origin, shown by `Origin` or else `Referer` (D25 has already refused a foreign
 * one for every request; here naming none is refused too).
 */
export function checkCookieCsrf(request: FastifyRequest, config: Config, endsSession = false) {
  if (!UNSAFE_METHODS.has(request.method)) return;
  const origin = namedOrigin(request);
  if (origin !== undefined && isAllowedOrigin(request, config, origin)) return;
  // Ending a session takes nothing from its holder, and a browser always names the origin of a
  // write: a request that names none is a server forwarding the cookie (the reference frontend's
  // sign-out route does), not a forged browser request. A foreign origin is still refused.
  if (endsSession && request.headers.origin === undefined && request.headers.referer === undefined) return;
  throw ApiError.detail(403, 'CSRF check failed: a cookie-authenticated request must come from an allowed origin');
}

export function authenticate(auth: AuthService, config: Config, mode: AuthMode, options: { endsSession?: boolean } = {}): preHandlerHookHandler {
  const endsSession = options.endsSession === true;
  const admit = (request: FastifyRequest, principal: AuthenticatedUser) => {
    if (principal.via === 'cookie') checkCookieCsrf(request, config, endsSession);
    if (mode === 'superuser' && !principal.user.isSuperuser) throw ApiError.forbidden();
    request.principal = principal;
  };
  const slow = async (request: FastifyRequest, presented: PresentedCredentials) => {
    const { principal, presented: any } = await auth.credentials.resolve(presented);
    if (principal) return admit(request, principal);
    if (any || mode !== 'auth' || config.posture.requireAuthentication) throw ApiError.unauthorized();
    request.principal = await auth.credentials.defaultPrincipal();
  };
  // Callback style, so a cached credential is admitted without a promise.
  return function (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) {
    const presented = presentedCredentials(request, config.auth.cookieName);
    let cached: AuthenticatedUser | undefined;
    try {
      cached = auth.credentials.resolveCached(presented);
      if (cached) admit(request, cached);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (cached) done();
    else slow(request, presented).then(() => done(), done);
  };
}

export function principalOf(request: FastifyRequest): AuthenticatedUser {
  if (!request.principal) throw ApiError.unauthorized();
  return request.principal;
}

const actors = new WeakMap<FastifyRequest, Promise<Actor>>();

/**
 * The request's actor (its subject for the access rules: tenants, roles, active tenant), resolved
 * once per request, on first use, from the principal the auth hook admitted.
 */
export function actorOf(request: FastifyRequest, access: AccessService): Promise<Actor> {
  let actor = actors.get(request);
  if (!actor) {
    actor = access.actorOf(principalOf(request));
    actors.set(request, actor);
  }
  return actor;
}
