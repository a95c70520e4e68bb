/**
 * Section 6 of `npm run bench`: Engram's authenticated route against a hand-rolled peer.
 *
 * The peer (bench/peer-server.ts) is Fastify + @fastify/jwt with one route that verifies an HS256
 * bearer token (same secret length, same audience check, a token of the same size: Engram's own
 * header and claims signed with the peer's secret) and answers a small JSON object; it has no
 * revocation, no database, no logger and no other hook. Engram is the real server on SQLite with its
 * default settings (credential cache, rate limits, request guard, CORS, cookies, security headers),
 * measured at LOG_LEVEL=info (its default: one access log line per request) and at LOG_LEVEL=warn.
 * Each Engram server and the peer alternate in ABBA slices (bench/run.ts `compare`); the measure is
 * the server CPU per request, Engram's ÷ the peer's (median of the pairs), against ≤ 1.1.
 *
 * BENCH_AUTH_PEER=0 skips the section; BENCH_AUTH_PEER=only runs it alone (no other section, the
 * report printed and written only to BENCH_OUTPUT when set).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { AUTH_AUDIENCE } from '../src/auth/tokens.js';
import { fmt, median, table, verdict } from './format.js';
import type { BenchServer } from './bench-server.js';
import type { Comparison, Credentials, LoadTarget, Target } from './run.js';

export const AUTH_PEER = (() => {
  const choice = (process.env.BENCH_AUTH_PEER ?? '1').toLowerCase();
  if (choice === '1' || choice === 'only' || choice === '0') return choice;
  throw new Error(`BENCH_AUTH_PEER must be 1, 0 or only, got ${JSON.stringify(choice)}`);
})();

/** Engram's CPU per request on the bearer route may be at most this multiple of the peer's. */
export const PEER_CPU_TARGET = 1.1;

/** What the section borrows from bench/run.ts, so it is measured with the same machinery as section 1. */
export interface PeerKit {
  /** Starts a server process (bench/server.ts unless `script` names another), stopped with the run. */
  readonly start: (name: string, env?: Record<string, string>, script?: string) => Promise<BenchServer>;
  readonly makeCredentials: (base: string) => Promise<Credentials>;
  readonly warmUp: (target: LoadTarget) => Promise<unknown>;
  readonly compare: (label: string, base: LoadTarget, subject: LoadTarget) => Promise<Comparison>;
}

const ROUTE = '/api/v1/auth/me';

/** Engram's variants, each compared with the peer. The first is the one checked against the target. */
const VARIANTS = [
  { name: 'engram-info', logLevel: 'info', label: 'LOG_LEVEL=info (the default: one access log line per request)' },
  { name: 'engram-warn', logLevel: 'warn', label: 'LOG_LEVEL=warn (no access log line)' },
] as const;

interface VariantResult {
  readonly label: string;
  readonly comparison: Comparison;
  /** Engram's CPU per request ÷ the peer's, per pair of slices. */
  readonly pairCpuRatios: number[];
  readonly cpuRatio: number;
}

/** Engram's token with the peer's secret: the same header and claims, so the same bytes to parse and check. */
function resign(token: string, secret: string): string {
  const [header, payload] = token.split('.');
  if (!header || !payload) throw new Error('the bearer token is not a compact JWS');
  return `${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`;
}

async function status(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.text() };
}

async function startPeer(kit: PeerKit, engramToken: string): Promise<{ server: BenchServer; token: string }> {
  // Engram's generated secret: 32 random bytes, base64url (43 characters).
  const secret = randomBytes(32).toString('base64url');
  const server = await kit.start('fastify-jwt-peer', { PEER_JWT_SECRET: secret, PEER_JWT_AUDIENCE: AUTH_AUDIENCE }, 'peer-server.ts');
  const token = resign(engramToken, secret);
  // The peer must really verify: its token is accepted, Engram's (another secret) refused.
  const good = await status(server.url + ROUTE, { authorization: `Bearer ${token}` });
  const bad = await status(server.url + ROUTE, { authorization: `Bearer ${engramToken}` });
  if (good.status !== 200 || bad.status !== 401) {
    throw new Error(`the peer answered ${good.status} ${good.body} to its token and ${bad.status} ${bad.body} to a foreign one`);
  }
  return { server, token };
}

