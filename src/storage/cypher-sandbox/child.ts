/**
 * One Cypher sandbox process (`worker.ts`) seen from the server: started with its setup line, its
 * stdout read as lines of JSON and handed to whoever holds it now (the warm pool while it waits,
 * then the query it serves), the end of its stderr kept (never logged: it could echo query text).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { sandboxCommand, sandboxEnv, trackChild } from './process.js';
import type { SandboxMessage, SandboxRequest, SandboxSetup } from './worker.js';

const STDERR_TAIL = 2048;

/** What the holder of a process hears from it. */
export interface ChildListener {
  /** A line of stdout (`warm` lines too: the process is warm by then). */
  message(message: SandboxMessage): void;
  /** Bytes of stdout since the holder took the process; return false to read no further. */
  received?(bytes: number): boolean;
  /** A line that is not JSON. */
  unreadable(): void;
  /** The process could not start. */
  failed(error: Error): void;
  /** The process is gone and its output read. */
  closed(code: number | null, signal: NodeJS.Signals | null): void;
}

interface Unrefable {
  ref?(): void;
  unref?(): void;
}

export class SandboxChild {
  readonly process: ChildProcess;
  /** Its empty copy is open: a request is served without start-up. */
  warm = false;
  /** The process has exited and its output is read. */
  gone = false;
  /** Resolves once the process is gone. */
  readonly done: Promise<void>;
  private stderr = '';
  private listener: ChildListener | undefined;
  private bytes = 0;
  private pending: Buffer = Buffer.alloc(0);

  /** Starts a process with at most `maxMemoryMb` of V8 heap and gives it `setup` (it opens its empty copy at once). */
  constructor(maxMemoryMb: number, setup: SandboxSetup) {
    const { command, args } = sandboxCommand(maxMemoryMb);
    const child = spawn(command, args, { env: sandboxEnv(), cwd: tmpdir(), stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    this.process = child;
    trackChild(child);
    child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.stdin!.on('error', () => undefined);
    child.once('error', (error) => this.listener?.failed(error));
    this.done = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.gone = true;
        child.stdin!.destroy();
        this.listener?.closed(code, signal);
        resolve();
      });
    });
    child.stdin!.write(`${JSON.stringify(setup)}\n`);
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The end of its stderr (never log it). */
  get stderrTail(): string {
    return this.stderr;
  }

  /** Hands the process to a new holder; the bytes count from here. */
  listen(listener: ChildListener): void {
    this.listener = listener;
    this.bytes = 0;
  }

  /** Sends the one query it serves (the request stays open-ended: it exits once stdin closes). */
  send(request: SandboxRequest): void {
    this.process.stdin!.write(`${JSON.stringify(request)}\n`);
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }

  /** Whether the process keeps the server's event loop alive: not while it waits in the pool. */
  keepAlive(on: boolean): void {
    const handles = [this.process, this.process.stdin, this.process.stdout, this.process.stderr] as Unrefable[];
    for (const handle of handles) (on ? handle.ref : handle.unref)?.call(handle);
  }

  private read(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.listener?.received?.(this.bytes) === false) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let newline: number;
    while ((newline = this.pending.indexOf(0x0a)) >= 0) {
      const line = this.pending.subarray(0, newline).toString('utf8');
      this.pending = this.pending.subarray(newline + 1);
      let message: SandboxMessage;
      try {
        message = JSON.parse(line) as SandboxMessage;
      } catch {
        this.listener?.unreadable();
        continue;
      }
      if (message.type === 'warm') this.warm = true;
      this.listener?.message(message);
    }
  }
}
