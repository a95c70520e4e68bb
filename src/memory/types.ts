import type { Database, DatasetRef } from '../storage/index.js';

/** The memory domain's shared types. */

export type DataRow = Database['data'];

/** One item to ingest: text, or a file's bytes with its name. */
export type IngestItem = (
  | { readonly kind: 'text'; readonly text: string; readonly label?: string | null; readonly externalMetadata?: unknown }
  | { readonly kind: 'file'; readonly filename: string; readonly bytes: Buffer; readonly label?: string | null; readonly externalMetadata?: unknown }
) & {
  /** The id the item keeps (an update replaces an item's content under its id); by default derived from the content. */
  readonly id?: string;
};

export interface DatasetInfo extends DatasetRef {
  readonly name: string;
  readonly tenantId: string | null;
}
