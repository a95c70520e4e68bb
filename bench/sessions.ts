/**
 * Agent sessions: what remembering a turn and recalling from a session cost, with 50 agents at once
 * each in its own session, against an authenticated no-op (`GET /api/v1/auth/me`) on the same server.
 *
 * One server on SQLite (bench/server.ts). One user; 50 sessions seeded with 20 turns each. Then, in
 * alternating slices so drift favours none: `GET /auth/me` (bearer), `POST /api/v1/recall` with
 * `scope: "session"` (each request names the next of the 50 sessions), and `POST /api/v1/remember/entry`
 * (a QA turn into the next session). 50 connections (the 50 agents). Target: recall from a session at
 * least a third of the no-op's throughput (≤ 3× its cost).
 *
 * Run alone with `node --import tsx bench/sessions.ts`, or as part of `npm run bench` (BENCH_SESSIONS=0
 * skips it). BENCH_SESSIONS_SECONDS: seconds per slice (default 4), BENCH_SESSIONS_PAIRS (default 3),
 * BENCH_SESSIONS_PROFILE=<file.cpuprofile>: a CPU profile of the server during one recall slice first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { BenchServer } from './bench-server.js';

const AGENTS = 50;
const SECONDS = Number(process.env.BENCH_SESSIONS_SECONDS ?? 4);
const PAIRS = Number(process.env.BENCH_SESSIONS_PAIRS ?? 3);
const TARGET = 3;

async function post(url: string, body: unknown, headers: Record<string, string>, expected: number): Promise<any> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`POST ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

interface Measure {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  errors: number;
}

async function slice(url: string, bearer: string, kind: 'noop' | 'recall' | 'remember'): Promise<Measure> {
  let next = 0;
  const sessionOf = () => `agent-${next++ % AGENTS}`;
  const headers = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
  const request =
    kind === 'noop'
      ? { method: 'GET' as const, path: '/api/v1/auth/me', headers }
      : {
          method: 'POST' as const,
          path: kind === 'recall' ? '/api/v1/recall' : '/api/v1/remember/entry',
          headers,
          setupRequest: (req: any) => ({
            ...req,
            body: JSON.stringify(
              kind === 'recall'
                ? { query: 'which deploy target did we pick', session_id: sessionOf(), scope: 'session', top_k: 5 }
                : { entry: { type: 'qa', question: 'status?', answer: `build ${next} is green` }, session_id: sessionOf() },
            ),
          }),
        };
  const result = await autocannon({ url, connections: AGENTS, duration: SECONDS, requests: [request as any] });
  return {
    requests: result.requests.total,
    seconds: SECONDS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

export async function sessionBench(): Promise<{ lines: string[]; ok: boolean }> {
  const root = mkdtempSync(join(tmpdir(), 'engram-bench-sessions-'));
  const server = await BenchServer.start('sessions', root, {});
  try {
    const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
    const password = `bench-${randomBytes(12).toString('base64url')}`;
    await post(`${server.url}/api/v1/auth/register`, { email, password }, {}, 201);
    const login = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', body: new URLSearchParams({ username: email, password }) });
    const bearer = ((await login.json()) as { access_token: string }).access_token;
    const auth = { authorization: `Bearer ${bearer}` };
    for (let a = 0; a < AGENTS; a++) {
      for (let t = 0; t < 20; t++) {
        const answer = t === 7 ? 'We picked the staging deploy target on host kestrel.' : `turn ${t} of agent ${a}: nothing notable`;
        await post(`${server.url}/api/v1/remember/entry`, { entry: { type: 'qa', question: `question ${t}`, answer }, session_id: `agent-${a}` }, auth, 200);
      }
    }
    const totals: Record<'noop' | 'recall' | 'remember', Measure[]> = { noop: [], recall: [], remember: [] };
    const profile = process.env.BENCH_SESSIONS_PROFILE;
    if (profile) {
      await server.profileStart();
      await slice(server.url, bearer, 'recall');
      await server.profileStop(profile);
    }
    for (let p = 0; p < PAIRS; p++) {
      const order: ('noop' | 'recall' | 'remember')[] = p % 2 === 0 ? ['noop', 'recall', 'remember'] : ['remember', 'recall', 'noop'];
      for (const kind of order) totals[kind].push(await slice(server.url, bearer, kind));
    }
    const rate = (ms: Measure[]) => ms.reduce((n, m) => n + m.requests, 0) / ms.reduce((n, m) => n + m.seconds, 0);
    const worst = (ms: Measure[], key: 'p50' | 'p99') => Math.max(...ms.map((m) => m[key]));
    const errors = (ms: Measure[]) => ms.reduce((n, m) => n + m.errors, 0);
    const ratio = rate(totals.noop) / rate(totals.recall);
    const ok = ratio <= TARGET && errors(totals.recall) === 0 && errors(totals.remember) === 0;
    const row = (label: string, ms: Measure[]) => `| ${label} | ${rate(ms).toFixed(0)} | ${worst(ms, 'p50')} | ${worst(ms, 'p99')} | ${errors(ms)} |`;
    const lines = [
      '## Agent sessions: remember and recall in a session',
      '',
      `${AGENTS} agents at once (autocannon connections), each request naming the next of ${AGENTS} sessions of 20 turns; SQLite, one server process; ${PAIRS} rounds of ${SECONDS} s slices, alternating. Latency in ms (worst slice).`,
      '',
      '| Route | Requests/s | p50 | p99 | Errors |',
      '|---|---:|---:|---:|---:|',
      row('GET /api/v1/auth/me (bearer, the no-op)', totals.noop),
      row('POST /api/v1/recall, scope session', totals.recall),
      row('POST /api/v1/remember/entry (qa)', totals.remember),
      '',
      `Recall from a session costs ${ratio.toFixed(2)}× the authenticated no-op (requests/s ratio; target ≤ ${TARGET}): ${ok ? 'PASS' : 'FAIL'}.`,
    ];
    return { lines, ok };
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { lines, ok } = await sessionBench();
  console.log(lines.join('\n'));
  if (!ok) process.exitCode = 1;
}
