/**
 * Outbound HTTP guard (D19). URL ingestion fetches http(s) URLs that users hand in, so every
 * request is checked before it leaves the server:
 *
 *   1. outbound requests can be switched off entirely (ALLOW_HTTP_REQUESTS=false);
 *   2. only the http and https schemes are accepted;
 *   3. the URL must name a host;
 *   4. an IP-literal host (in any of the numeric forms WHATWG URL parsing normalises, such as
 *      `2130706433`, `0x7f.1` or `127.1`, and bracketed IPv6) must be a public address;
 *   5. a host name is resolved and EVERY address it resolves to must be public.
 *
 * `fetchPublicUrl` then connects to the address that was validated (the DNS answer is pinned, so a
 * rebinding between the check and the connect is impossible), follows redirects by hand and
 * re-validates every hop, and bounds the body size (after decompression) and the total time.
 *
 * The error messages are kept wire-compatible with the reference, except that a refusal after DNS
 * resolution does not name the address the host resolved to, and a failed connection is reported by
 * its error code only (no address).
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { DomainError } from '../errors.js';
import { isPublicAddress } from './addresses.js';
import { bodyTooLarge, readBody } from './bounded-body.js';

/** Raised when a URL is refused by the outbound guard; answered 403 `[SSRFProtectionError]`. */
export class SsrfProtectionError extends DomainError {
  readonly status = 403;

  constructor(message: string) {
    super(message);
    this.name = 'SSRFProtectionError';
  }
}

/** Resolves a host name to every address it has (IPv4 and IPv6, in resolver order). */
export type HostLookup = (host: string) => Promise<string[]>;

export interface OutboundUrlOptions {
  allowHttpRequests: boolean;
  /** Resolver used for host names; defaults to the system resolver (all addresses). */
  lookup?: HostLookup;
}

export interface FetchPublicUrlOptions extends OutboundUrlOptions {
  /** Largest accepted body, counted after decompression. Default 10 MiB. */
  maxBytes?: number;
  /** Budget for the whole fetch, redirects included. Default 15 000 ms. */
  timeoutMs?: number;
  /** Largest number of redirects followed. Default 5. */
  maxRedirects?: number;
  userAgent?: string;
  /**
   * TEST-ONLY. Redirects the TCP connection after validation: called with the validated address
   * and port, it returns where to actually connect. Lets tests validate a fake public name and
   * still reach a loopback test server. Never set it in production code.
   */
  connectOverride?: (address: string, port: number) => { host: string; port: number };
}

