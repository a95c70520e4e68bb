/**
 * Runs user-supplied (and LLM-written) Cypher out of the server process (D18).
 *
 * Each query gets its own child process (`worker.ts`): it receives the dataset's subgraph and the
 * query on stdin, copies the subgraph into a fresh in-memory Kuzu database and runs the query
 * read-only there, then exits. Up to `poolSize` processes (`CYPHER_SANDBOX_POOL_SIZE`) are started
 * ahead of the queries and wait with their empty database open (`warm-pool.ts`), so a query skips
 * the process's start-up; each still serves one query only. The server kills the child with
 * SIGKILL when it exceeds:
 *
 *   - its time limit (`CYPHER_TIMEOUT_MS`): counted from the call, so the wait for a free sandbox
 *     counts too; the child's start-up and the copy of the dataset get a separate allowance;
 *   - its memory limit (`CYPHER_MAX_MEMORY_MB`): the child's resident memory (VmRSS in
 *     /proc/<pid>/status), polled every 20 ms;
 *   - the answer size limit (a few MB of JSON): more is refused.
 *
 * At most `maxConcurrent` children run queries at once (`CYPHER_MAX_CONCURRENT`); further queries
 * wait in call order. A query stopped by a limit fails with a `GraphQueryLimitError` naming the limit.
 *
 * The child gets a minimal environment (`sandboxEnv`: no secret of the server), runs in the
 * temporary directory, and its stderr is kept (its last 2 KB, on the error of a failed run as
 * `stderrTail`) but never logged, since it could echo query text.
 */
import { GraphQueryAnswerTooLargeError, GraphQueryMemoryError, GraphQueryTimeoutError } from '../stores/common.js';
import { SandboxChild } from './child.js';
import { residentBytes } from './process.js';
import { WarmPool } from './warm-pool.js';
import type { SandboxMessage, SandboxRequest } from './worker.js';
import type { CypherRunner, SandboxGraph } from '../types.js';

export { residentBytes, sandboxCommand, sandboxEnv, trackChild } from './process.js';

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
  /** Processes started ahead of the queries and kept waiting (default 0: each query starts its own). */
  readonly poolSize?: number;
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
/** Room for the answer line's envelope around the rows. */
const LINE_SLACK = 1024;

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
  private readonly pool: WarmPool;

  constructor(options: CypherSandboxOptions = {}) {
    this.maxMemoryMb = options.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB;
    this.maxConcurrent = Math.max(1, Math.floor(options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT));
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    this.startupMs = options.startupMs;
    this.pollMs = options.pollMs ?? POLL_MS;
    this.threads = Math.max(1, Math.floor(options.threads ?? 1));
    this.onSpawn = options.onSpawn;
    this.pool = new WarmPool(Math.max(0, Math.floor(options.poolSize ?? 0)), (waits) => {
      const child = new SandboxChild(this.maxMemoryMb, { bufferPoolBytes: this.bufferPoolBytes, threads: this.threads, prime: waits });
      if (child.pid !== undefined) this.onSpawn?.(child.pid);
      return child;
    });
  }

  /** Half the memory limit: Kuzu's data and working memory stay well within it. */
  private get bufferPoolBytes(): number {
    return Math.floor((this.maxMemoryMb * MB) / 2);
  }

  /** Processes kept waiting for a query. */
  get poolSize(): number {
    return this.pool.size;
  }

  /** The pids of the processes waiting for a query now (tests). */
  get idlePids(): number[] {
    return this.pool.idlePids;
  }

  /** Starts the waiting processes now (they start on the first query otherwise); resolves once they are warm. */
  warmUp(): Promise<void> {
    this.pool.fill();
    return this.pool.full();
  }

  /** Kills the waiting processes; later queries each start their own. Resolves once they are gone. */
  close(): Promise<void> {
    return this.pool.close();
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
      nodes: graph.nodes,
      edges: graph.edges,
    };
    const startupMs = this.startupMs ?? STARTUP_MS + Math.ceil((graph.nodes.length + graph.edges.length) * STARTUP_MS_PER_ROW);

    return new Promise((resolve, reject) => {
      const child = this.pool.take();
      const pid = child.pid;

      /** Why the run ends: set once, by the first of the answer, a limit or a failure. */
      let outcome: { rows: Record<string, unknown>[] } | { error: Error } | undefined;
      let polling = false;

      const stop = (error: Error): void => {
        outcome ??= { error };
        child.kill();
      };
      const startupTimer = setTimeout(() => stop(new CypherSandboxError(`the Cypher sandbox did not start the query within ${startupMs} ms`)), startupMs);
      let queryTimer: NodeJS.Timeout | undefined;
      const poller = setInterval(() => {
        if (polling || pid === undefined) return;
        polling = true;
        void residentBytes(pid).then((rss) => {
          polling = false;
          if (rss !== undefined && rss > maxMemoryBytes && !child.gone) stop(new GraphQueryMemoryError(this.maxMemoryMb));
        });
      }, this.pollMs);

      const onMessage = (message: SandboxMessage): void => {
        if (message.type === 'warm') return;
        if (message.type === 'ready') {
          clearTimeout(startupTimer);
          queryTimer = setTimeout(() => stop(new GraphQueryTimeoutError(limits.timeoutMs)), limits.left);
          return;
        }
        // The answer is the process's last word: it serves no other query, so it is killed (its
        // teardown is not waited for) and the run ends now.
        outcome ??= message.type === 'rows' ? { rows: message.rows } : { error: answerError(message) };
        child.kill();
        finish();
      };
      const answerError = (message: Extract<SandboxMessage, { type: 'error' }>): Error =>
        message.kind === 'time'
          ? new GraphQueryTimeoutError(limits.timeoutMs)
          : message.kind === 'memory'
            ? new GraphQueryMemoryError(this.maxMemoryMb)
            : message.kind === 'size'
              ? new GraphQueryAnswerTooLargeError(this.maxAnswerBytes)
              : new CypherSandboxError(String(message.message), child.stderrTail);

      /** Settles the run once, with its outcome (a process that ended without one says so). */
      let finished = false;
      const finish = (code: number | null = null, signal: NodeJS.Signals | null = null): void => {
        if (finished) return;
        finished = true;
        clearTimeout(startupTimer);
        if (queryTimer) clearTimeout(queryTimer);
        clearInterval(poller);
        const stderrTail = child.stderrTail;
        const settled = outcome ?? {
          error: new CypherSandboxError(`the Cypher sandbox ended without an answer (${signal ?? `exit code ${code}`})`, stderrTail),
        };
        if ('rows' in settled) resolve(settled.rows);
        else if (settled.error instanceof CypherSandboxError && settled.error.stderrTail === '' && stderrTail !== '') {
          reject(new CypherSandboxError(settled.error.message, stderrTail));
        } else reject(settled.error);
      };

      child.listen({
        message: onMessage,
        received: (bytes) => {
          if (bytes <= this.maxAnswerBytes + LINE_SLACK) return true;
          stop(new GraphQueryAnswerTooLargeError(this.maxAnswerBytes));
          return false;
        },
        unreadable: () => stop(new CypherSandboxError('the Cypher sandbox sent an unreadable answer')),
        failed: (error) => stop(new CypherSandboxError(`the Cypher sandbox could not start: ${error.message}`)),
        // A run stopped at a limit ends once its process is gone.
        closed: finish,
      });
      // A process that dies before it reads the request ends the run through `closed` above.
      child.send(request);
    });
  }
}
