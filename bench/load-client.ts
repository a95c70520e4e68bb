/**
 * The load scenario's instruments (bench/load.ts): an HTTP client that records every answer's
 * latency and status per route, and a sampler of the server's resident memory and its children's.
 */
import { Agent, request as httpRequest } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';

/** Longest a single request may take before it counts as a failure (a blocking cognify under load included). */
const REQUEST_TIMEOUT_MS = 15 * 60_000;
/** First failure messages kept for the report. */
const FAILURE_SAMPLES = 10;

export interface Answer {
  readonly status: number;
  readonly body: any;
}

export interface RouteFigures {
  readonly route: string;
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Latencies per route and failures per route and status, over one client's whole life. */
export class LoadClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly latencies = new Map<string, number[]>();
  readonly failures = new Map<string, number>();
  readonly failureSamples: string[] = [];

  constructor(readonly base: string) {}

  /**
   * Sends one request and records it under `route`. An answer with a status outside `expected`, a
   * body that is not JSON, or a connection error is a failure (recorded, answered as `undefined`).
   */
  async call(
    route: string,
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string | Buffer; expected?: readonly number[]; raw?: boolean } = {},
  ): Promise<Answer | undefined> {
    const expected = options.expected ?? [200];
    const started = performance.now();
    let status = 0;
    let text = '';
    try {
      ({ status, text } = await this.send(method, path, options.headers ?? {}, options.body));
    } catch (error) {
      this.fail(route, 'error', `${method} ${path}: ${(error as Error).message}`);
      return undefined;
    }
    const elapsed = performance.now() - started;
    if (!expected.includes(status)) {
      this.fail(route, String(status), `${method} ${path}: ${status} ${text.slice(0, 300)}`);
      return undefined;
    }
    this.record(route, elapsed);
    if (options.raw) return { status, body: text };
    const body = text === '' ? undefined : safeJson(text);
    if (text !== '' && body === undefined) {
      this.fail(route, 'bad-json', `${method} ${path}: ${text.slice(0, 300)}`);
      return undefined;
    }
    return { status, body };
  }

  /** A failure that is not an HTTP status: a wrong answer to a correct request. */
  fail(route: string, kind: string, message: string): void {
    const key = `${route} → ${kind}`;
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    if (this.failureSamples.length < FAILURE_SAMPLES) this.failureSamples.push(message);
  }

  get failureCount(): number {
    return [...this.failures.values()].reduce((a, b) => a + b, 0);
  }

  private record(route: string, ms: number): void {
    let list = this.latencies.get(route);
    if (!list) this.latencies.set(route, (list = []));
    list.push(ms);
  }

  figures(): RouteFigures[] {
    return [...this.latencies.entries()].map(([route, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
      return { route, count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, headers: Record<string, string>, body: string | Buffer | undefined): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(new URL(path, this.base), { method, headers, agent: this.agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A multipart/form-data body of text fields and one file field. */
export function multipart(fields: Record<string, string>, file: { field: string; name: string; type: string; bytes: Buffer }) {
  const boundary = `----engram-bench-${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${file.field}"; filename="${file.name}"\r\ncontent-type: ${file.type}\r\n\r\n`),
    file.bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(parts) };
}

// ---------------------------------------------------------------------------------------------
// Resident memory.

export interface MemoryPeaks {
  /** The server process's VmHWM (its peak resident set), MiB. */
  serverHwmMiB: number;
  /** Per kind of child (parser, cypher sandbox, other): processes seen and the largest VmHWM of one, MiB. */
  readonly children: Map<string, { pids: Set<number>; hwmMiB: number }>;
  /** The largest sum of the server's and its descendants' resident sets at one sample, MiB. */
  totalRssMiB: number;
}

function statusKiB(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(/^(\w+):\s+(\d+) kB$/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? 0);
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text !== '') out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // The process ended between two reads.
  }
  return out;
}

function kindOf(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('parser-worker')) return 'parser';
    if (cmdline.includes('cypher-sandbox')) return 'cypher sandbox';
    return 'other';
  } catch {
    return 'other';
  }
}

/**
 * Samples /proc every `intervalMs` (Linux): the server's VmHWM and the peak of each descendant
 * process (parser and Cypher sandbox processes come and go, so they are read while they live).
 * Undefined where /proc is not available.
 */
export function sampleMemory(serverPid: number, intervalMs = 200): { stop: () => MemoryPeaks } | undefined {
  if (statusKiB(serverPid) === undefined) return undefined;
  const peaks: MemoryPeaks = { serverHwmMiB: 0, children: new Map(), totalRssMiB: 0 };
  const sample = () => {
    const server = statusKiB(serverPid);
    if (!server) return;
    peaks.serverHwmMiB = Math.max(peaks.serverHwmMiB, server.hwm / 1024);
    let total = server.rss;
    const queue = childrenOf(serverPid);
    while (queue.length > 0) {
      const pid = queue.shift()!;
      const child = statusKiB(pid);
      if (!child) continue;
      total += child.rss;
      const kind = kindOf(pid);
      let entry = peaks.children.get(kind);
      if (!entry) peaks.children.set(kind, (entry = { pids: new Set(), hwmMiB: 0 }));
      entry.pids.add(pid);
      entry.hwmMiB = Math.max(entry.hwmMiB, child.hwm / 1024);
      queue.push(...childrenOf(pid));
    }
    peaks.totalRssMiB = Math.max(peaks.totalRssMiB, total / 1024);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}
