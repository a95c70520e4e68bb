/**
 * Load: one instance, many users, thousands of datasets. Against the real server in its own process
 * (bench/server.ts; SQLite + Kuzu + LanceDB, offline providers, multi-tenant mode, rate limits off):
 *
 *  1. USERS users register and log in, all at once.
 *  2. Setup: each user creates DATASETS ÷ USERS datasets with one small text each (`add_text`), and
 *     shares its first dataset (read) with the next SHARES users, who accept the share where the
 *     server asks for it. How long this takes is reported.
 *  3. Load, all users at once: add a document to its first dataset, cognify it (blocking), search it
 *     (CHUNKS and GRAPH_COMPLETION, `only_context`), search unfiltered (every dataset it can read: its
 *     own and the shared ones, through the bounded dataset pool), list its datasets, read the
 *     datasets shared with it (items and a search each). Answers are checked, not only statuses.
 *  4. A large PDF (PDF_PAGES pages, several MB) is added and cognified — parsed in the parser pool —
 *     while every user keeps searching.
 *
 * Reported: failures by route and status (target 0), p50/p99 per route, the server's event-loop
 * delay p99 during 3 and during 4 (target < 50 ms), and peak resident memory of the server and of
 * its parser and sandbox processes (/proc VmHWM, sampled). Exit code 1 (standalone) when a target
 * is missed.
 *
 * Run alone with `node --import tsx bench/load.ts`, or as part of `npm run bench` (BENCH_LOAD=0
 * skips it). BENCH_LOAD_USERS (default 100), BENCH_LOAD_DATASETS (default 2000),
 * BENCH_LOAD_SHARES (datasets shared with each user, default 3), BENCH_LOAD_PDF_PAGES (default 1000),
 * BENCH_LOAD_CPU_PROF (a file: the server's CPU profile during the PDF phase), BENCH_LOAD_POOL (the
 * server's DATABASE_MAX_LRU_CACHE_SIZE, default 6).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { makePdf } from '../test/helpers/pdf.js';
import { BenchServer } from './bench-server.js';
import { LoadClient, multipart, sampleMemory, type MemoryPeaks } from './load-client.js';
import type { EldReport } from './protocol.js';

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const USERS = envInt('BENCH_LOAD_USERS', 100, 2);
const DATASETS = envInt('BENCH_LOAD_DATASETS', 2000, USERS);
const SHARES = Math.min(envInt('BENCH_LOAD_SHARES', 3, 0), USERS - 1);
const PDF_PAGES = envInt('BENCH_LOAD_PDF_PAGES', 1000, 1);
const PER_USER = Math.floor(DATASETS / USERS);
/** BENCH_LOAD_CPU_PROF=<file>: a V8 CPU profile of the server during the PDF phase (for attribution only). */
const CPU_PROF = process.env.BENCH_LOAD_CPU_PROF ? resolve(process.env.BENCH_LOAD_CPU_PROF) : undefined;
const ELD_TARGET_MS = 50;
/** The server's settings for the run (the defaults, written out so the report can name them). */
const SERVER_ENV = { DATABASE_MAX_LRU_CACHE_SIZE: String(envInt('BENCH_LOAD_POOL', 6, 1)), SEARCH_MAX_CONCURRENT_DATASETS: '4', PARSER_WORKERS: '2' } as const;

const WORDS = 'river mountain engine station signal harbor garden library market bridge tower forest valley canal archive beacon compass lantern'.split(' ');

/** A document of `paragraphs` paragraphs that names `marker` (a word no other user's text has). */
function documentOf(marker: string, seed: number, paragraphs: number): string {
  const out: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const words = Array.from({ length: 30 }, (_, i) => WORDS[(seed * 7 + p * 13 + i * 3) % WORDS.length]).join(' ');
    out.push(`Ada Lovelace met Alan Turing in London about the ${marker} project: ${words}.`);
  }
  return out.join('\n\n');
}

interface User {
  readonly index: number;
  readonly marker: string;
  readonly id: string;
  readonly headers: Record<string, string>;
  /** Dataset ids, the first one its main dataset (added to, cognified and shared). */
  readonly datasets: string[];
  /** Main datasets of other users shared with it. */
  readonly shared: string[];
}

const json = (headers: Record<string, string>) => ({ ...headers, 'content-type': 'application/json' });
const asList = (body: unknown): any[] => (Array.isArray(body) ? body : []);

