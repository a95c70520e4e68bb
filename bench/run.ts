/**
 * `npm run bench`: what authentication costs per request, measured against the real server.
 *
 *  1. Requests/s of a bare route (GET /, no auth) as the baseline, then GET /api/v1/auth/me with a
 *     bearer token, an API key and the cookie, each as a ratio to the baseline — on SQLite and on a
 *     fresh PostgreSQL database. Each case and the baseline alternate in short slices (ABBA pairs),
 *     so drift and bursts of outside load favour neither; the ratio is the median of the pairs'.
 *     Also the baseline on a server with LOG_LEVEL=info, against LOG_LEVEL=warn.
 *  2. Login latency (sequential, and at low concurrency) on SQLite.
 *  3. Event-loop delay p99 inside the server while logins run 50 at a time.
 *  4. The per-request cost of the reference's API-key check (PBKDF2-HMAC-SHA256, 600,000 rounds)
 *     against ours (SHA-256 + one indexed lookup).
 *  5. Bearer checks during a login storm with the credential cache off (AUTH_CACHE_TTL_SECONDS=0,
 *     SQLite): every request verifies the JWT and queries the user while 50 logins at a time keep
 *     argon2 busy on libuv's thread pool; the bearer latency p50/p99 against its target.
 *  6. Server CPU per request of GET /api/v1/auth/me with a bearer token against a minimal Fastify +
 *     @fastify/jwt route (bench/auth-peer.ts).
 *
 * The server runs in its own process (bench/server.ts → startEngram, port 0) and reports over IPC
 * (URL, its CPU time, its event-loop delay); autocannon drives it from this process. Results are
 * printed and written to docs/benchmarks.md. Exit code 1 when a target is missed (the report is
 * written either way).
 *
 * Environment:
 *   BENCH_DURATION     seconds of load per case and per baseline (default 10)
 *   BENCH_SLICES       pairs of slices those seconds are cut into (default 5)
 *   BENCH_WARMUP       seconds of warm-up over all measured routes (default 2)
 *   BENCH_CONNECTIONS  autocannon connections (default 50)
 *   BENCH_DB           both | sqlite | postgres (default both)
 *   BENCH_QUIET_WAIT   seconds the whole run may wait, before measurements, for other processes to
 *                      leave the CPUs alone (default 60; 0 = never wait)
 *   BENCH_CPU_PROF_DIR write a V8 CPU profile of the server's first pair of slices of every
 *                      comparison there (the profiler slows the server: figures for attribution only)
 *   BENCH_VERBOSE=1    print every slice
 *   BENCH_OUTPUT       report path (default docs/benchmarks.md; next to the profiles when profiling)
 *   BENCH_PERMISSIONS=0 skip the permission-resolution section (bench/permissions.ts)
 *   BENCH_AUTH_PEER=0  skip section 6 (bench/auth-peer.ts: Engram against Fastify + @fastify/jwt); =only runs it alone
 *   BENCH_MEMORY=0     skip the memory-engine section (bench/memory.ts; BENCH_MEMORY_DOCS, BENCH_MEMORY_SAMPLES)
 *   BENCH_CYPHER=0     skip the Cypher sandbox section (bench/cypher.ts; BENCH_CYPHER_SAMPLES)
 *   BENCH_SESSIONS=0   skip the agent sessions section (bench/sessions.ts; BENCH_SESSIONS_SECONDS, BENCH_SESSIONS_PAIRS)
 *   BENCH_LOAD=0       skip the load section (bench/load.ts; BENCH_LOAD_USERS, BENCH_LOAD_DATASETS, BENCH_LOAD_SHARES,
 *                      BENCH_LOAD_PDF_PAGES)
 *   ENGRAM_TEST_PG_HOST / _PORT / _USER  the PostgreSQL server (default 127.0.0.1:5432, postgres); a
 *                      fresh database is created for the run and dropped after it
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import autocannon, { type Request as LoadRequest, type Result } from 'autocannon';
import { sha256Hex } from '../src/auth/api-keys.js';
import { createPgDatabase } from '../test/helpers/harness.js';
import { authPeerBench, AUTH_PEER, type PeerKit } from './auth-peer.js';
import { fmt, median, table, verdict } from './format.js';
import { cypherBench } from './cypher.js';
import { sessionBench } from './sessions.js';
import { BenchServer, REPO } from './bench-server.js';
import { loadBench } from './load.js';
import { memoryBench } from './memory.js';
import { permissionBench } from './permissions.js';
import type { EldReport } from './protocol.js';

// ---------------------------------------------------------------------------------------------
// Settings.

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const DURATION = envNumber('BENCH_DURATION', 10, 1);
/** Each comparison runs as this many A/B pairs of slices (ABBA order), DURATION / SLICES seconds each. */
const SLICES = Math.round(envNumber('BENCH_SLICES', 5, 1));
const SLICE_SECONDS = DURATION / SLICES;
/** A pair during which other processes used more than this share of one CPU is run again, within REDO_BUDGET pairs per run. */
const NOISY_PERCENT = 25;
const REDO_BUDGET = 2 * SLICES;
const WARMUP = envNumber('BENCH_WARMUP', 2, 0);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 50, 1);
const PIPELINING = 1;
const SEQUENTIAL_LOGINS = 100;
const LOW_CONCURRENCY = 4;
const LOW_CONCURRENCY_LOGINS = 100;
const STORM_LOGINS = 200;
const STORM_CONCURRENCY = 50;
const ELD_TARGET_MS = 50;
/** Section 5: bearer connections beside a storm of STORM_LOGINS logins, and the bearer p99 target. */
const STORM_BEARER_CONNECTIONS = 10;
const STORM_BEARER_P99_TARGET_MS = 50;
const TARGETS = { sqlite: 0.7, postgres: 0.5 } as const;
const PBKDF2 = { iterations: 600_000, salt: 'cognee-api-key-v1', keyLength: 32, digest: 'sha256', runs: 5 } as const;
const BACKENDS = (() => {
  const choice = (process.env.BENCH_DB ?? 'both').toLowerCase();
  if (choice === 'both') return ['sqlite', 'postgres'] as const;
  if (choice === 'sqlite' || choice === 'postgres') return [choice] as const;
  throw new Error(`BENCH_DB must be both, sqlite or postgres, got ${JSON.stringify(choice)}`);
})();
const VERBOSE = process.env.BENCH_VERBOSE === '1';
const QUIET_WAIT_BUDGET_MS = envNumber('BENCH_QUIET_WAIT', 60, 0) * 1000;
/** Other processes using less than this share of one CPU count as a quiet machine. */
const QUIET_PERCENT = 10;
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR ? resolve(process.env.BENCH_CPU_PROF_DIR) : undefined;
/** A profiled run's figures are not representative, so by default its report goes next to the profiles. */
const OUTPUT = resolve(REPO, process.env.BENCH_OUTPUT ?? (CPU_PROF_DIR ? join(CPU_PROF_DIR, 'benchmarks.md') : 'docs/benchmarks.md'));

