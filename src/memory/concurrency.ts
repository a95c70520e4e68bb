/** The concurrency tools of the memory engine: per-key semaphores and locks, bounded parallel maps. */

/** A dataset at most one pipeline run at a time in this process (across instances: see the queue). */
export class DatasetLocks {
  private readonly tails = new Map<string, Promise<void>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/**
 * A counting semaphore per key (a user id): at most `limit` holders per key at once; the others
 * wait in arrival order. Keys do not wait on each other, so one user's queue never slows another's.
 */
export class KeyedSemaphore {
  private readonly held = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(readonly limit: number) {}

  /** Runs `fn` once `key` has a free place, and frees it when `fn` settles. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(key);
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  /** Places `key` holds now. */
  active(key: string): number {
    return this.held.get(key) ?? 0;
  }

  private acquire(key: string): Promise<void> {
    const count = this.held.get(key) ?? 0;
    if (count < this.limit) {
      this.held.set(key, count + 1);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(key) ?? [];
      queue.push(resolve);
      this.waiting.set(key, queue);
    });
  }

  private release(key: string): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiting.delete(key);
    // The place passes to the next waiter of the same key; the count stays.
    if (next) next();
    else {
      const count = (this.held.get(key) ?? 1) - 1;
      if (count <= 0) this.held.delete(key);
      else this.held.set(key, count);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` calls at once; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}