async function register(client: LoadClient, index: number): Promise<User | undefined> {
  const marker = `zq${index.toString(36)}marker`;
  const email = `load-${index}@example.com`;
  const password = `Load-orchard-${index}-9137!`;
  const registered = await client.call('POST /api/v1/auth/register', 'POST', '/api/v1/auth/register', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
    expected: [201],
  });
  if (!registered) return undefined;
  const login = await client.call('POST /api/v1/auth/login', 'POST', '/api/v1/auth/login', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: email, password }).toString(),
  });
  if (!login?.body?.access_token) return undefined;
  return { index, marker, id: registered.body.id, headers: { authorization: `Bearer ${login.body.access_token}` }, datasets: [], shared: [] };
}

/** Creates the user's datasets, one small text each. */
async function createDatasets(client: LoadClient, user: User): Promise<void> {
  for (let k = 0; k < PER_USER; k++) {
    const added = await client.call('POST /api/v1/add_text (setup)', 'POST', '/api/v1/add_text', {
      headers: json(user.headers),
      body: JSON.stringify({ textData: [documentOf(`${user.marker}d${k}`, k, 1)], datasetName: `d${k}` }),
    });
    if (added?.body?.dataset_id) user.datasets.push(added.body.dataset_id);
  }
}

/** `owner` shares its main dataset with `recipient` (read), who accepts it if the server asks for that. */
async function share(client: LoadClient, owner: User, recipient: User, acceptance: { needed?: boolean }): Promise<void> {
  const dataset = owner.datasets[0];
  if (!dataset) return;
  const granted = await client.call(
    'POST /api/v1/permissions/datasets/{principal_id}',
    'POST',
    `/api/v1/permissions/datasets/${recipient.id}?permission_name=read`,
    {
      headers: json(owner.headers),
      body: JSON.stringify([dataset]),
    },
  );
  if (!granted) return;
  if (acceptance.needed !== false) {
    const route = 'POST /api/v1/permissions/shares/received/{dataset_id}/accept';
    // A 404 with the router's own "Not Found" means this server has no such route: shares need no acceptance.
    const accepted = await client.call(route, 'POST', `/api/v1/permissions/shares/received/${dataset}/accept`, {
      headers: recipient.headers,
      expected: [200, 404],
    });
    if (accepted?.status === 404) {
      if (accepted.body?.detail !== 'Not Found') client.fail(route, '404', `accept ${dataset}: ${JSON.stringify(accepted.body)}`);
      else acceptance.needed = false;
    } else if (accepted) acceptance.needed = true;
  }
  recipient.shared.push(dataset);
}

function searchBody(query: string, type: string, datasetIds?: string[]) {
  return JSON.stringify({ searchType: type, query, onlyContext: true, topK: 15, ...(datasetIds ? { datasetIds } : {}) });
}

/** Every chunk text of a CHUNKS answer (multi-tenant shape: one entry per dataset). */
function chunkTexts(body: unknown): string[] {
  return asList(body).flatMap((entry) => asList(entry?.search_result).map((chunk) => String(chunk?.text ?? '')));
}

async function searchOwn(client: LoadClient, user: User, suffix = ''): Promise<void> {
  const main = user.datasets[0]!;
  const route = `POST /api/v1/search (own dataset, CHUNKS)${suffix}`;
  const chunks = await client.call(route, 'POST', '/api/v1/search', {
    headers: json(user.headers),
    body: searchBody(`${user.marker} project`, 'CHUNKS', [main]),
  });
  if (chunks && !chunkTexts(chunks.body).some((text) => text.includes(`${user.marker} project`))) {
    client.fail(route, 'wrong answer', `user ${user.index}: own CHUNKS search did not return its document`);
  }
  const all = await client.call(`POST /api/v1/search (unfiltered, CHUNKS)${suffix}`, 'POST', '/api/v1/search', {
    headers: json(user.headers),
    body: searchBody(`${user.marker} Ada Lovelace`, 'CHUNKS'),
  });
  const expected = user.datasets.length + user.shared.length;
  if (all && asList(all.body).length !== expected) {
    client.fail(
      `POST /api/v1/search (unfiltered, CHUNKS)${suffix}`,
      'wrong answer',
      `user ${user.index}: ${asList(all.body).length} datasets answered, ${expected} readable`,
    );
  }
}

