/**
 * The benchmark's server process as the parent sees it: bench/server.ts forked with exactly the
 * environment given, its URL once it listens, and the IPC questions of bench/protocol.ts (CPU time,
 * event-loop delay, CPU profiles, shutdown). Used by bench/run.ts and bench/load.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildReply, EldReport, ParentMessage } from './protocol.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export class BenchServer {
  private constructor(
    readonly name: string,
    readonly url: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {}

  /** Starts bench/server.ts with exactly this environment (nothing leaks in from ours). */
  static async start(name: string, root: string, env: Record<string, string>, script = 'server.ts'): Promise<BenchServer> {
    const logFile = join(root, `${name}.log`);
    const fd = openSync(logFile, 'w');
    const execArgv = ['--import', 'tsx'];
    const child = fork(join(REPO, 'bench', script), [], {
      cwd: REPO,
      execArgv,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? root,
        ENGRAM_BENCH_CWD: root,
        HTTP_API_HOST: '127.0.0.1',
        SYSTEM_ROOT_DIRECTORY: join(root, name, 'system'),
        DATA_ROOT_DIRECTORY: join(root, name, 'data'),
        RATE_LIMIT_ENABLED: 'false',
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    closeSync(fd);
    const url = await new Promise<string>((resolveUrl, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`bench server ${name} exited with ${code} before it was ready; see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`));
      child.once('exit', onExit);
      child.once('message', (message: ChildReply) => {
        child.off('exit', onExit);
        if (message.type === 'ready') resolveUrl(message.url);
        else reject(new Error(`bench server ${name}: unexpected first message ${JSON.stringify(message)}`));
      });
    });
    // A send on a closed channel reports through the send callbacks; don't let it crash the run.
    child.on('error', (error) => process.stderr.write(`bench server ${name}: ${error.message}\n`));
    return new BenchServer(name, url, logFile, child);
  }

  private ask<T extends ChildReply['type']>(message: ParentMessage, reply: T): Promise<Extract<ChildReply, { type: T }>> {
    return new Promise((resolveReply, reject) => {
      const done = () => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const onMessage = (m: ChildReply) => {
        if (m.type === 'error') {
          done();
          reject(new Error(`bench server ${this.name}: ${m.message}`));
        } else if (m.type === reply) {
          done();
          resolveReply(m as Extract<ChildReply, { type: T }>);
        }
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`bench server ${this.name} exited (${code}) before answering ${message.type}`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(message, (error) => {
        if (error) {
          done();
          reject(new Error(`bench server ${this.name}: ${error.message}`));
        }
      });
    });
  }

  /** The server process's id (for /proc/<pid>/status). */
  get pid(): number {
    return this.child.pid!;
  }

  async profileStart(): Promise<void> {
    await this.ask({ type: 'profile-start' }, 'profile-started');
  }

  async profileStop(path: string): Promise<void> {
    await this.ask({ type: 'profile-stop', path }, 'profile-saved');
  }

  async cpuMicros(): Promise<number> {
    return (await this.ask({ type: 'cpu' }, 'cpu')).micros;
  }

  eldStart(): void {
    this.child.send({ type: 'eld-start' } satisfies ParentMessage, () => undefined);
  }

  eldStop(): Promise<EldReport> {
    return this.ask({ type: 'eld-stop' }, 'eld');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'shutdown' } satisfies ParentMessage, () => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
