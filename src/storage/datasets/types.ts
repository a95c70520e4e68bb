import type { Database } from '../relational/index.js';
import type { GraphStore, VectorStore } from '../types.js';

/** The contract of a dataset database handler (the reference's `DatasetDatabaseHandlerInterface`). */

export type DatasetDatabaseRow = Database['dataset_database'];

export interface DatasetRef {
  readonly id: string;
  readonly ownerId: string;
}

export interface DatasetDatabaseHandler {
  readonly name: string;
  readonly kind: 'graph' | 'vector';
  /** Providers this handler can serve. */
  readonly providers: readonly string[];
  /** Provisions storage; returns the row's columns for this kind. Never returns a plaintext secret. */
  createDataset(dataset: DatasetRef): Promise<Partial<DatasetDatabaseRow>>;
  /** Called before every connection; may decrypt or inject credentials into an in-memory copy. */
  resolve(row: DatasetDatabaseRow): Promise<DatasetDatabaseRow>;
  /** Deprovisions the storage. */
  deleteDataset(row: DatasetDatabaseRow): Promise<void>;
}

export interface StorePair {
  readonly graph: GraphStore;
  readonly vector: VectorStore;
}