/** One user's session under load: add, cognify, search, list, read what is shared with it. */
async function session(client: LoadClient, user: User): Promise<void> {
  const main = user.datasets[0];
  if (!main) return;
  await client.call('POST /api/v1/add_text', 'POST', '/api/v1/add_text', {
    headers: json(user.headers),
    body: JSON.stringify({ textData: [documentOf(user.marker, user.index, 8)], datasetId: main }),
  });
  const route = 'POST /api/v1/cognify (blocking)';
  const cognified = await client.call(route, 'POST', '/api/v1/cognify', { headers: json(user.headers), body: JSON.stringify({ datasetIds: [main] }) });
  const status = cognified?.body?.[main]?.status;
  if (cognified && status !== 'PipelineRunCompleted')
    client.fail(route, 'wrong answer', `user ${user.index}: cognify answered ${JSON.stringify(cognified.body).slice(0, 300)}`);
  await searchOwn(client, user);
  await client.call('POST /api/v1/search (own dataset, GRAPH_COMPLETION)', 'POST', '/api/v1/search', {
    headers: json(user.headers),
    body: searchBody(`Who met Alan Turing about ${user.marker}?`, 'GRAPH_COMPLETION', [main]),
  });
  const listed = await client.call('GET /api/v1/datasets', 'GET', '/api/v1/datasets', { headers: user.headers });
  if (listed && asList(listed.body).length !== user.datasets.length + user.shared.length) {
    client.fail('GET /api/v1/datasets', 'wrong answer', `user ${user.index}: ${asList(listed.body).length} datasets listed`);
  }
  for (const dataset of user.shared) {
    await client.call('GET /api/v1/datasets/{id}/data (shared)', 'GET', `/api/v1/datasets/${dataset}/data`, { headers: user.headers });
    await client.call('POST /api/v1/search (shared dataset, CHUNKS)', 'POST', '/api/v1/search', {
      headers: json(user.headers),
      body: searchBody('Ada Lovelace London', 'CHUNKS', [dataset]),
    });
  }
}

/** A PDF of `pages` pages of one long text line each (~4 KB a page). */
function largePdf(pages: number): Buffer {
  return makePdf(Array.from({ length: pages }, (_, p) => `Page ${p}: ${documentOf(`pdfpage${p}`, p, 30).replace(/\n+/g, ' ')}`.slice(0, 4000)));
}

export interface LoadResult {
  readonly lines: string[];
  readonly ok: boolean;
}

