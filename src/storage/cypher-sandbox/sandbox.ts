/**
 * Runs user-supplied (and LLM-written) Cypher out of the server process (D18).
 *
 * Each query gets its own child process (`worker.ts`) that receives the dataset's
 * subgraph and the query on stdin, copies the subgraph into a fresh in-memory Kuzu database and
 * runs the query read-only there. The server kills the child with SIGKILL when it exceeds:
 *
 *   - its time limit (`CYPHER_TIMEOUT_MS`): counted from the call, so the wait for a free sandbox
 *     counts too; the child's start-up and the copy of the dataset get a separate allowance;
 *   - its memory limit (`CYPHER_MAX_MEMORY_MB`): the child's resident memory (VmRSS in
 *     /proc/<pid>/status), polled every 20 ms;
 *   - the answer size limit (a few MB of JSON): more is refused.
 *
 * At most `maxConcurrent` children run at once (`CYPHER_MAX_CONCURRENT`); further queries wait in
 * call order. A query stopped by a limit fails with a `GraphQueryLimitError` naming the limit.
 *
 * The child gets a minimal environment (`sandboxEnv`: no secret of the server), runs in the
 * temporary directory, and its stderr is kept (its last 2 KB, on the error of a failed run as
 * `stderrTail`) but never logged, since it could echo query text.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { GraphQueryAnswerTooLargeError, GraphQueryMemoryError, GraphQueryTimeoutError } from '../stores/common.js';
import type { SandboxMessage, SandboxRequest } from './worker.js';
import type { CypherRunner, SandboxGraph } from '../types.js';

export interface CypherSandboxOptions {
  /** Resident memory of one child, in MB (default 512). */
  readonly maxMemoryMb?: number;
  /** Children at once (default 2). */
  readonly maxConcurrent?: number;
  /** Largest answer, in bytes of JSON (default 8 MB). */
  readonly maxAnswerBytes?: number;
  /** Time the child may take to start and copy the dataset before the query starts (default: `STARTUP_MS`, plus 1 ms per 50 rows). */
  readonly startupMs?: number;
  /** How often the child's memory is read, in ms (default 20). */
  readonly pollMs?: number;
  /** Threads of a query in the child (default 1). */
  readonly threads?: number;
  /** Called with each child's pid once it is started (tests). */
  readonly onSpawn?: (pid: number) => void;
}

export type { SandboxGraph } from '../types.js';

/** A sandbox run that failed for another reason than a limit (e.g. a Kuzu error, a crash). */
export class CypherSandboxError extends Error {
  constructor(
    message: string,
    /** The end of the child's stderr; never log it (it could hold query text). */
    readonly stderrTail = '',
  ) {
    super(message);
    this.name = 'CypherSandboxError';
  }
}

const MB = 1024 * 1024;
const DEFAULT_MAX_MEMORY_MB = 512;
const DEFAULT_MAX_CONCURRENT = 2;
const DEFAULT_MAX_ANSWER_BYTES = 8 * MB;
/**
 * The start-up allowance of a child (node, the worker module, Kuzu) before it copies the dataset.
 * It only catches a child that never starts: the user's query is not running yet (its own limit
 * starts when it does), so it is generous enough for a machine under heavy load.
 */
export const STARTUP_MS = 30_000;
const STARTUP_MS_PER_ROW = 1 / 50;
const POLL_MS = 20;
const STDERR_TAIL = 2048;
/** Room for the answer line's envelope around the rows. */
const LINE_SLACK = 1024;

/** How the child is started: the worker next to this module, through tsx when running from sources. */
export function sandboxCommand(maxMemoryMb: number): { command: string; args: string[] } {
  const fromSources = import.meta.url.endsWith('.ts');
  const worker = fileURLToPath(new URL(`./worker.${fromSources ? 'ts' : 'js'}`, import.meta.url));
  const heap = `--max-old-space-size=${Math.max(16, Math.floor(maxMemoryMb))}`;
  const args = fromSources ? [heap, '--import', import.meta.resolve('tsx'), worker] : [heap, worker];
  return { command: process.execPath, args };
}

/**
 * The child's whole environment: PATH, and TMPDIR when set (where tsx keeps its cache, and the
 * child's working directory). Nothing else of the server's environment reaches it.
 */
export function sandboxEnv(parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'TMPDIR'] as const) {
    const value = parent[name];
    if (typeof value === 'string' && value !== '') env[name] = value;
  }
  return env;
}

/** Resident memory of a process in bytes, from /proc/<pid>/status; undefined when unknown. */
export async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Every live child process the server starts (sandboxes, parsers): killed when the server process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const each of live) each.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

interface Waiter {
  readonly grant: () => void;
  readonly timer: NodeJS.Timeout;
}

export class CypherSandbox implements CypherRunner {
  readonly maxMemoryMb: number;
  readonly maxConcurrent: number;
  readonly maxAnswerBytes: number;
  private readonly startupMs: number | undefined;
  private readonly pollMs: number;
  private readonly threads: number;
  private readonly onSpawn: ((pid: number) => void) | undefined;
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(options: CypherSandboxOptions = {}) {
    this.maxMemoryMb = options.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB;
    this.maxConcurrent = Math.max(1, Math.floor(options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT));
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    this.startupMs = options.startupMs;
    this.pollMs = options.pollMs ?? POLL_MS;
    this.threads = Math.max(1, Math.floor(options.threads ?? 1));
    this.onSpawn = options.onSpawn;
  }

  /** Children running now. */
  get active(): number {
    return this.running;
  }

