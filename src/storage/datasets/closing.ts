import type { StorePair } from './types.js';

/**
 * Closes dataset stores one after the other, each in a turn of the event loop of its own. Closing a
 * Kuzu database or a LanceDB connection is a synchronous native call that holds the thread (tens
 * of milliseconds for Kuzu): run from the turn that evicted the stores, closes ran back to back
 * with each other and with the request's own work, and every other request waited for them all.
 */
export class StoreCloser {
  /** The last close asked for. */
  private last: Promise<void> = Promise.resolve();

  /** Closes both stores, each in its turn; false when they never opened (nothing to close). */
  async closePair(pair: Promise<StorePair>): Promise<boolean> {
    let stores: StorePair;
    try {
      stores = await pair;
    } catch {
      return false;
    }
    await this.inTurn(() => stores.graph.close());
    await this.inTurn(() => stores.vector.close());
    return true;
  }

  /** Runs `close` in a turn of the event loop of its own, after every close asked for before it; its failure is ignored. */
  private inTurn(close: () => Promise<void>): Promise<void> {
    const turn = this.last.then(() => new Promise<void>((resolve) => setImmediate(() => void close().then(resolve, () => resolve()))));
    this.last = turn;
    return turn;
  }
}