export async function loadBench(): Promise<LoadResult> {
  const root = mkdtempSync(join(tmpdir(), 'engram-bench-load-'));
  const loadAtStart = loadavg();
  const started = new Date();
  const server = await BenchServer.start('load', root, { ...SERVER_ENV });
  const client = new LoadClient(server.url);
  const memory = sampleMemory(server.pid);
  const progress = (line: string) => process.stderr.write(`  · load: ${line}\n`);
  let peaks: MemoryPeaks | undefined;
  try {
    // The idle server's event-loop delay: what the machine itself (other processes) adds.
    server.eldStart();
    await new Promise((r) => setTimeout(r, 2000));
    const idleEld = await server.eldStop();
    let t = performance.now();
    const registered = await Promise.all(Array.from({ length: USERS }, (_, i) => register(client, i)));
    const users = registered.filter((u): u is User => u !== undefined);
    const registerSeconds = (performance.now() - t) / 1000;
    progress(`${users.length} users registered and logged in in ${registerSeconds.toFixed(1)} s`);

    t = performance.now();
    await Promise.all(users.map((u) => createDatasets(client, u)));
    const acceptance: { needed?: boolean } = {};
    // The first share alone tells whether this server asks recipients to accept; then all at once.
    const pairs = Array.from({ length: SHARES }, (_, s) => users.map((u) => [u, users[(u.index + s + 1) % users.length]!] as const)).flat();
    if (pairs.length > 0) await share(client, pairs[0]![0], pairs[0]![1], acceptance);
    await Promise.all(pairs.slice(1).map(([owner, recipient]) => share(client, owner, recipient, acceptance)));
    const datasetCount = users.reduce((a, u) => a + u.datasets.length, 0);
    const setupSeconds = (performance.now() - t) / 1000;
    progress(`${datasetCount} datasets created and ${SHARES} shares per user in ${setupSeconds.toFixed(1)} s`);

    server.eldStart();
    t = performance.now();
    await Promise.all(users.map((u) => session(client, u)));
    const loadSeconds = (performance.now() - t) / 1000;
    const loadEld = await server.eldStop();
    progress(`sessions done in ${loadSeconds.toFixed(1)} s; event-loop delay p99 ${loadEld.p99Ms.toFixed(1)} ms`);

    const pdf = largePdf(PDF_PAGES);
    if (CPU_PROF) await server.profileStart();
    const owner = users[0]!;
    server.eldStart();
    t = performance.now();
    let pdfDone = false;
    const searching = users.slice(1).map(async (u) => {
      while (!pdfDone) await searchOwn(client, u, ' during the PDF');
    });
    const form = multipart({ datasetName: 'large-pdf' }, { field: 'data', name: 'large.pdf', type: 'application/pdf', bytes: pdf });
    const added = await client.call('POST /api/v1/add (PDF)', 'POST', '/api/v1/add', {
      headers: { ...owner.headers, 'content-type': form.contentType },
      body: form.body,
    });
    const pdfDataset = added?.body?.dataset_id as string | undefined;
    let pdfChunks = 0;
    if (pdfDataset) {
      const route = 'POST /api/v1/cognify (PDF, blocking)';
      const cognified = await client.call(route, 'POST', '/api/v1/cognify', {
        headers: json(owner.headers),
        body: JSON.stringify({ datasetIds: [pdfDataset] }),
      });
      if (cognified && cognified.body?.[pdfDataset]?.status !== 'PipelineRunCompleted') {
        client.fail(route, 'wrong answer', `PDF cognify answered ${JSON.stringify(cognified.body).slice(0, 300)}`);
      }
    }
    pdfDone = true;
    const pdfSeconds = (performance.now() - t) / 1000;
    await Promise.all(searching);
    const pdfEld = await server.eldStop();
    if (CPU_PROF) {
      await server.profileStop(CPU_PROF);
      progress(`CPU profile of the server during the PDF written to ${CPU_PROF}`);
    }
    if (pdfDataset) {
      const found = await client.call('POST /api/v1/search (PDF dataset, CHUNKS)', 'POST', '/api/v1/search', {
        headers: json(owner.headers),
        body: searchBody('pdfpage7 Ada Lovelace', 'CHUNKS', [pdfDataset]),
      });
      pdfChunks = chunkTexts(found?.body).length;
      if (found && pdfChunks === 0) client.fail('POST /api/v1/search (PDF dataset, CHUNKS)', 'wrong answer', 'the PDF dataset has no chunks');
    }
    progress(
      `PDF (${(pdf.length / 2 ** 20).toFixed(1)} MiB) added and cognified in ${pdfSeconds.toFixed(1)} s; event-loop delay p99 ${pdfEld.p99Ms.toFixed(1)} ms`,
    );
    peaks = memory?.stop();

    return report({
      started,
      loadAtStart,
      loadAtEnd: loadavg(),
      users: users.length,
      datasetCount,
      registerSeconds,
      setupSeconds,
      acceptance: acceptance.needed,
      loadSeconds,
      idleEld,
      loadEld,
      pdfBytes: pdf.length,
      pdfSeconds,
      pdfEld,
      peaks,
      client,
    });
  } finally {
    memory?.stop();
    client.close();
    await server.stop();
    if (client.failureCount > 0) {
      // What the server logged about the failures (errors only), for whoever reads the run.
      const errors = readFileSync(server.logFile, 'utf8')
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line));
      process.stderr.write(`  · load: the server logged ${errors.length} errors; the first ones:\n${errors.slice(0, 5).join('\n')}\n`);
    }
    rmSync(root, { recursive: true, force: true });
  }
}

interface Figures {
  started: Date;
  loadAtStart: number[];
  loadAtEnd: number[];
  users: number;
  datasetCount: number;
  registerSeconds: number;
  setupSeconds: number;
  acceptance: boolean | undefined;
  loadSeconds: number;
  idleEld: EldReport;
  loadEld: EldReport;
  pdfBytes: number;
  pdfSeconds: number;
  pdfEld: EldReport;
  peaks: MemoryPeaks | undefined;
  client: LoadClient;
}

