/**
 * Document parsing off the event loop: a small pool of parser processes (`parser-worker.ts`, forked
 * with an IPC channel) that run `extractText`, so a document that is slow or heavy to parse never
 * stalls the server's requests, and one that exhausts its memory ends only its own process.
 *
 * Why processes rather than worker threads: a thread's `resourceLimits` give V8 only 16 MB of
 * leeway past the heap limit, and a single allocation larger than that (splitting a long CSV line,
 * growing an array of millions of entries) aborts the whole server process instead of the thread.
 *
 * Limits, each from the configuration:
 *   - time (`PARSER_TIMEOUT_MS`): counted from the moment a ready process takes the document (the
 *     wait for a free process and the process's start-up do not count); past it the process is
 *     killed and the next document gets a fresh one;
 *   - memory (`PARSER_MAX_MEMORY_MB`): the process's V8 heap (`--max-old-space-size`); past it V8
 *     ends the process;
 *   - pages (`PARSER_MAX_PAGES`) and the text's length (`PARSER_MAX_OUTPUT_CHARS`), checked inside
 *     the parsers; the input's size (`PARSER_MAX_INPUT_BYTES`), checked before a process is used.
 * A document stopped by a limit fails with a `ParserLimitError` naming it; any other failure of a
 * parse is an `IngestionError` (a process that dies says only that the document could not be read).
 *
 * At most `workers` processes run (`PARSER_WORKERS`); further documents wait in call order. Idle
 * processes stay for the next document but never keep the server's process alive. They get a
 * minimal environment (no secret of the server), run in the temporary directory, and their output
 * is not logged (it could echo document content); they end with the server's process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { IngestionError } from '../../security/local-paths.js';
import { ParserLimitError } from './parser-errors.js';
import type { ParseAnswer, ParseRequest } from './parser-worker.js';
import { sandboxEnv, trackChild } from '../../storage/index.js';

export interface ParserPoolOptions {
  /** Processes at once (default 2). */
  readonly workers?: number;
  /** Time one parse may take, in ms (default 60000). */
  readonly timeoutMs?: number;
  /** V8 heap of one parser, in MB (default 512). */
  readonly maxMemoryMb?: number;
  /** Pages of a PDF document (default 1000). */
  readonly maxPages?: number;
  /** Largest document, in bytes (default 50 MiB). */
  readonly maxInputBytes?: number;
  /** Longest text, in characters (default 20,000,000). */
  readonly maxOutputChars?: number;
  /** Time a parser may take to start (default 60000 ms); not counted in a parse's time. */
  readonly startupMs?: number;
}

/** What the memory engine needs of document parsing. */
export interface DocumentParsers {
  /** The text of a document, parsed within the limits. */
  extract(bytes: Buffer, info: { extension: string; mimeType: string }): Promise<string>;
  /** Stops every parser; later calls fail. */
  close(): Promise<void>;
}

const DEFAULTS = {
  workers: 2,
  timeoutMs: 60_000,
  maxMemoryMb: 512,
  maxPages: 1000,
  maxInputBytes: 50 * 1024 * 1024,
  maxOutputChars: 20_000_000,
  startupMs: 60_000,
};
const UNREADABLE = 'Could not read the document.';
const STDERR_TAIL = 4096;
/** V8's words when the heap limit ends a process. */
const OUT_OF_MEMORY = /heap out of memory|Reached heap limit/i;