export async function authPeerBench(kit: PeerKit): Promise<{ lines: string[]; target: Target }> {
  const results: VariantResult[] = [];
  let peer: { server: BenchServer; token: string } | undefined;
  for (const variant of VARIANTS) {
    // Engram's defaults (rate limits on), but for the log level under test.
    const engram = await kit.start(variant.name, { LOG_LEVEL: variant.logLevel, RATE_LIMIT_ENABLED: 'true' });
    const creds = await kit.makeCredentials(engram.url);
    peer ??= await startPeer(kit, creds.bearer);
    const peerTarget: LoadTarget = { server: peer.server, path: ROUTE, headers: { authorization: `Bearer ${peer.token}` } };
    const engramTarget: LoadTarget = { server: engram, path: ROUTE, headers: { authorization: `Bearer ${creds.bearer}` } };
    await kit.warmUp(peerTarget);
    await kit.warmUp(engramTarget);
    const comparison = await kit.compare(`GET ${ROUTE}, bearer, ${variant.logLevel} vs Fastify + @fastify/jwt`, peerTarget, engramTarget);
    await engram.stop();
    const pairCpuRatios = comparison.case.slices.map(
      (c, i) => c.serverCpuUs / c.requests / (comparison.base.slices[i]!.serverCpuUs / comparison.base.slices[i]!.requests),
    );
    results.push({ label: variant.label, comparison, pairCpuRatios, cpuRatio: median(pairCpuRatios) });
  }
  await peer?.server.stop();

  const checked = results[0]!;
  const target: Target = {
    what: `Server CPU per request, Engram GET ${ROUTE} with a bearer token (${VARIANTS[0].logLevel}) ÷ Fastify + @fastify/jwt`,
    measured: fmt(checked.cpuRatio, 2),
    target: `≤ ${PEER_CPU_TARGET}`,
    ok: checked.cpuRatio <= PEER_CPU_TARGET,
  };
  const lines = [
    '## 6. Engram against a minimal Fastify + @fastify/jwt route',
    '',
    `The peer (bench/peer-server.ts) is a hand-rolled Fastify server with @fastify/jwt: \`GET ${ROUTE}\` verifies an HS256 bearer ` +
      "token (a 43-character secret as Engram generates, the same audience check, and a token of the same size: Engram's own " +
      "header and claims signed with the peer's secret) and answers `{id}`. It has no revocation, no database, no logger and no other " +
      `hook. Engram is the real server on SQLite with its default settings (credential cache, rate limits on), \`GET ${ROUTE}\` ` +
      'with a bearer token, at two log levels. Each Engram server and the peer alternate in slices as in section 1 (peer first, then ' +
      'Engram, then the other way round); the measure is the server CPU per request, **Engram ÷ peer, median of the pairs**.',
    '',
    ...table(
      ['Engram', 'Req/s Engram / peer', 'p99 ms Engram / peer', 'Server CPU µs/req Engram / peer', 'CPU ratio (median)', 'Pairs', 'Target'],
      ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
      results.map((r, i) => [
        r.label,
        `${fmt(r.comparison.case.rps)} / ${fmt(r.comparison.base.rps)}`,
        `${fmt(r.comparison.case.p99)} / ${fmt(r.comparison.base.p99)}`,
        `${fmt(r.comparison.case.cpuPerRequestUs, 1)} / ${fmt(r.comparison.base.cpuPerRequestUs, 1)}`,
        `**${fmt(r.cpuRatio, 2)}**`,
        `${fmt(Math.min(...r.pairCpuRatios), 2)}–${fmt(Math.max(...r.pairCpuRatios), 2)}`,
        i === 0 ? `≤ ${PEER_CPU_TARGET}: ${verdict(target.ok)}` : '(informative)',
      ]),
    ),
  ];
  return { lines, target };
}
