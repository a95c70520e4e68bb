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
 * The error messages are kept wire-compatible with the reference.
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { DomainError } from '../errors.js';

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
// Address classification

/** IPv4 ranges that are not publicly routable (RFC 6890 special-purpose registry and friends). */
const NON_PUBLIC_V4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata lives here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes 255.255.255.255 (broadcast)
] as const) {
  NON_PUBLIC_V4.addSubnet(network, prefix, 'ipv4');
}

function isPublicV4(ip: string): boolean {
  return isIP(ip) === 4 && !NON_PUBLIC_V4.check(ip, 'ipv4');
}

/** Dotted IPv4 text from two 16-bit groups. */
function v4FromGroups(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** Parses IPv6 text (with `::` compression, an embedded dotted IPv4 tail, a zone) into 8 groups. */
function parseV6(text: string): number[] | null {
  let ip = text;
  const zone = ip.indexOf('%');
  if (zone !== -1) ip = ip.slice(0, zone);
  if (isIP(ip) !== 6) return null;

  // An embedded dotted IPv4 tail (`::ffff:127.0.0.1`) becomes two hex groups.
  const lastColon = ip.lastIndexOf(':');
  const tail = ip.slice(lastColon + 1);
  if (tail.includes('.')) {
    const octets = tail.split('.').map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return null;
    const [a, b, c, d] = octets as [number, number, number, number];
    ip = `${ip.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }

  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest] : head;
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  return groups;
}

function isPublicV6(ip: string): boolean {
  const g = parseV6(ip);
  if (g === null) return false;
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const embedded = v4FromGroups(g6, g7);

  // ::ffff:0:0/96, IPv4-mapped: judged by the IPv4 address it carries.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return isPublicV4(embedded);
  // ::ffff:0:0:0/96, IPv4-translated (RFC 2765): same.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0) return isPublicV4(embedded);
  // ::/96 (IPv4-compatible, deprecated), which also covers :: and ::1.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return false;
  // 64:ff9b::/96, NAT64 well-known prefix: judged by the embedded IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isPublicV4(embedded);
  // 64:ff9b:1::/48, NAT64 local-use prefix.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return false;
  // 100::/64, discard-only.
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return false;
  // 2001:db8::/32, documentation.
  if (g0 === 0x2001 && g1 === 0xdb8) return false;
  // 2002::/16, 6to4: judged by the IPv4 address in bits 16..48.
  if (g0 === 0x2002) return isPublicV4(v4FromGroups(g1, g2));
  // 2001::/32, Teredo: the server (bits 32..64) and the obfuscated client (last 32 bits) must be public.
  if (g0 === 0x2001 && g1 === 0) return isPublicV4(v4FromGroups(g2, g3)) && isPublicV4(v4FromGroups(g6 ^ 0xffff, g7 ^ 0xffff));
  // 2001:2::/48 benchmarking; 2001:10::/28 and 2001:20::/28 ORCHID.
  if (g0 === 0x2001 && ((g1 === 2 && g2 === 0) || (g1 & 0xfff0) === 0x10 || (g1 & 0xfff0) === 0x20)) return false;
  // fc00::/7 unique-local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast.
  if ((g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0 || (g0 & 0xff00) === 0xff00) {
    return false;
  }
  // Everything public is inside the global unicast space 2000::/3; the rest is unallocated.
  return (g0 & 0xe000) === 0x2000;
}

/**
 * Whether `ip` is a publicly routable address. Anything that is not a valid IPv4 (dotted decimal)
 * or IPv6 address is reported as not public.
 */
export function isPublicAddress(ip: string): boolean {
  const candidate = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (isIP(candidate) === 4) return isPublicV4(candidate);
  return isPublicV6(candidate);
}

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
      throw new SsrfProtectionError(`URL host '${host}' resolves to a non-public address (${address}) and is blocked.`);
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

function bodyTooLarge(maxBytes: number): Error {
  return new Error(`Response body exceeds ${maxBytes} bytes.`);
}

type Decoder = () => Transform;

/**
 * Inflater for `deflate`: servers send either zlib-wrapped (as the standard says) or raw deflate
 * data, so the first byte picks the decoder (a zlib header has compression method 8 in its low nibble).
 */
class AutoInflate extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.inner === undefined) {
      const inner = (chunk[0]! & 0x0f) === 0x08 ? zlib.createInflate() : zlib.createInflateRaw();
      inner.on('data', (data: Buffer) => this.push(data));
      inner.on('error', (error: Error) => this.destroy(error));
      this.inner = inner;
    }
    this.inner.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    if (this.inner === undefined) {
      callback();
      return;
    }
    this.inner.once('end', () => callback());
    this.inner.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy();
    callback(error);
  }
}

/** The decoders for a Content-Encoding header, in the order they must be applied. */
function decodersFor(contentEncoding: string | undefined): Decoder[] | Error {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity')
    .reverse();
  const decoders: Decoder[] = [];
  for (const coding of codings) {
    if (coding === 'gzip' || coding === 'x-gzip') decoders.push(() => zlib.createGunzip());
    else if (coding === 'deflate') decoders.push(() => new AutoInflate());
    else if (coding === 'br') decoders.push(() => zlib.createBrotliDecompress());
    else return new Error(`Unsupported content-encoding '${coding}'.`);
  }
  return decoders;
}

/** Reads a response to the end, decompressing it, and stops as soon as it exceeds `maxBytes`. */
function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const decoders = decodersFor(res.headers['content-encoding']);
    if (decoders instanceof Error) {
      res.destroy();
      reject(decoders);
      return;
    }
    let stream: Readable = res;
    const streams: Readable[] = [res];
    for (const make of decoders) {
      const decoder = make();
      stream.on('error', (e: Error) => decoder.destroy(e));
      stream = stream.pipe(decoder);
      streams.push(decoder);
    }

    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      for (const s of streams) s.destroy();
      reject(error);
    };
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) {
        fail(bodyTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', (e: Error) => fail(e));
    res.on('close', () => {
      if (!res.complete) fail(new Error('The connection was closed before the response was complete.'));
    });
    stream.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, total));
    });
  });
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
  } finally {
    clearTimeout(timer);
  }
}