/** How a parser process is started: the worker next to this module, through tsx when running from sources. */
export function parserWorkerCommand(maxMemoryMb: number): { module: string; execArgv: string[] } {
  const fromSources = import.meta.url.endsWith('.ts');
  const module = fileURLToPath(new URL(`./parser-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url));
  const heap = `--max-old-space-size=${Math.max(16, Math.floor(maxMemoryMb))}`;
  return { module, execArgv: fromSources ? [heap, '--import', import.meta.resolve('tsx')] : [heap] };
}

interface Job {
  readonly bytes: Buffer;
  readonly info: { extension: string; mimeType: string };
  readonly resolve: (text: string) => void;
  readonly reject: (error: Error) => void;
}

interface ParserProcess {
  readonly worker: ChildProcess;
  /** The job it runs, with the job's id and time limit. */
  current?: { job: Job; id: number; timer: NodeJS.Timeout };
  dead: boolean;
}

export class ParserPool implements DocumentParsers {
  readonly workers: number;
  readonly timeoutMs: number;
  readonly maxMemoryMb: number;
  readonly maxPages: number;
  readonly maxInputBytes: number;
  readonly maxOutputChars: number;
  private readonly startupMs: number;
  private readonly queue: Job[] = [];
  private readonly idle: ParserProcess[] = [];
  private readonly processes = new Set<ParserProcess>();
  /** Jobs taken from the queue and not yet settled (a parser starting for one counts). */
  private running = 0;
  private starting = 0;
  private nextId = 1;
  private closed = false;

  constructor(options: ParserPoolOptions = {}) {
    this.workers = Math.max(1, Math.floor(options.workers ?? DEFAULTS.workers));
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    this.maxMemoryMb = options.maxMemoryMb ?? DEFAULTS.maxMemoryMb;
    this.maxPages = options.maxPages ?? DEFAULTS.maxPages;
    this.maxInputBytes = options.maxInputBytes ?? DEFAULTS.maxInputBytes;
    this.maxOutputChars = options.maxOutputChars ?? DEFAULTS.maxOutputChars;
    this.startupMs = options.startupMs ?? DEFAULTS.startupMs;
  }

  /** Documents being parsed now (at most `workers`). */
  get busy(): number {
    return this.running;
  }

  /** Documents being parsed now by a ready process (`busy` less the processes still starting for theirs). */
  get parsing(): number {
    return this.running - this.starting;
  }

  /** Documents waiting for a parser. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Processes alive or starting (at most `workers`). */
  get size(): number {
    return this.processes.size + this.starting;
  }

  extract(bytes: Buffer, info: { extension: string; mimeType: string }): Promise<string> {
    if (this.closed) return Promise.reject(new IngestionError('The document parsers are stopped.'));
    if (bytes.length > this.maxInputBytes) return Promise.reject(ParserLimitError.input(bytes.length, this.maxInputBytes));
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, info, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new IngestionError('The document parsers are stopped.'));
    await Promise.all([...this.processes].map((parser) => this.kill(parser, new IngestionError('The document parsers are stopped.'))));
  }

  /** Hands waiting jobs to idle processes, starting processes up to the pool's size. */
  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      const parser = this.idle.pop();
      if (parser !== undefined) {
        this.running += 1;
        this.start(parser, this.queue.shift()!);
        continue;
      }
      if (this.size >= this.workers) return;
      const job = this.queue.shift()!;
      this.running += 1;
      this.starting += 1;
      this.spawn().then(
        (fresh) => {
          this.starting -= 1;
          this.start(fresh, job);
        },
        (error: Error) => {
          this.starting -= 1;
          this.running -= 1;
          job.reject(error);
          this.pump();
        },
      );
    }
  }

  /** A new parser process, once it says it is ready. */
  private spawn(): Promise<ParserProcess> {
    const { module, execArgv } = parserWorkerCommand(this.maxMemoryMb);
    const worker = fork(module, [], {
      execArgv,
      env: sandboxEnv(),
      cwd: tmpdir(),
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    trackChild(worker);
    const parser: ParserProcess = { worker, dead: false };
    let stderrTail = '';
    worker.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    return new Promise((resolve, reject) => {
      let ready = false;
      const startup = setTimeout(() => {
        worker.kill('SIGKILL');
        reject(new IngestionError('The document parser did not start in time.'));
      }, this.startupMs);
      worker.on('message', (answer: ParseAnswer) => {
        if (answer.type === 'ready') {
          ready = true;
          clearTimeout(startup);
          this.processes.add(parser);
          resolve(parser);
          return;
        }
        this.settle(parser, answer);
      });
      worker.once('error', () => {
        clearTimeout(startup);
        if (!ready) reject(new IngestionError('The document parser could not start.'));
        this.lost(parser, new IngestionError(UNREADABLE));
      });
      worker.once('exit', () => {
        clearTimeout(startup);
        if (!ready) reject(new IngestionError('The document parser could not start.'));
        // V8 says so on stderr when the heap limit ends the process.
        this.lost(parser, OUT_OF_MEMORY.test(stderrTail) ? ParserLimitError.memory(this.maxMemoryMb) : new IngestionError(UNREADABLE));
      });
    });
  }

  /** Gives `job` to a ready parser, with its time limit. */
  private start(parser: ParserProcess, job: Job): void {
    const id = this.nextId++;
    const timer = setTimeout(() => void this.kill(parser, ParserLimitError.time(this.timeoutMs)), this.timeoutMs);
    parser.current = { job, id, timer };
    parser.worker.ref();
    parser.worker.channel?.ref();
    const request: ParseRequest = {
      id,
      bytes: new Uint8Array(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength),
      extension: job.info.extension,
      mimeType: job.info.mimeType,
      maxPages: this.maxPages,
      maxOutputChars: this.maxOutputChars,
    };
    parser.worker.send(request, (error) => {
      if (error) void this.kill(parser, new IngestionError(UNREADABLE));
    });
  }

  /** A process's answer: the job settles and the parser takes the next one. */
  private settle(parser: ParserProcess, answer: Exclude<ParseAnswer, { type: 'ready' }>): void {
    const current = parser.current;
    if (current === undefined || current.id !== answer.id || parser.dead) return;
    clearTimeout(current.timer);
    parser.current = undefined;
    this.running -= 1;
    if (answer.type === 'text') current.job.resolve(answer.text);
    else if (answer.limit !== undefined) current.job.reject(new ParserLimitError(answer.limit, answer.message));
    else current.job.reject(new IngestionError(answer.name === 'IngestionError' ? answer.message : UNREADABLE));
    parser.worker.unref();
    parser.worker.channel?.unref();
    this.idle.push(parser);
    this.pump();
  }

  /** Stops a parser process; its job fails with `error`. */
  private async kill(parser: ParserProcess, error: Error): Promise<void> {
    this.lost(parser, error);
    if (parser.worker.exitCode !== null || parser.worker.signalCode !== null) return;
    const exited = new Promise<void>((done) => parser.worker.once('exit', () => done()));
    parser.worker.ref();
    parser.worker.kill('SIGKILL');
    await exited;
  }

  /** A parser is gone (terminated, crashed, out of memory): its job fails and another parser may start. */
  private lost(parser: ParserProcess, error: Error): void {
    if (parser.dead) return;
    parser.dead = true;
    this.processes.delete(parser);
    const index = this.idle.indexOf(parser);
    if (index >= 0) this.idle.splice(index, 1);
    const current = parser.current;
    if (current !== undefined) {
      clearTimeout(current.timer);
      parser.current = undefined;
      this.running -= 1;
      current.job.reject(error);
    }
    this.pump();
  }
}
