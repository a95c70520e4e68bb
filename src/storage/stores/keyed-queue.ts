import { Mutex } from './common.js';

/** Serial queues by key; a key's queue is dropped once it has nothing left to run. */
export class KeyedQueue {
  private readonly queues = new Map<string, { mutex: Mutex; pending: number }>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let entry = this.queues.get(key);
    if (!entry) {
      entry = { mutex: new Mutex(), pending: 0 };
      this.queues.set(key, entry);
    }
    const queue = entry;
    queue.pending += 1;
    return queue.mutex.run(task).finally(() => {
      queue.pending -= 1;
      if (queue.pending === 0 && this.queues.get(key) === queue) this.queues.delete(key);
    });
  }

  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.mutex.idle()));
  }
}