export interface FetchedUrl {
  finalUrl: string;
  status: number;
  contentType: string;
  body: Buffer;
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_REDIRECTS = 5;
const DEFAULT_USER_AGENT = 'Engram (URL ingestion)';
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// ------------------------------------------------------------------------------------------------
// URL validation

async function systemLookup(host: string): Promise<string[]> {
  const answers: LookupAddress[] = await dns.lookup(host, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}

/** The scheme of a string that WHATWG URL parsing rejected, if it has one. */
function schemeOf(text: string): string | undefined {
  return /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
}

/**
 * Checks a URL against the outbound policy and returns it parsed, with the addresses it may be
 * fetched from (every one of them public). Throws SsrfProtectionError otherwise.
 */
export async function validateOutboundUrl(url: string, opts: OutboundUrlOptions): Promise<{ url: URL; addresses: string[] }> {
  if (!opts.allowHttpRequests) {
    throw new SsrfProtectionError('Outbound HTTP requests are disabled (ALLOW_HTTP_REQUESTS=false).');
  }

  let parsed: URL | undefined;
  try {
    parsed = new URL(url.trim());
  } catch {
    parsed = undefined;
  }
  const scheme = parsed !== undefined ? parsed.protocol.replace(/:$/, '') : schemeOf(url);
  if (scheme !== 'http' && scheme !== 'https') {
    throw new SsrfProtectionError(`URL scheme '${scheme ?? ''}' is not allowed; only http/https are permitted.`);
  }
  if (parsed === undefined || parsed.hostname === '') {
    throw new SsrfProtectionError('URL does not contain a valid host.');
  }

  // WHATWG parsing has already turned numeric IPv4 forms into dotted form and wraps IPv6 in [].
  const host = parsed.hostname.startsWith('[') && parsed.hostname.endsWith(']') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (isIP(host) !== 0) {
    if (!isPublicAddress(host)) {
      throw new SsrfProtectionError(`URL host '${host}' points to a non-public address and is blocked.`);
    }
    return { url: parsed, addresses: [host] };
  }

  let addresses: string[];
  try {
    addresses = await (opts.lookup ?? systemLookup)(host);
  } catch {
    addresses = [];
  }
  if (addresses.length === 0) {
    throw new SsrfProtectionError(`Could not resolve URL host '${host}'.`);
  }
  for (const address of addresses) {
    if (!isPublicAddress(address)) {
      // The address is not named: a client must not learn what internal names resolve to.
      throw new SsrfProtectionError(`URL host '${host}' resolves to a non-public address and is blocked.`);
    }
  }
  return { url: parsed, addresses };
}

// ------------------------------------------------------------------------------------------------
// Fetching

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that always answers with the one address that was validated. */
function pinnedLookup(address: string) {
  const family = isIP(address) === 6 ? 6 : 4;
  return (_hostname: string, options: { all?: boolean } | number | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
    const all = typeof options === 'object' && options !== null && options.all === true;
    if (all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  };
}

/** Sends one GET to the pinned address and resolves with the response (headers received). */
function requestOnce(
  target: URL,
  address: string,
  opts: FetchPublicUrlOptions,
  userAgent: string,
  signal: AbortSignal,
): Promise<{ res: IncomingMessage; req: http.ClientRequest }> {
  const isHttps = target.protocol === 'https:';
  const hostname = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const port = target.port !== '' ? Number(target.port) : isHttps ? 443 : 80;
  const connect = opts.connectOverride ? opts.connectOverride(address, port) : { host: hostname, port };
  const pinTo = opts.connectOverride ? connect.host : address;

  const options: https.RequestOptions = {
    method: 'GET',
    host: connect.host,
    port: connect.port,
    path: `${target.pathname}${target.search}`,
    headers: {
      host: target.host,
      'user-agent': userAgent,
      accept: '*/*',
      'accept-encoding': 'gzip, deflate, br',
    },
    // The connection goes to the validated address whatever DNS says now.
    lookup: pinnedLookup(pinTo) as unknown as http.RequestOptions['lookup'],
    agent: false,
    signal,
  };
  // TLS: SNI and certificate checks use the host name (SNI may not carry an IP literal).
  if (isHttps && isIP(hostname) === 0) options.servername = hostname;

  return new Promise((resolve, reject) => {
    const req = (isHttps ? https : http).request(options, (res) => resolve({ res, req }));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Fetches a public http(s) URL under the outbound policy: each hop is validated and pinned to its
 * validated address, redirects are followed by hand (at most `maxRedirects`), the body is bounded
 * by `maxBytes` after decompression, and the whole fetch by `timeoutMs`. A non-2xx final status is
 * an error naming the URL that answered it.
 */
export async function fetchPublicUrl(url: string, opts: FetchPublicUrlOptions): Promise<FetchedUrl> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;

  const controller = new AbortController();
  const timeoutError = new Error(`Fetching ${url} timed out after ${timeoutMs} ms.`);
  const timer = setTimeout(() => controller.abort(timeoutError), timeoutMs);
  /** Waits for `work`, giving up with the timeout error once the budget is spent. */
  const withTimeout = <T>(work: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(timeoutError);
      if (controller.signal.aborted) {
        onAbort();
        return;
      }
      controller.signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (value) => {
          controller.signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          controller.signal.removeEventListener('abort', onAbort);
          reject(controller.signal.aborted ? timeoutError : error);
        },
      );
    });

  try {
    let current = url;
    for (let hop = 0; ; hop++) {
      const { url: target, addresses } = await withTimeout(validateOutboundUrl(current, opts));
      const address = addresses[0]!;
      const { res } = await withTimeout(requestOnce(target, address, opts, userAgent, controller.signal));
      const status = res.statusCode ?? 0;
      const location = res.headers.location;

      if (REDIRECT_STATUSES.has(status) && location !== undefined && location !== '') {
        res.destroy();
        if (hop >= maxRedirects) {
          throw new Error(`Too many redirects while fetching ${url} (more than ${maxRedirects}).`);
        }
        let next: URL;
        try {
          next = new URL(location, target);
        } catch {
          throw new SsrfProtectionError('URL does not contain a valid host.');
        }
        current = next.href;
        continue;
      }

      if (status < 200 || status > 299) {
        res.destroy();
        throw new Error(`Fetching ${target.href} failed with HTTP ${status}.`);
      }
      const declared = Number(res.headers['content-length']);
      if (res.headers['content-encoding'] === undefined && Number.isFinite(declared) && declared > maxBytes) {
        res.destroy();
        throw bodyTooLarge(maxBytes);
      }
      const body = await withTimeout(readBody(res, maxBytes));
      return {
        finalUrl: target.href,
        status,
        contentType: res.headers['content-type'] ?? '',
        body,
      };
    }
  } catch (error) {
    throw withoutSystemDetails(error, url);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A system error of the connection, TLS or decompression (`connect ECONNREFUSED 203.0.113.7:443`)
 * names addresses the server resolved; the client gets its code only. The guard's own errors carry
 * no `code` and pass as they are.
 */
function withoutSystemDetails(error: unknown, url: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (!(error instanceof Error) || error instanceof DomainError || typeof code !== 'string') return error;
  return new Error(`Fetching ${url} failed (${/^[A-Z0-9_]{1,40}$/.test(code) ? code : 'connection error'}).`);
}