  /**
   * Runs `query` on a copy of `graph` in a child process, within the limits: at most `maxRows`
   * rows, as plain JSON.
   */
  async run(graph: SandboxGraph, query: string, limits: { timeoutMs: number; maxRows: number }): Promise<Record<string, unknown>[]> {
    const { timeoutMs, maxRows } = limits;
    const started = Date.now();
    await this.acquire(timeoutMs);
    try {
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) throw new GraphQueryTimeoutError(timeoutMs);
      return await this.spawnAndRun(graph, query, { timeoutMs, left, maxRows });
    } finally {
      this.release();
    }
  }

  /** A free slot, in call order; fails with the time limit when none is free within `timeoutMs`. */
  private acquire(timeoutMs: number): Promise<void> {
    if (this.running < this.maxConcurrent && this.waiting.length === 0) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          this.running += 1;
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(new GraphQueryTimeoutError(timeoutMs));
        }, timeoutMs),
      };
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    this.running -= 1;
    const next = this.waiting.shift();
    next?.grant();
  }

  private spawnAndRun(graph: SandboxGraph, query: string, limits: { timeoutMs: number; left: number; maxRows: number }): Promise<Record<string, unknown>[]> {
    const maxMemoryBytes = this.maxMemoryMb * MB;
    const request: SandboxRequest = {
      query,
      timeoutMs: limits.left,
      maxRows: limits.maxRows,
      maxAnswerBytes: this.maxAnswerBytes,
      // Half the memory limit: Kuzu's data and working memory stay well within it.
      bufferPoolBytes: Math.floor(maxMemoryBytes / 2),
      threads: this.threads,
      nodes: graph.nodes,
      edges: graph.edges,
    };
    const input = `${JSON.stringify(request)}\n`;
    const startupMs = this.startupMs ?? STARTUP_MS + Math.ceil((graph.nodes.length + graph.edges.length) * STARTUP_MS_PER_ROW);
    const { command, args } = sandboxCommand(this.maxMemoryMb);

    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { env: sandboxEnv(), cwd: tmpdir(), stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
      trackChild(child);
      if (child.pid !== undefined) this.onSpawn?.(child.pid);

      /** Why the run ends: set once, by the first of the answer, a limit or a failure. */
      let outcome: { rows: Record<string, unknown>[] } | { error: Error } | undefined;
      let stderrTail = '';
      let stdoutBytes = 0;
      let pending: Buffer = Buffer.alloc(0);
      let polling = false;

      const stop = (error: Error): void => {
        outcome ??= { error };
        child.kill('SIGKILL');
      };
      const startupTimer = setTimeout(() => stop(new CypherSandboxError(`the Cypher sandbox did not start the query within ${startupMs} ms`)), startupMs);
      let queryTimer: NodeJS.Timeout | undefined;
      const poller = setInterval(() => {
        if (polling || child.pid === undefined) return;
        polling = true;
        void residentBytes(child.pid).then((rss) => {
          polling = false;
          if (rss !== undefined && rss > maxMemoryBytes && child.exitCode === null) stop(new GraphQueryMemoryError(this.maxMemoryMb));
        });
      }, this.pollMs);

      const onMessage = (message: SandboxMessage): void => {
        if (message.type === 'ready') {
          clearTimeout(startupTimer);
          queryTimer = setTimeout(() => stop(new GraphQueryTimeoutError(limits.timeoutMs)), limits.left);
          return;
        }
        if (message.type === 'rows') {
          outcome ??= { rows: message.rows };
          return;
        }
        const error =
          message.kind === 'time'
            ? new GraphQueryTimeoutError(limits.timeoutMs)
            : message.kind === 'memory'
              ? new GraphQueryMemoryError(this.maxMemoryMb)
              : message.kind === 'size'
                ? new GraphQueryAnswerTooLargeError(this.maxAnswerBytes)
                : new CypherSandboxError(String(message.message));
        outcome ??= { error };
      };

      child.stdout!.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (stdoutBytes > this.maxAnswerBytes + LINE_SLACK) {
          stop(new GraphQueryAnswerTooLargeError(this.maxAnswerBytes));
          return;
        }
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let newline: number;
        while ((newline = pending.indexOf(0x0a)) >= 0) {
          const line = pending.subarray(0, newline).toString('utf8');
          pending = pending.subarray(newline + 1);
          try {
            onMessage(JSON.parse(line) as SandboxMessage);
          } catch {
            stop(new CypherSandboxError('the Cypher sandbox sent an unreadable answer'));
          }
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
      });
      child.stdin!.on('error', () => undefined);
      child.once('error', (error) => stop(new CypherSandboxError(`the Cypher sandbox could not start: ${error.message}`)));
      child.once('close', (code, signal) => {
        clearTimeout(startupTimer);
        if (queryTimer) clearTimeout(queryTimer);
        clearInterval(poller);
        child.stdin!.destroy();
        const settled = outcome ?? {
          error: new CypherSandboxError(`the Cypher sandbox ended without an answer (${signal ?? `exit code ${code}`})`, stderrTail),
        };
        if ('rows' in settled) resolve(settled.rows);
        else {
          if (settled.error instanceof CypherSandboxError && settled.error.stderrTail === '' && stderrTail !== '') {
            reject(new CypherSandboxError(settled.error.message, stderrTail));
          } else reject(settled.error);
        }
      });

      // The request stays open-ended: the child exits once stdin closes (the server is gone).
      child.stdin!.write(input);
    });
  }
}