type Backend = 'sqlite' | 'postgres';

// ---------------------------------------------------------------------------------------------
// Credentials, made through the HTTP API like any client.

export interface Credentials {
  readonly email: string;
  readonly password: string;
  readonly bearer: string;
  readonly apiKey: string;
  /** From a second login, so the cookie is its own session (as a browser's would be). */
  readonly cookie: string;
}

async function call(url: string, init: RequestInit, expected: number): Promise<{ body: any; response: Response }> {
  const response = await fetch(url, init);
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${init.method ?? 'GET'} ${url}: expected ${expected}, got ${response.status} ${text}`);
  return { body: text === '' ? undefined : JSON.parse(text), response };
}

async function makeCredentials(base: string): Promise<Credentials> {
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const password = `bench-${randomBytes(12).toString('base64url')}`;
  await call(
    `${base}/api/v1/auth/register`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    },
    201,
  );
  const login = () => call(`${base}/api/v1/auth/login`, { method: 'POST', body: new URLSearchParams({ username: email, password }) }, 200);
  const first = await login();
  const bearer = first.body.access_token as string;
  const second = await login();
  const setCookie = second.response.headers.getSetCookie().find((c) => c.startsWith('auth_token='));
  if (!setCookie) throw new Error('login set no auth_token cookie');
  const cookie = setCookie.split(';', 1)[0]!.slice('auth_token='.length);
  if (cookie === bearer) throw new Error('two logins returned the same token');
  const key = await call(
    `${base}/api/v1/auth/api-keys`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    },
    200,
  );
  const creds: Credentials = { email, password, bearer, apiKey: key.body.key as string, cookie };
  // Each credential must authenticate as this user before it is measured.
  for (const headers of Object.values(authHeaders(creds))) {
    const me = await call(`${base}/api/v1/auth/me`, { headers }, 200);
    if (me.body?.email !== email) throw new Error(`/auth/me answered ${JSON.stringify(me.body)} for ${email}`);
  }
  return creds;
}

function authHeaders(creds: Credentials) {
  return {
    bearer: { authorization: `Bearer ${creds.bearer}` },
    apiKey: { 'x-api-key': creds.apiKey },
    cookie: { cookie: `auth_token=${creds.cookie}` },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/** One slice of load against one route: what autocannon and the CPU counters saw. */
export interface Slice {
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Server process CPU time (user + system) during the slice, µs. */
  readonly serverCpuUs: number;
  /**
   * CPU used during the slice by processes other than this one and the server (PostgreSQL's
   * backends included), in % of one CPU; undefined where /proc/stat is not available.
   */
  readonly otherCpuPercent: number | undefined;
}

/** CPU time the whole machine spent busy so far, in µs (Linux /proc/stat; USER_HZ is 100). */
function machineBusyMicros(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((f) => !Number.isFinite(f))) return undefined;
    const idle = fields[3]! + fields[4]!;
    const total = fields.reduce((a, b) => a + b, 0);
    return (total - idle) * 10_000;
  } catch {
    return undefined;
  }
}

function ownCpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

function checkClean(label: string, result: Result) {
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(
      `${label}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers ` +
        `(${JSON.stringify(result.statusCodeStats)}); the figures would be meaningless`,
    );
  }
}

function progress(line: string) {
  process.stderr.write(`  · ${line}\n`);
}

const quiet = { waitedMs: 0, notQuiet: 0, redone: 0 };

/**
 * Before a measurement: waits (within the run's budget) until processes other than ours use less
 * than QUIET_PERCENT of one CPU over half a second. The servers are idle then, so what is busy is
 * someone else (a test suite, a build).
 */
async function awaitQuiet(servers: BenchServer[]): Promise<void> {
  let announced = false;
  while (true) {
    const serverBefore = await Promise.all(servers.map((s) => s.cpuMicros()));
    const machineBefore = machineBusyMicros();
    const ownBefore = ownCpuMicros();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 500));
    const elapsedUs = (performance.now() - t0) * 1000;
    const machineAfter = machineBusyMicros();
    const ownAfter = ownCpuMicros();
    const serverAfter = await Promise.all(servers.map((s) => s.cpuMicros()));
    if (machineBefore === undefined || machineAfter === undefined) return;
    const serverUs = serverAfter.reduce((a, x, i) => a + x - serverBefore[i]!, 0);
    const other = (100 * (machineAfter - machineBefore - (ownAfter - ownBefore) - serverUs)) / elapsedUs;
    if (other < QUIET_PERCENT) return;
    if (quiet.waitedMs >= QUIET_WAIT_BUDGET_MS) {
      quiet.notQuiet += 1;
      return;
    }
    if (!announced) {
      progress(`other processes are using ${fmt(other)}% of a CPU; waiting for quiet`);
      announced = true;
    }
    quiet.waitedMs += elapsedUs / 1000 + 500;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface LoadTarget {
  readonly server: BenchServer;
  readonly path: string;
  readonly headers: Record<string, string>;
}

let profileCount = 0;

async function slice(label: string, target: LoadTarget, profile: boolean): Promise<Slice> {
  const { server } = target;
  if (profile) await server.profileStart();
  const cpuBefore = await server.cpuMicros();
  const machineBefore = machineBusyMicros();
  const ownBefore = ownCpuMicros();
  const wallBefore = performance.now();
  const result = await autocannon({
    url: server.url + target.path,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: SLICE_SECONDS,
    headers: target.headers,
  });
  const wallMicros = (performance.now() - wallBefore) * 1000;
  const ownAfter = ownCpuMicros();
  const machineAfter = machineBusyMicros();
  const cpuAfter = await server.cpuMicros();
  if (profile) {
    profileCount += 1;
    const slug = `${server.name}-${label}`
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    const file = join(CPU_PROF_DIR!, `${String(profileCount).padStart(2, '0')}-${slug}-${result.requests.total}req.cpuprofile`);
    await server.profileStop(file);
    progress(`profile written to ${file}`);
  }
  checkClean(`${server.name}: ${label}`, result);
  return {
    seconds: result.duration,
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverCpuUs: cpuAfter - cpuBefore,
    otherCpuPercent:
      machineBefore === undefined || machineAfter === undefined
        ? undefined
        : Math.max(0, (100 * (machineAfter - machineBefore - (ownAfter - ownBefore) - (cpuAfter - cpuBefore))) / wallMicros),
  };
}

/** Several slices of one route, summed up. */
export interface Series {
  readonly slices: Slice[];
  /** Total requests over total seconds. */
  readonly rps: number;
  /** Median of the slices' p50. */
  readonly p50: number;
  /** Worst of the slices' p99. */
  readonly p99: number;
  readonly cpuPerRequestUs: number;
  readonly otherCpuMean: number | undefined;
  readonly otherCpuMax: number | undefined;
}

function series(slices: Slice[]): Series {
  const requests = slices.reduce((a, x) => a + x.requests, 0);
  const others = slices.map((x) => x.otherCpuPercent).filter((x): x is number => x !== undefined);
  return {
    slices,
    rps: requests / slices.reduce((a, x) => a + x.seconds, 0),
    p50: median(slices.map((x) => x.p50)),
    p99: Math.max(...slices.map((x) => x.p99)),
    cpuPerRequestUs: slices.reduce((a, x) => a + x.serverCpuUs, 0) / requests,
    otherCpuMean: others.length ? others.reduce((a, x) => a + x, 0) / others.length : undefined,
    otherCpuMax: others.length ? Math.max(...others) : undefined,
  };
}

/** A measured case against its baseline. */
export interface Comparison {
  readonly label: string;
  readonly base: Series;
  readonly case: Series;
  /** The median of the pair ratios: what the targets are checked against (robust to a one-off stall on either side). */
  readonly ratio: number;
  /** case requests/s ÷ baseline requests/s over all slices together. */
  readonly aggregateRatio: number;
  /** The same ratio for each A/B pair on its own. */
  readonly pairRatios: number[];
  /** Baseline server CPU per request ÷ the case's (informative). */
  readonly cpuRatio: number;
  /** Pairs run again because other processes were busy during them. */
  readonly redone: number;
}

/**
 * SLICES pairs of (baseline, case) slices in ABBA order (B C, C B, B C, ...), so drift over the
 * comparison cancels out and both sides see the same conditions. A pair during which other
 * processes were busy is run again, within the run's REDO_BUDGET.
 */
async function compare(label: string, base: LoadTarget, subject: LoadTarget): Promise<Comparison> {
  const baseSlices: Slice[] = [];
  const caseSlices: Slice[] = [];
  const pairRatios: number[] = [];
  let redone = 0;
  const servers = [...new Set([base.server, subject.server])];
  for (let pair = 0; pairRatios.length < SLICES; pair++) {
    await awaitQuiet(servers);
    const profile = CPU_PROF_DIR !== undefined && pair === 0;
    let b: Slice;
    let c: Slice;
    if (pairRatios.length % 2 === 0) {
      b = await slice('baseline', base, profile);
      c = await slice(label, subject, profile);
    } else {
      c = await slice(label, subject, profile);
      b = await slice('baseline', base, profile);
    }
    const noisiest = Math.max(b.otherCpuPercent ?? 0, c.otherCpuPercent ?? 0);
    if (noisiest > NOISY_PERCENT && quiet.redone < REDO_BUDGET) {
      redone += 1;
      quiet.redone += 1;
      progress(`${label}: other processes used ${fmt(noisiest)}% of a CPU during a pair; running it again`);
      continue;
    }
    baseSlices.push(b);
    caseSlices.push(c);
    pairRatios.push(c.rps / b.rps);
    if (VERBOSE) {
      progress(
        `  pair ${pairRatios.length}: baseline ${fmt(b.rps)} req/s (${fmt(b.serverCpuUs / b.requests, 1)} µs/req), ` +
          `case ${fmt(c.rps)} req/s (${fmt(c.serverCpuUs / c.requests, 1)} µs/req), ratio ${fmt(c.rps / b.rps, 2)}, other ${fmt(noisiest)}%`,
      );
    }
  }
  const baseSeries = series(baseSlices);
  const caseSeries = series(caseSlices);
  const result: Comparison = {
    label,
    base: baseSeries,
    case: caseSeries,
    ratio: median(pairRatios),
    aggregateRatio: caseSeries.rps / baseSeries.rps,
    pairRatios,
    cpuRatio: baseSeries.cpuPerRequestUs / caseSeries.cpuPerRequestUs,
    redone,
  };
  progress(
    `${subject.server.name}: ${label}: ${fmt(caseSeries.rps)} req/s against ${fmt(baseSeries.rps)} (ratio ${fmt(result.ratio, 2)}, ` +
      `aggregate ${fmt(result.aggregateRatio, 2)}, pairs ${fmt(Math.min(...pairRatios), 2)}–${fmt(Math.max(...pairRatios), 2)}), server CPU ${fmt(caseSeries.cpuPerRequestUs, 1)} ` +
      `against ${fmt(baseSeries.cpuPerRequestUs, 1)} µs/req` +
      (caseSeries.otherCpuMax === undefined ? '' : `, other processes ≤ ${fmt(Math.max(caseSeries.otherCpuMax, baseSeries.otherCpuMax ?? 0))}% of a CPU`),
  );
  return result;
}

/** Returns how many requests it sent. */
async function warmUp(server: BenchServer, creds: Credentials | undefined): Promise<number> {
  const requests: LoadRequest[] = [{ method: 'GET', path: '/' }];
  if (creds) {
    for (const headers of Object.values(authHeaders(creds))) requests.push({ method: 'GET', path: '/api/v1/auth/me', headers });
  }
  return warmUpRoutes(server, requests);
}

/** BENCH_WARMUP seconds of load over these requests of one server; returns how many it sent. */
async function warmUpRoutes(server: BenchServer, requests: LoadRequest[]): Promise<number> {
  if (WARMUP <= 0) return 0;
  const result = await autocannon({ url: server.url, connections: CONNECTIONS, pipelining: PIPELINING, duration: WARMUP, requests });
  checkClean(`${server.name} warm-up`, result);
  return result.requests.total;
}

interface CaseResult extends Comparison {
  readonly name: 'bearer' | 'apiKey' | 'cookie';
}

interface BackendResult {
  readonly backend: Backend;
  readonly cases: CaseResult[];
}

const CASES = [
  { name: 'bearer', label: 'GET /api/v1/auth/me, bearer token' },
  { name: 'apiKey', label: 'GET /api/v1/auth/me, API key (X-Api-Key)' },
  { name: 'cookie', label: 'GET /api/v1/auth/me, cookie' },
] as const;

async function authThroughput(backend: Backend, server: BenchServer, creds: Credentials): Promise<BackendResult> {
  await warmUp(server, creds);
  const headers = authHeaders(creds);
  const base: LoadTarget = { server, path: '/', headers: {} };
  const cases: CaseResult[] = [];
  for (const c of CASES) {
    cases.push({ name: c.name, ...(await compare(c.label, base, { server, path: '/api/v1/auth/me', headers: headers[c.name] })) });
  }
  return { backend, cases };
}

interface LoginRun {
  readonly label: string;
  readonly logins: number;
  readonly concurrency: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly perSecond: number;
}

async function logins(server: BenchServer, creds: Credentials, label: string, amount: number, concurrency: number): Promise<LoginRun> {
  const result = await autocannon({
    url: `${server.url}/api/v1/auth/login`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: creds.email, password: creds.password }).toString(),
    connections: concurrency,
    pipelining: 1,
    amount,
    timeout: 60,
  });
  checkClean(label, result);
  if (result.requests.total !== amount) throw new Error(`${label}: ${result.requests.total} of ${amount} logins completed`);
  const run: LoginRun = {
    label,
    logins: amount,
    concurrency,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    perSecond: result.requests.total / result.duration,
  };
  progress(`${server.name}: ${label}: p50 ${run.p50} ms, p99 ${run.p99} ms, ${fmt(run.perSecond, 1)} logins/s`);
  return run;
}

interface LoginResult {
  readonly sequential: LoginRun;
  readonly lowConcurrency: LoginRun;
  readonly storm: LoginRun;
  readonly idleEld: EldReport;
  readonly stormEld: EldReport;
}

async function loginBench(server: BenchServer, creds: Credentials): Promise<LoginResult> {
  await logins(server, creds, 'login warm-up', 10, 1);
  await awaitQuiet([server]);
  const sequential = await logins(server, creds, `${SEQUENTIAL_LOGINS} sequential logins`, SEQUENTIAL_LOGINS, 1);
  const lowConcurrency = await logins(server, creds, `${LOW_CONCURRENCY_LOGINS} logins, ${LOW_CONCURRENCY} at a time`, LOW_CONCURRENCY_LOGINS, LOW_CONCURRENCY);
  await awaitQuiet([server]);
  server.eldStart();
  await new Promise((r) => setTimeout(r, 1000));
  const idleEld = await server.eldStop();
  await awaitQuiet([server]);
  server.eldStart();
  const storm = await logins(server, creds, `login storm: ${STORM_LOGINS} logins, ${STORM_CONCURRENCY} at a time`, STORM_LOGINS, STORM_CONCURRENCY);
  const stormEld = await server.eldStop();
  progress(`${server.name}: event-loop delay during the storm: p99 ${fmt(stormEld.p99Ms, 1)} ms, max ${fmt(stormEld.maxMs, 1)} ms`);
  return { sequential, lowConcurrency, storm, idleEld, stormEld };
}

interface StormBearerResult {
  readonly logins: number;
  readonly loginP50: number;
  readonly bearerRequests: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Section 5: GET /api/v1/auth/me with a bearer token, STORM_BEARER_CONNECTIONS at a time, while
 * STORM_LOGINS logins run STORM_CONCURRENCY at a time, on a server with the credential
 * cache off, so every bearer request checks the signature and queries the user.
 */
async function bearerDuringStorm(server: BenchServer, creds: Credentials): Promise<StormBearerResult> {
  await logins(server, creds, 'login warm-up (cache off)', 10, 1);
  await awaitQuiet([server]);
  // The bearer checks run until the storm's last login has answered.
  const bearerRun = autocannon({
    url: `${server.url}/api/v1/auth/me`,
    headers: authHeaders(creds).bearer,
    connections: STORM_BEARER_CONNECTIONS,
    pipelining: 1,
    duration: 600,
  });
  const storm = await autocannon({
    url: `${server.url}/api/v1/auth/login`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: creds.email, password: creds.password }).toString(),
    connections: STORM_CONCURRENCY,
    pipelining: 1,
    amount: STORM_LOGINS,
    timeout: 120,
  });
  bearerRun.stop();
  const bearer = await bearerRun;
  checkClean('login storm beside bearer checks', storm);
  checkClean('bearer checks during a login storm', bearer);
  const result: StormBearerResult = {
    logins: storm.requests.total,
    loginP50: storm.latency.p50,
    bearerRequests: bearer.requests.total,
    p50: bearer.latency.p50,
    p99: bearer.latency.p99,
    max: bearer.latency.max,
  };
  progress(
    `${server.name}: bearer checks during a login storm, cache off: p50 ${result.p50} ms, p99 ${result.p99} ms ` +
      `(${result.bearerRequests} checks beside ${result.logins} logins)`,
  );
  return result;
}

function stormBearerLines(r: StormBearerResult): string[] {
  return [
    '## 5. Bearer checks during a login storm, cache off',
    '',
    `A server with \`AUTH_CACHE_TTL_SECONDS=0\` (SQLite), so every \`GET /api/v1/auth/me\` with a bearer token verifies the JWT ` +
      `(HS256 with \`node:crypto\` on the event loop) and queries the user, ${STORM_BEARER_CONNECTIONS} connections at a time, while ` +
      `${STORM_LOGINS} logins run ${STORM_CONCURRENCY} at a time (argon2id on libuv's thread pool, \`HASH_SLOTS\` at once). ` +
      "Latency is autocannon's (1 ms resolution).",
    '',
    ...table(
      ['Case', 'Requests', 'p50 ms', 'p99 ms', 'Max ms', 'Target'],
      ['l', 'r', 'r', 'r', 'r', 'l'],
      [
        [
          'bearer checks during a login storm, cache off',
          fmt(r.bearerRequests),
          fmt(r.p50),
          fmt(r.p99),
          fmt(r.max),
          `p99 < ${STORM_BEARER_P99_TARGET_MS} ms: ${verdict(r.p99 < STORM_BEARER_P99_TARGET_MS)}`,
        ],
        [`the login storm beside them (${STORM_CONCURRENCY} at a time)`, fmt(r.logins), fmt(r.loginP50), '', '', ''],
      ],
    ),
  ];
}

