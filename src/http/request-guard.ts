import { errorCodes, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { ApiError } from '../errors.js';

/**
 * D25: checks every request makes before it is routed to a handler, in every posture (with
 * authentication off they are all that stands between a web page and the API):
 *   - the Host names one of the configured names (`ALLOWED_HOSTS`), so a page on a rebinding domain
 *     cannot reach the server through its own name;
 *   - an unsafe request (POST/PUT/PATCH/DELETE) that names a foreign origin (`Origin`, or else
 *     `Referer`) is refused; a request that names none (an SDK, an agent, curl) is not;
 *   - a request body must be of a content type its route declares (OpenAPI `consumes`; JSON when it
 *     declares none), so an HTML form (urlencoded, multipart, text/plain) cannot reach a JSON route.
 */

export const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Liveness probes address the server by whatever name or address they have; the answer holds nothing. */
const HOST_EXEMPT = new Set(['/health']);

/** The host name of a `Host` value (no port), lower case, IPv6 in brackets, without a trailing dot. */
export function hostNameOf(host: string): string {
  const lower = host.trim().toLowerCase();
  const name = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.split(':', 1)[0]!;
  return name.replace(/\.$/, '');
}

export function isAllowedHost(name: string, allowed: readonly string[]): boolean {
  if (name === '') return false;
  return allowed.some((entry) => entry === '*' || entry === name || (entry.startsWith('.') && (name === entry.slice(1) || name.endsWith(entry))));
}

/**
 * The origin an unsafe request names: its `Origin`, or — when that is absent or `null` — the origin
 * of its `Referer`. `undefined` when it names none; `'null'` when it names an opaque origin only (a
 * sandboxed frame, a page that hides its referrer) or an unreadable Referer.
 */
export function namedOrigin(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  const referer = request.headers.referer;
  if (origin !== undefined && origin !== 'null') return origin;
  if (referer) {
    try {
      return new URL(referer).origin;
    } catch {
      return 'null';
    }
  }
  return origin;
}

/** The server's own origin (as the request reached it) and the allowed CORS origins. */
export function isAllowedOrigin(request: FastifyRequest, config: Config, origin: string): boolean {
  if (origin === 'null') return false;
  return origin === `${request.protocol}://${request.host}` || config.http.corsOrigins.includes(origin);
}

const pathOf = (url: string) => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

const hasBody = (request: FastifyRequest) => {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
};

const ALLOWED_SEEN_MAX = 64;

export function requestGuard(config: Config): onRequestHookHandler {
  const allowedHosts = config.http.allowedHosts;
  const anyHost = allowedHosts.includes('*');
  // `Host` values already found allowed (a server is reached by a few names), bounded.
  const allowedSeen = new Set<string>();
  return function (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) {
    const host = anyHost ? '' : (request.host ?? '');
    if (!anyHost && !allowedSeen.has(host) && !HOST_EXEMPT.has(pathOf(request.url))) {
      const name = hostNameOf(host);
      if (isAllowedHost(name, allowedHosts)) {
        if (allowedSeen.size < ALLOWED_SEEN_MAX) allowedSeen.add(host);
      } else {
        request.log.warn({ host: name.slice(0, 255) }, 'refused a request for a host name that is not allowed (ALLOWED_HOSTS)');
        done(ApiError.detail(421, 'Misdirected Request: the Host header does not name this server (ALLOWED_HOSTS)'));
        return;
      }
    }
    if (!UNSAFE_METHODS.has(request.method)) {
      done();
      return;
    }
    const origin = namedOrigin(request);
    if (origin !== undefined && !isAllowedOrigin(request, config, origin)) {
      done(ApiError.detail(403, 'CSRF check failed: the request comes from an origin that is not allowed'));
      return;
    }
    // A route declares what it consumes; an unmatched path (404) has nothing to declare.
    if (request.routeOptions.url !== undefined && hasBody(request)) {
      const declared = (request.routeOptions.schema as { consumes?: readonly string[] } | undefined)?.consumes ?? ['application/json'];
      const type = (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
      if (!declared.includes(type)) {
        // Fastify's own error, so it is answered like any other unsupported body (and as a failed
        // login on the login route, as the reference answers every malformed login).
        done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(type || 'none'));
        return;
      }
    }
    done();
  };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The startup line naming the accepted Host names, and a warning when only loopback names are accepted on every interface. */
export function logAllowedHosts(config: Config, log: Logger): void {
  const hosts = config.http.allowedHosts;
  log.info(`accepted Host names (ALLOWED_HOSTS): ${hosts.includes('*') ? 'any (the Host check is off)' : hosts.join(', ')}`);
  if (['0.0.0.0', '::'].includes(config.http.host) && hosts.every((h) => LOOPBACK.has(h))) {
    log.warn('listening on every interface, but only loopback Host names are accepted: set ALLOWED_HOSTS (or PUBLIC_BASE_URL) to the names clients use');
  }
}
