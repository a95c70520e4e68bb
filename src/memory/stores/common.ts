/** Checks and helpers shared by the store implementations. */

export const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertCollectionName(collection: string, maxLength = 128): void {
  if (typeof collection !== 'string' || !COLLECTION_NAME.test(collection) || collection.length > maxLength) {
    throw new Error(`invalid vector collection name: ${JSON.stringify(collection)}`);
  }
}

export function assertUuidDatasetId(datasetId: string): void {
  if (typeof datasetId !== 'string' || !UUID.test(datasetId)) {
    throw new Error(`invalid dataset id (a UUID is expected): ${JSON.stringify(datasetId)}`);
  }
}

/**
 * The node-set names of a payload's `belongs_to_set`: strings as they are, objects by their
 * `name` (a serialised NodeSet DataPoint); sorted and without duplicates.
 */
export function nodeSetNames(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  const names = new Set<string>();
  for (const item of items) {
    if (typeof item === 'string') names.add(item);
    else if (item !== null && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string') {
      names.add((item as { name: string }).name);
    }
  }
  return [...names].sort();
}

/** Checks that `vector` has `dimensions` finite numbers; `what` names it in the error. */
export function assertVector(vector: readonly number[], dimensions: number, what: string): void {
  const length = vector === null || typeof vector !== 'object' ? undefined : vector.length;
  if (length !== dimensions) {
    throw new Error(`${what} has ${length ?? 'no'} dimensions, expected ${dimensions}`);
  }
  for (const x of vector) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${what} holds a non-finite value`);
  }
}

/** A serial queue: tasks run one after the other, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/**
 * A Cypher query stopped by one of its limits; `limit` says which, e.g. "its time limit of
 * 1000 ms (CYPHER_TIMEOUT_MS)", and holds nothing of the query.
 */
export class GraphQueryLimitError extends Error {
  constructor(
    readonly limit: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphQueryLimitError';
  }
}

/** A Cypher query that ran past its time limit. */
export class GraphQueryTimeoutError extends GraphQueryLimitError {
  constructor(readonly timeoutMs: number) {
    super(`its time limit of ${timeoutMs} ms (CYPHER_TIMEOUT_MS)`, `the Cypher query exceeded its time limit of ${timeoutMs} ms`);
    this.name = 'GraphQueryTimeoutError';
  }
}

/** A Cypher query whose sandbox process grew past its memory limit. */
export class GraphQueryMemoryError extends GraphQueryLimitError {
  constructor(readonly maxMemoryMb: number) {
    super(`its memory limit of ${maxMemoryMb} MB (CYPHER_MAX_MEMORY_MB)`, `the Cypher query exceeded its memory limit of ${maxMemoryMb} MB`);
    this.name = 'GraphQueryMemoryError';
  }
}

/** A Cypher query whose answer is larger than the answer size limit. */
export class GraphQueryAnswerTooLargeError extends GraphQueryLimitError {
  constructor(readonly maxBytes: number) {
    const shown = maxBytes >= 1024 * 1024 ? `${Math.round((maxBytes / (1024 * 1024)) * 10) / 10} MB` : `${maxBytes} bytes`;
    super(`its answer size limit of ${shown}`, `the Cypher query's answer exceeded its size limit of ${shown}`);
    this.name = 'GraphQueryAnswerTooLargeError';
  }
}