interface KeyCheckResult {
  readonly pbkdf2Us: number;
  readonly pbkdf2RunsMs: number[];
  readonly sha256Us: number;
}

/** In this process, with no server running: the hashing part of one key check, each scheme. */
function keyCheckCost(): KeyCheckResult {
  const key = randomBytes(32).toString('hex');
  pbkdf2Sync(key, PBKDF2.salt, PBKDF2.iterations, PBKDF2.keyLength, PBKDF2.digest);
  const runs: number[] = [];
  for (let i = 0; i < PBKDF2.runs; i++) {
    const t0 = performance.now();
    pbkdf2Sync(key, PBKDF2.salt, PBKDF2.iterations, PBKDF2.keyLength, PBKDF2.digest).toString('hex');
    runs.push(performance.now() - t0);
  }
  const keys = Array.from({ length: 1024 }, () => randomBytes(32).toString('hex'));
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink += sha256Hex(keys[i & 1023]!).length;
  const n = 300_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += sha256Hex(keys[i & 1023]!).length;
  const sha256Us = ((performance.now() - t0) * 1000) / n;
  if (sink === 0) throw new Error('unreachable');
  return { pbkdf2Us: median(runs) * 1000, pbkdf2RunsMs: runs, sha256Us };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a fresh database, dropped afterwards.

// ---------------------------------------------------------------------------------------------
// Formatting.

export interface Target {
  readonly what: string;
  readonly measured: string;
  readonly target: string;
  readonly ok: boolean;
}

interface Report {
  readonly started: Date;
  readonly quiet: { readonly waitedMs: number; readonly notQuiet: number; readonly redone: number };
  readonly loadAverage: number[];
  readonly seconds: number;
  readonly key: KeyCheckResult;
  readonly backends: BackendResult[];
  readonly info?: Comparison & { readonly logBytesPerRequest: number };
  readonly login?: LoginResult;
  readonly targets: Target[];
}

function noiseSummary(r: Report): string {
  const comparisons = [
    ...r.backends.flatMap((b) => b.cases.map((c) => ({ name: `${b.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${c.label}`, c }))),
    ...(r.info ? [{ name: 'SQLite GET / with LOG_LEVEL=info', c: r.info as Comparison }] : []),
  ];
  const others = comparisons
    .flatMap(({ c }) => [...c.base.slices, ...c.case.slices])
    .map((x) => x.otherCpuPercent)
    .filter((x): x is number => x !== undefined);
  if (others.length === 0) return 'CPU use of other processes not measured (no /proc/stat).';
  const mean = others.reduce((a, x) => a + x, 0) / others.length;
  const noisy = comparisons.filter(({ c }) => [...c.base.slices, ...c.case.slices].some((x) => (x.otherCpuPercent ?? 0) > NOISY_PERCENT));
  const redone = comparisons.reduce((a, { c }) => a + c.redone, 0);
  const notes: string[] = [];
  if (r.quiet.waitedMs > 0) notes.push(`waited ${fmt(r.quiet.waitedMs / 1000)} s for other processes to go quiet`);
  if (redone > 0) notes.push(`ran ${redone} pair(s) again because other processes were busy during them`);
  if (r.quiet.notQuiet > 0) notes.push(`started ${r.quiet.notQuiet} pair(s) without quiet once its wait budget was spent`);
  return (
    `other processes used ${fmt(mean)}% of one CPU on average during the kept throughput slices (at most ${fmt(Math.max(...others))}%).` +
    (notes.length ? ` The run ${notes.join(', ')}.` : '') +
    (noisy.length
      ? ` **Measured while other processes were busy (over ${NOISY_PERCENT}% of a CPU in some slice), so noisier: ` +
        `${noisy.map((x) => x.name).join('; ')}.**`
      : '')
  );
}

function render(r: Report): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown';
  const settings = [
    DURATION !== 10 ? `BENCH_DURATION=${DURATION}` : '',
    SLICES !== 5 ? `BENCH_SLICES=${SLICES}` : '',
    WARMUP !== 2 ? `BENCH_WARMUP=${WARMUP}` : '',
    CONNECTIONS !== 50 ? `BENCH_CONNECTIONS=${CONNECTIONS}` : '',
    process.env.BENCH_DB ? `BENCH_DB=${process.env.BENCH_DB}` : '',
  ].filter(Boolean);
  const command = `${settings.length ? `${settings.join(' ')} ` : ''}npm run bench`;
  const out: string[] = [];
  const push = (...lines: string[]) => out.push(...lines);
  const allOk = r.targets.every((t) => t.ok);
  const otherCpu = (x: Series) => (x.otherCpuMean === undefined ? 'n/a' : `${fmt(x.otherCpuMean)}% (≤ ${fmt(x.otherCpuMax!)}%)`);

  push('# Benchmarks', '');
  push(`Generated by \`${command}\` (bench/run.ts); every figure below comes from that one run on one machine.`, '');
  push(
    `- **Date:** ${r.started.toISOString()} (the run took ${fmt(r.seconds)} s)`,
    `- **Machine:** ${cpu.length} CPUs (nproc), ${model}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM, ${process.platform}/${process.arch}`,
    `- **Node:** ${process.version}`,
    `- **Load:** autocannon (programmatic API), ${CONNECTIONS} connections, pipelining ${PIPELINING}; after a ${WARMUP} s warm-up over all ` +
      `measured routes, each case and its baseline get ${fmt(DURATION)} s of load each, as ${SLICES} pairs of ${fmt(SLICE_SECONDS, 1)} s slices`,
    `- **Server:** the real \`startEngram\` in its own process (bench/server.ts), listening on 127.0.0.1, ` +
      '`RATE_LIMIT_ENABLED=false` (the benchmark measures throughput, not the limiter), `LOG_LEVEL=warn` ' +
      '(one log line per request would dominate a bare route; its cost is measured below), logs to a file, ' +
      'authentication required (the default posture), default credential cache (`AUTH_CACHE_TTL_SECONDS=30`)',
    `- **Shared cores:** the load generator and the server run on the same ${cpu.length} CPUs, so absolute figures are lower than on a dedicated server; the ratios compare like with like`,
    `- **Other load:** load average ${r.loadAverage.map((x) => fmt(x, 2)).join(' / ')} (1/5/15 min) at the start; ${noiseSummary(r)}`,
    '',
  );

  if (CPU_PROF_DIR) push('> **This run profiled the server (BENCH_CPU_PROF_DIR); the profiler slows it, so use these figures for attribution only.**', '');
  push('## Targets', '');
  push(
    ...table(
      ['Measure', 'Measured', 'Target', 'Result'],
      ['l', 'r', 'r', 'l'],
      r.targets.map((t) => [t.what, t.measured, t.target, verdict(t.ok)]),
    ),
  );
  push('', `**Overall: ${allOk ? 'all targets met' : 'SOME TARGETS MISSED'}.**`, '');

  push('## 1. Authenticated requests against a bare route', '');
  push(
    `Each case is measured against the baseline (\`GET /\`, no auth) in ${SLICES} pairs of slices, alternating which goes first ` +
      '(baseline–case, case–baseline, …), so drift and bursts of outside load fall on both sides alike. Each pair gives a ratio ' +
      '(case requests/s ÷ baseline requests/s); **the ratio checked against the target is the median of the pairs**, robust to a ' +
      'one-off stall (a major GC, the host taking the CPU) in either slice. "Aggregate" is all case slices\' requests/s over all ' +
      'baseline slices\', "pairs" the lowest and highest single pair. Req/s columns are over all slices. ' +
      "p50 is the median of the slices' p50, p99 the worst slice's. Server CPU is the server process's own CPU time " +
      '(user + system) per request, read over IPC around every slice; the CPU ratio (baseline µs/request ÷ case µs/request) is ' +
      'informative, the target is on requests/s. "Other CPU" is what the rest of the machine (other processes, PostgreSQL\'s ' +
      `backends included) used during the slices, in % of one CPU, mean (max); a pair where it passed ${NOISY_PERCENT}% is run again.`,
    '',
  );
  for (const b of r.backends) {
    push(`### ${b.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL (fresh database)'}`, '');
    const rows = b.cases.map((c) => [
      c.label,
      fmt(c.case.rps),
      fmt(c.base.rps),
      `**${fmt(c.ratio, 2)}**`,
      fmt(c.aggregateRatio, 2),
      `${fmt(Math.min(...c.pairRatios), 2)}–${fmt(Math.max(...c.pairRatios), 2)}`,
      `${fmt(c.case.p50)} / ${fmt(c.base.p50)}`,
      `${fmt(c.case.p99)} / ${fmt(c.base.p99)}`,
      `${fmt(c.case.cpuPerRequestUs, 1)} / ${fmt(c.base.cpuPerRequestUs, 1)}`,
      fmt(c.cpuRatio, 2),
      otherCpu(series([...c.case.slices, ...c.base.slices])),
      `≥ ${TARGETS[b.backend]}: ${verdict(c.ratio >= TARGETS[b.backend])}`,
    ]);
    push(
      ...table(
        [
          'Case',
          'Req/s',
          'Baseline req/s',
          'Ratio (median)',
          'Aggregate',
          'Pairs',
          'p50 ms case / base',
          'p99 ms case / base',
          'Server CPU µs/req case / base',
          'CPU ratio',
          'Other CPU',
          'Target',
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
        rows,
      ),
    );
    push('');
  }

  if (r.info) {
    const c = r.info;
    push('### The cost of one log line per request', '');
    push(
      'The same bare route (`GET /`, SQLite) on a second server started with `LOG_LEVEL=info` (one JSON line per request, ' +
        `written to a file; ${fmt(c.logBytesPerRequest)} bytes per request), paired with the \`LOG_LEVEL=warn\` server the same way:`,
      '',
    );
    push(
      ...table(
        ['Server', 'Req/s', 'Ratio (median)', 'Aggregate', 'Pairs', 'p99 ms', 'Server CPU µs/req', 'Other CPU'],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        [
          ['`LOG_LEVEL=warn`, GET /', fmt(c.base.rps), '1.00', '1.00', '', fmt(c.base.p99), fmt(c.base.cpuPerRequestUs, 1), otherCpu(c.base)],
          [
            '`LOG_LEVEL=info`, GET /',
            fmt(c.case.rps),
            `**${fmt(c.ratio, 2)}**`,
            fmt(c.aggregateRatio, 2),
            `${fmt(Math.min(...c.pairRatios), 2)}–${fmt(Math.max(...c.pairRatios), 2)}`,
            fmt(c.case.p99),
            fmt(c.case.cpuPerRequestUs, 1),
            otherCpu(c.case),
          ],
        ],
      ),
    );
    push('');
  }

  if (r.login) {
    const l = r.login;
    push('## 2. Login latency (SQLite)', '');
    push(
      "Form login (`POST /api/v1/auth/login`) of one account: argon2id (19 MiB, 2 passes, 1 lane) on libuv's thread pool " +
        "(default size 4), then a token is issued. Latency is autocannon's, from sending the request to the last byte of the answer (1 ms resolution).",
      '',
    );
    push(
      ...table(
        ['Run', 'Logins', 'At a time', 'p50 ms', 'p99 ms', 'Max ms', 'Logins/s'],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
        [l.sequential, l.lowConcurrency, l.storm].map((x) => [
          x.label,
          fmt(x.logins),
          fmt(x.concurrency),
          fmt(x.p50),
          fmt(x.p99),
          fmt(x.max),
          fmt(x.perSecond, 1),
        ]),
      ),
    );
    push('', '## 3. Event-loop delay during a login storm', '');
    push(
      `\`perf_hooks.monitorEventLoopDelay\` inside the server process (resolution ${l.stormEld.resolutionMs} ms; each sample includes ` +
        `that interval, so the figures are conservative by up to ${l.stormEld.resolutionMs} ms), reset just before and read just after.`,
      '',
    );
    push(
      ...table(
        ['Window', 'Samples', 'p50 ms', 'p99 ms', 'Max ms', 'Target'],
        ['l', 'r', 'r', 'r', 'r', 'l'],
        [
          ['Idle, 1 s', fmt(l.idleEld.samples), fmt(l.idleEld.p50Ms, 2), fmt(l.idleEld.p99Ms, 2), fmt(l.idleEld.maxMs, 2), ''],
          [
            `${STORM_LOGINS} logins, ${STORM_CONCURRENCY} at a time`,
            fmt(l.stormEld.samples),
            fmt(l.stormEld.p50Ms, 2),
            fmt(l.stormEld.p99Ms, 2),
            fmt(l.stormEld.maxMs, 2),
            `p99 < ${ELD_TARGET_MS} ms: ${verdict(l.stormEld.p99Ms < ELD_TARGET_MS)}`,
          ],
        ],
      ),
    );
    push('');
  }

  const k = r.key;
  push("## 4. API-key check per request: the reference's scheme against ours", '');
  push(
    `The reference hashes every presented key with PBKDF2-HMAC-SHA256, ${fmt(PBKDF2.iterations)} iterations, salt ` +
      `\`${PBKDF2.salt}\` (measured here with \`node:crypto\` \`pbkdf2Sync\`, median of ${PBKDF2.runs} runs: ` +
      `${k.pbkdf2RunsMs.map((x) => fmt(x, 1)).join(', ')} ms), then looks the hash up. Engram hashes the key once with SHA-256 ` +
      '(`sha256Hex` from src/auth/api-keys.ts, measured in-process over 300,000 keys) and does one indexed lookup, and a ' +
      'resolved key is then served from the credential cache. Both measured in the benchmark process with no server running.',
    '',
  );
  const ratio = k.pbkdf2Us / k.sha256Us;
  const cores = cpu.length;
  const keyRows: string[][] = [
    [
      'Reference: PBKDF2-HMAC-SHA256, 600,000 iterations',
      fmt(k.pbkdf2Us),
      fmt(2e6 / k.pbkdf2Us, 1),
      cores === 2 ? '(same)' : fmt((cores * 1e6) / k.pbkdf2Us, 1),
    ],
    ['Engram: SHA-256 (hash part of the check)', fmt(k.sha256Us, 2), fmt(2e6 / k.sha256Us), cores === 2 ? '(same)' : fmt((cores * 1e6) / k.sha256Us)],
  ];
  push(...table(['Scheme', 'µs per key check', 'Most checks/s on 2 cores', `On this machine (${cores} cores)`], ['l', 'r', 'r', 'r'], keyRows));
  push('');
  push(
    `PBKDF2-600k costs **${fmt(ratio)}×** the SHA-256 check. Hashing alone caps a 2-core server using the reference's scheme at ` +
      `**${fmt(2e6 / k.pbkdf2Us, 1)} API-key requests/s** (2 ÷ ${fmt(k.pbkdf2Us / 1e6, 3)} s), before any other work. ` +
      'Measured end to end in section 1, Engram serves ' +
      r.backends
        .map((b) => `**${fmt(b.cases.find((c) => c.name === 'apiKey')!.case.rps)} API-key requests/s** on ${b.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`)
        .join(' and ') +
      ' (with the load generator on the same cores).',
    '',
  );
  if (r.backends.length < 2) push(`_Only ${r.backends.map((b) => b.backend).join(', ')} was measured in this run (BENCH_DB)._`, '');

  push('## What an authenticated request does on top of `GET /`', '');
  push(
    'With the credential cache warm (every request after the first within `AUTH_CACHE_TTL_SECONDS`), `GET /api/v1/auth/me` ' +
      'adds to the bare route: routing and parsing a longer request (a JWT header is ~400 bytes), the `preHandler` hook of ' +
      'src/http/authenticate.ts (read `X-Api-Key` / `Authorization` / the cookie, then `Credentials.resolveCached`: one `Map` ' +
      'lookup keyed by the credential, and for an API key a check whether `last_used_at` is due; a cached credential is admitted ' +
      'without a promise), the `cache-control: no-store` header every `/api/` answer carries, and the user fields in the request ' +
      'log record. No signature check, no database query and no password hash runs on a cache hit; on a miss a JWT costs one ' +
      'HMAC check and one indexed query, an API key one SHA-256 and one indexed query, once per credential per TTL.',
    '',
    'To see where the time goes, run with `BENCH_CPU_PROF_DIR=<dir>`: the server then writes a V8 CPU profile of the first ' +
      "pair of slices of every comparison (open them in Chrome DevTools or speedscope; the profiler slows the server, so such a run's " +
      'report goes next to the profiles). The server runs the TypeScript sources through tsx, as a checkout does; a deployment ' +
      'runs the compiled build (`npm run build`, `npm start`).',
    '',
  );
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const loadAverage = loadavg();
  const t0 = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'engram-bench-'));
  if (CPU_PROF_DIR) mkdirSync(CPU_PROF_DIR, { recursive: true });
  const servers: BenchServer[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let cleaning: Promise<void> | undefined;
  /** Once, however it is reached (the end of the run, an error, a signal); every caller waits for it. */
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (const server of servers) await server.stop().catch(() => undefined);
      for (const cleanup of cleanups) await cleanup().catch((error) => process.stderr.write(`cleanup failed: ${error}\n`));
      rmSync(root, { recursive: true, force: true });
    })());
  // Interrupted (Ctrl-C, a timeout): still stop the servers, drop the database, remove the files.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: cleaning up\n`);
      void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  const start = async (name: string, env: Record<string, string> = {}, script?: string) => {
    const server = await BenchServer.start(name, root, env, script);
    servers.push(server);
    progress(`started ${name} at ${server.url}`);
    return server;
  };

  process.stderr.write(
    `engram bench: ${DURATION} s of load per case and per baseline (${SLICES} pairs of ${SLICE_SECONDS} s slices), ` +
      `${CONNECTIONS} connections, backends ${BACKENDS.join(' + ')}\n`,
  );
  if (loadAverage[0]! > 0.5) {
    process.stderr.write(`  ! load average is ${loadAverage.map((x) => x.toFixed(2)).join(' ')}: other processes are using the CPUs, expect noisy figures\n`);
  }
  // Section 6 (bench/auth-peer.ts), measured with section 1's machinery.
  const peerKit: PeerKit = {
    start,
    makeCredentials,
    compare,
    warmUp: (target) => warmUpRoutes(target.server, [{ method: 'GET', path: target.path, headers: target.headers }]),
  };
  try {
    await awaitQuiet([]);
    if (AUTH_PEER === 'only') {
      const peer = await authPeerBench(peerKit);
      const report = `${peer.lines.join('\n')}\n\nTarget: ${peer.target.what}: ${peer.target.measured} (${peer.target.target}): ${verdict(peer.target.ok)}.\n`;
      if (process.env.BENCH_OUTPUT) writeFileSync(OUTPUT, report);
      process.stdout.write(`\n${report}`);
      if (!peer.target.ok) process.exitCode = 1;
      return;
    }
    progress('key-check cost (PBKDF2-600k and SHA-256, in-process)');
    const key = keyCheckCost();

    const backends: BackendResult[] = [];
    let info: Report['info'];
    let login: LoginResult | undefined;
    let stormBearer: StormBearerResult | undefined;

    for (const backend of BACKENDS) {
      let env: Record<string, string> = {};
      if (backend === 'postgres') {
        const db = await createPgDatabase();
        cleanups.push(db.drop);
        env = db.env;
      }
      const server = await start(backend, env);
      const creds = await makeCredentials(server.url);
      const result = await authThroughput(backend, server, creds);
      backends.push(result);

      if (backend === 'sqlite') {
        // The logging cost: a second server with LOG_LEVEL=info, paired with this one on GET /.
        const infoServer = await start('sqlite-info', { LOG_LEVEL: 'info' });
        const logSizeBefore = statSync(infoServer.logFile).size;
        const warmUpRequests = await warmUp(infoServer, undefined);
        const logBytesPerRequest = (statSync(infoServer.logFile).size - logSizeBefore) / Math.max(1, warmUpRequests);
        const comparison = await compare('GET / with LOG_LEVEL=info', { server, path: '/', headers: {} }, { server: infoServer, path: '/', headers: {} });
        await infoServer.stop();
        info = { ...comparison, logBytesPerRequest };

        login = await loginBench(server, creds);
      }
      await server.stop();
      if (backend === 'sqlite') {
        const noCache = await start('sqlite-cache-off', { AUTH_CACHE_TTL_SECONDS: '0' });
        stormBearer = await bearerDuringStorm(noCache, await makeCredentials(noCache.url));
        await noCache.stop();
      }
    }

    const peer = AUTH_PEER === '1' ? await authPeerBench(peerKit) : undefined;

    const targets: Target[] = [];
    for (const b of backends) {
      for (const c of b.cases) {
        targets.push({
          what: `${b.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${c.label.replace('GET /api/v1/auth/me, ', '/auth/me with ')} ÷ GET /`,
          measured: fmt(c.ratio, 2),
          target: `≥ ${TARGETS[b.backend]}`,
          ok: c.ratio >= TARGETS[b.backend],
        });
      }
    }
    if (login) {
      targets.push({
        what: `Event-loop delay p99 in the server, ${STORM_LOGINS} logins ${STORM_CONCURRENCY} at a time`,
        measured: `${fmt(login.stormEld.p99Ms, 1)} ms`,
        target: `< ${ELD_TARGET_MS} ms`,
        ok: login.stormEld.p99Ms < ELD_TARGET_MS,
      });
    }

    if (stormBearer) {
      targets.push({
        what: `Bearer check p99 during a login storm (${STORM_CONCURRENCY} logins at a time), credential cache off`,
        measured: `${fmt(stormBearer.p99)} ms`,
        target: `< ${STORM_BEARER_P99_TARGET_MS} ms`,
        ok: stormBearer.p99 < STORM_BEARER_P99_TARGET_MS,
      });
    }
    if (peer) targets.push(peer.target);
    let report = render({ started, quiet, loadAverage, seconds: (performance.now() - t0) / 1000, key, backends, info, login, targets });
    if (stormBearer) report = `${report.trimEnd()}\n\n${stormBearerLines(stormBearer).join('\n')}\n`;
    if (peer) report = `${report.trimEnd()}\n\n${peer.lines.join('\n')}\n`;
    // Permission resolution at scale (bench/permissions.ts); BENCH_PERMISSIONS=0 skips it.
    if (process.env.BENCH_PERMISSIONS !== '0') {
      progress('permission resolution at scale (10,000 and 100,000 datasets, SQLite and PostgreSQL)');
      const permissions = await permissionBench();
      report = `${report.trimEnd()}\n\n${permissions.lines.join('\n')}\n\nPermission targets: ${permissions.ok ? 'all met' : 'SOME MISSED'}.\n`;
      if (!permissions.ok) process.exitCode = 1;
    }
    // The memory engine (bench/memory.ts); BENCH_MEMORY=0 skips it.
    if (process.env.BENCH_MEMORY !== '0') {
      progress('memory engine: ingest + cognify throughput, search latency against the raw engines');
      const memory = await memoryBench();
      report = `${report.trimEnd()}\n\n${memory.lines.join('\n')}\n\nMemory targets: ${memory.ok ? 'all met' : 'SOME MISSED'}.\n`;
      if (!memory.ok) process.exitCode = 1;
    }
    // The Cypher sandbox (bench/cypher.ts); BENCH_CYPHER=0 skips it.
    if (process.env.BENCH_CYPHER !== '0') {
      progress('Cypher sandbox: a small query through warm sandbox processes and a process per query, against in-process');
      const cypher = await cypherBench();
      report = `${report.trimEnd()}\n\n${cypher.lines.join('\n')}\n`;
      if (!cypher.ok) process.exitCode = 1;
    }
    // Agent sessions (bench/sessions.ts); BENCH_SESSIONS=0 skips it.
    if (process.env.BENCH_SESSIONS !== '0') {
      progress('agent sessions: remember and recall in a session with 50 agents, against an authenticated no-op');
      const sessions = await sessionBench();
      report = `${report.trimEnd()}\n\n${sessions.lines.join('\n')}\n`;
      if (!sessions.ok) process.exitCode = 1;
    }
    // One instance under many users and datasets (bench/load.ts); BENCH_LOAD=0 skips it.
    if (process.env.BENCH_LOAD !== '0') {
      progress('load: many users registering, adding, cognifying and searching over thousands of datasets');
      const load = await loadBench();
      report = `${report.trimEnd()}\n\n${load.lines.join('\n')}\n\nLoad targets: ${load.ok ? 'all met' : 'SOME MISSED'}.\n`;
      if (!load.ok) process.exitCode = 1;
    }
    writeFileSync(OUTPUT, report);
    process.stdout.write(`\n${report}\nwritten to ${relative(process.cwd(), OUTPUT) || OUTPUT}\n`);
    if (!targets.every((t) => t.ok)) process.exitCode = 1;
  } finally {
    await cleanUp();
  }
}

await main();
