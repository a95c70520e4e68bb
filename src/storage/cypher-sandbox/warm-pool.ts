/**
 * The Cypher sandbox's warm processes (`CYPHER_SANDBOX_POOL_SIZE`): a few sandbox processes
 * started ahead of the queries, each with node, the worker module, Kuzu and an empty in-memory
 * copy (the store's schema, no data) ready, so a query skips the process's start-up.
 *
 * Every process serves one query only: `take` removes it from the pool for good, and it exits
 * after its answer or is killed at a limit, so no dataset's data ever reaches another query. Its
 * replacement starts once it is gone, one process starting at a time, so the refill takes little
 * of a small machine's CPU from the queries. The pool fills on the first
 * query (a server that never runs Cypher starts none). A warm waiting process keeps no event loop
 * alive and holds no data; one that dies while waiting is replaced if it had been warm (one that
 * died starting is replaced only by the next query, so a process that cannot start never loops).
 * `close` kills the waiting ones; with size 0 every query starts its own process.
 */
import type { SandboxChild } from './child.js';

export class WarmPool {
  private readonly idle: SandboxChild[] = [];
  private closed = false;
  private watchers: Array<() => void> = [];

  constructor(
    /** Processes kept waiting. */
    readonly size: number,
    /** Starts a process (its setup line sent); `waits`: it will wait in the pool (so it primes Kuzu first). */
    private readonly start: (waits: boolean) => SandboxChild,
  ) {}

  /** The pids of the processes waiting now (tests). */
  get idlePids(): number[] {
    return this.idle.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  /**
   * A process for one query: a waiting one (warm first), else a new one. Its place is refilled
   * once it is gone (answered, or killed at a limit), so a query never shares the CPU with the
   * start of its replacement.
   */
  take(): SandboxChild {
    const warm = this.idle.findIndex((child) => child.warm);
    const [waiting] = warm >= 0 ? this.idle.splice(warm, 1) : this.idle.splice(0, 1);
    const child = waiting ?? this.start(false);
    child.keepAlive(true);
    void child.done.then(() => this.fill());
    return child;
  }

  /** Starts processes until `size` wait (unless closed), one at a time: the next once the last is warm. */
  fill(): void {
    if (this.closed || this.idle.length >= this.size || this.idle.some((child) => !child.warm)) return;
    // A starting process keeps the event loop alive until it is warm (a few seconds at most).
    const child = this.start(true);
    this.idle.push(child);
    child.listen({
      message: (message) => {
        // A waiting process says only that it is warm; anything else means it is broken.
        if (message.type === 'warm') {
          child.keepAlive(false);
          this.fill();
        } else child.kill();
        this.notify();
      },
      unreadable: () => child.kill(),
      failed: () => child.kill(),
      closed: () => {
        const index = this.idle.indexOf(child);
        if (index >= 0) this.idle.splice(index, 1);
        if (index >= 0 && child.warm) this.fill();
        this.notify();
      },
    });
  }

  /**
   * Resolves once `size` warm processes wait, or once the filling stopped (a process died before
   * it was warm; the next `fill` tries again); at once when closed or of size 0 (tests, benchmarks).
   */
  full(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closed || this.idle.every((child) => child.warm)) resolve();
        else this.watchers.push(check);
      };
      check();
    });
  }

  /** Kills the waiting processes and starts no more; resolves once they are gone. */
  async close(): Promise<void> {
    this.closed = true;
    const waiting = this.idle.splice(0);
    for (const child of waiting) {
      child.keepAlive(true);
      child.kill();
    }
    this.notify();
    await Promise.all(waiting.map((child) => child.done));
  }

  private notify(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const watcher of watchers) watcher();
  }
}
