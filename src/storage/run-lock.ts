/** Exclusive use of a dataset across instances: resolves once held; the returned function releases it. */
export interface RunLock {
  acquire(datasetId: string): Promise<() => Promise<void>>;
  /** Takes the lock only if nobody holds it (a crashed holder's lock is free). */
  tryAcquire(datasetId: string): Promise<(() => Promise<void>) | undefined>;
}

/** One process: the in-process lock is all there is; it knows which datasets a run holds here. */
export class LocalRunLock implements RunLock {
  private readonly held = new Map<string, number>();
  private hold(datasetId: string): () => Promise<void> {
    this.held.set(datasetId, (this.held.get(datasetId) ?? 0) + 1);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      const n = (this.held.get(datasetId) ?? 1) - 1;
      if (n <= 0) this.held.delete(datasetId);
      else this.held.set(datasetId, n);
    };
  }
  async acquire(datasetId: string): Promise<() => Promise<void>> {
    return this.hold(datasetId);
  }
  async tryAcquire(datasetId: string): Promise<(() => Promise<void>) | undefined> {
    return this.held.has(datasetId) ? undefined : this.hold(datasetId);
  }
}