function report(f: Figures): LoadResult {
  const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  const mib = (n: number) => `${n.toFixed(0)} MiB`;
  const failures = f.client.failureCount;
  const eldOk = (e: EldReport) => e.p99Ms < ELD_TARGET_MS;
  const ok = failures === 0 && f.users === USERS && eldOk(f.loadEld) && eldOk(f.pdfEld);
  const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
  const lines = [
    `## Load: ${f.users} users, ${f.datasetCount.toLocaleString('en-US')} datasets`,
    '',
    `${f.started.toISOString()}, ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; load average ${f.loadAtStart.map((x) => x.toFixed(2)).join(' / ')} ` +
      `(1/5/15 min) at the start, ${f.loadAtEnd.map((x) => x.toFixed(2)).join(' / ')} at the end. One server process (bench/server.ts): SQLite + Kuzu + LanceDB, ` +
      'offline providers, multi-tenant mode, rate limits off, ' +
      Object.entries(SERVER_ENV)
        .map(([k, v]) => `\`${k}=${v}\``)
        .join(', ') +
      '; the load generator runs on the same CPUs.',
    '',
    `1. ${f.users} users registered and logged in, all at once: ${f.registerSeconds.toFixed(1)} s.`,
    `2. Setup: each user created ${PER_USER} datasets with one small text each (\`add_text\`) and shared its first dataset (read) with the next ${SHARES} users` +
      ` (${f.acceptance === true ? 'who accepted it' : f.acceptance === false ? 'no acceptance needed on this server' : 'no share made'}): ` +
      `${f.datasetCount.toLocaleString('en-US')} datasets in ${f.setupSeconds.toFixed(1)} s.`,
    `3. Sessions, all users at once (${f.loadSeconds.toFixed(1)} s): add a document to its first dataset, cognify it (blocking), search it (CHUNKS, ` +
      `GRAPH_COMPLETION), search unfiltered (its ${PER_USER} datasets and the ${SHARES} shared ones), list its datasets, read the shared datasets. ` +
      `Only the ${f.users} first datasets are cognified; the unfiltered searches span all ${f.datasetCount.toLocaleString('en-US')}.`,
    `4. A ${(f.pdfBytes / 2 ** 20).toFixed(1)} MiB PDF of ${PDF_PAGES} pages added and cognified (parsed in the parser pool) while the other users kept ` +
      `searching (own and unfiltered): ${f.pdfSeconds.toFixed(1)} s.`,
    '',
    '| Route | Requests | p50 ms | p99 ms | Max ms |',
    '|---|---:|---:|---:|---:|',
    ...f.client.figures().map((r) => `| ${r.route} | ${r.count} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} |`),
    '',
    '| Measure | Measured | Target | Result |',
    '|---|---:|---:|---|',
    `| Failures (any route) | ${failures} | 0 | ${verdict(failures === 0)} |`,
    `| Event-loop delay p99, idle server for 2 s before the run (max) | ${ms(f.idleEld.p99Ms)} ms (${ms(f.idleEld.maxMs)}) | | |`,
    `| Event-loop delay p99, sessions (max) | ${ms(f.loadEld.p99Ms)} ms (${ms(f.loadEld.maxMs)}) | < ${ELD_TARGET_MS} ms | ${verdict(eldOk(f.loadEld))} |`,
    `| Event-loop delay p99, large PDF (max) | ${ms(f.pdfEld.p99Ms)} ms (${ms(f.pdfEld.maxMs)}) | < ${ELD_TARGET_MS} ms | ${verdict(eldOk(f.pdfEld))} |`,
  ];
  if (f.peaks) {
    const p = f.peaks;
    lines.push(`| Peak resident memory, server process (VmHWM) | ${mib(p.serverHwmMiB)} | | |`);
    for (const [kind, entry] of p.children)
      lines.push(`| Peak resident memory, one ${kind} process (VmHWM; ${entry.pids.size} seen) | ${mib(entry.hwmMiB)} | | |`);
    lines.push(`| Peak resident memory, server and children together (sampled every 200 ms) | ${mib(p.totalRssMiB)} | | |`);
  }
  if (failures > 0) {
    lines.push('', 'Failures by route and status:', '', ...[...f.client.failures].map(([k, n]) => `- ${k}: ${n}`), '', 'First failures:', '');
    lines.push(...f.client.failureSamples.map((s) => `- \`${s.replace(/`/g, "'")}\``));
  }
  return { lines, ok };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { lines, ok } = await loadBench();
  console.log(lines.join('\n'));
  console.log(ok ? '\nLoad targets met.' : '\nLOAD TARGETS MISSED.');
  if (!ok) process.exitCode = 1;
}
