import { createHash } from 'node:crypto';
import { basename, extname, join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Config } from '../../config/index.js';
import { uuid5 } from '../../ids.js';
import { FileStore, type Database } from '../../storage/index.js';
import type { DataRow, DatasetInfo, IngestItem } from '../types.js';
import { guessMimeType } from './mime.js';
import { KeyedSemaphore } from '../concurrency.js';
import { checkStorageQuota } from '../quotas.js';

/** The items of datasets: their Data rows and their stored originals (under the data root). */
export class ItemStore {
  private readonly files: FileStore;
  /** One ingestion per user at a time while quotas are on: the check and the writes go together. */
  private readonly quotaLocks = new KeyedSemaphore(1);

  constructor(
    private readonly config: Config,
    private readonly db: Kysely<Database>,
  ) {
    this.files = new FileStore(config.dataRoot);
  }

  /** Uploads live under the data root, per tenant (or per user without one) in multi-tenant mode. */
  storageDir(dataset: DatasetInfo): string {
    const root = this.config.dataRoot;
    return this.config.posture.multiTenant ? join(root, dataset.tenantId ?? dataset.ownerId) : root;
  }

  /**
   * Stores items and their Data rows. Identical content in the same dataset is one row (dedup by
   * MD5 of the bytes, the reference's `content_hash`, from which the item's id derives). Files are
   * stored under the SHA-256 of their bytes, so two different contents never share a file, even
   * when their MD5s collide; they are written atomically (temporary file, then rename).
   *
   * With a storage quota (USER_MAX_STORAGE_BYTES, USER_MAX_ITEMS), the owner's stored items are
   * counted first and an ingestion that would pass it is refused (413) before anything is written;
   * `onAdmitted` runs once it is admitted, before the writes.
   */
  async ingest(
    dataset: DatasetInfo,
    ownerId: string,
    tenantId: string | null,
    items: readonly IngestItem[],
    nodeSet: readonly string[] | null,
    onAdmitted?: () => Promise<void>,
  ): Promise<DataRow[]> {
    const quotas = this.config.quotas;
    if (quotas.maxStorageBytes === 0 && quotas.maxItems === 0) {
      await onAdmitted?.();
      return this.write(dataset, ownerId, tenantId, items, nodeSet);
    }
    return this.quotaLocks.run(ownerId, async () => {
      checkStorageQuota(await this.usage(ownerId), await this.growth(dataset, items), quotas);
      await onAdmitted?.();
      return this.write(dataset, ownerId, tenantId, items, nodeSet);
    });
  }

  /** Bytes and items the user stores now. */
  private async usage(ownerId: string): Promise<{ bytes: number; items: number }> {
    const row = await this.db
      .selectFrom('data')
      .select((eb) => [eb.fn.countAll<string | number>().as('items'), eb.fn.sum<string | number | null>('data_size').as('bytes')])
      .where('owner_id', '=', ownerId)
      .executeTakeFirst();
    return { bytes: Number(row?.bytes ?? 0), items: Number(row?.items ?? 0) };
  }

  /** What the items add: contents the dataset does not hold yet, each counted once. */
  private async growth(dataset: DatasetInfo, items: readonly IngestItem[]): Promise<{ bytes: number; items: number }> {
    const sizes = new Map<string, number>();
    for (const item of items) {
      const bytes = item.kind === 'text' ? Buffer.from(item.text, 'utf8') : item.bytes;
      sizes.set(createHash('md5').update(bytes).digest('hex'), bytes.length);
    }
    if (sizes.size === 0) return { bytes: 0, items: 0 };
    const held = await this.db
      .selectFrom('data')
      .select('content_hash')
      .where('dataset_id', '=', dataset.id)
      .where('content_hash', 'in', [...sizes.keys()])
      .execute();
    for (const row of held) sizes.delete(row.content_hash);
    return { bytes: [...sizes.values()].reduce((a, b) => a + b, 0), items: sizes.size };
  }

  private async write(
    dataset: DatasetInfo,
    ownerId: string,
    tenantId: string | null,
    items: readonly IngestItem[],
    nodeSet: readonly string[] | null,
  ): Promise<DataRow[]> {
    const dir = this.storageDir(dataset);
    const rows: DataRow[] = [];
    for (const item of items) {
      const bytes = item.kind === 'text' ? Buffer.from(item.text, 'utf8') : item.bytes;
      const hash = createHash('md5').update(bytes).digest('hex');
      const fileKey = createHash('sha256').update(bytes).digest('hex');
      const info = item.kind === 'text' ? { extension: 'txt', mimeType: 'text/plain' } : guessMimeType(item.filename, bytes);
      const safeName = item.kind === 'text' ? `text_${hash}.txt` : safeFilename(item.filename, info.extension);
      const relative = join(fileKey, safeName);
      const location = await this.files.write(dir, relative, bytes);

      const id = item.id ?? uuid5(`${hash}${dataset.id}`);
      const now = new Date().toISOString();
      const name = item.kind === 'text' ? `text_${hash}` : itemName(item.filename);
      const externalMetadata = item.externalMetadata === undefined || item.externalMetadata === null ? null : JSON.stringify(item.externalMetadata);
      await this.db
        .insertInto('data')
        .values({
          id,
          dataset_id: dataset.id,
          name,
          extension: info.extension,
          mime_type: info.mimeType,
          original_extension: info.extension,
          original_mime_type: info.mimeType,
          loader_engine: 'engram',
          raw_data_location: location,
          original_data_location: location,
          owner_id: ownerId,
          tenant_id: tenantId,
          content_hash: hash,
          raw_content_hash: hash,
          label: item.label ?? null,
          external_metadata: externalMetadata,
          node_set: nodeSet && nodeSet.length > 0 ? JSON.stringify(nodeSet) : null,
          pipeline_status: '{}',
          token_count: -1,
          data_size: bytes.length,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.columns(['dataset_id', 'content_hash']).doUpdateSet({
            updated_at: now,
            ...(item.label !== undefined && item.label !== null ? { label: item.label } : {}),
            ...(externalMetadata !== null ? { external_metadata: externalMetadata } : {}),
          }),
        )
        .execute();
      // The dataset's row of this content: the one just written, or the one that already held it.
      const row = await this.db.selectFrom('data').selectAll().where('dataset_id', '=', dataset.id).where('content_hash', '=', hash).executeTakeFirstOrThrow();
      // Content the dataset already holds keeps its stored file: the copy just written is not needed.
      if (row.raw_data_location !== location) await this.release(location);
      rows.push(row);
    }
    return rows;
  }

  /** Reads the stored original of a data row (only the server's own copies, never a user path). */
  async read(row: DataRow): Promise<Buffer> {
    return this.files.read(row.raw_data_location);
  }

  /** Deletes a stored file unless another data row still points at it. */
  async release(location: string): Promise<void> {
    const others = await this.db.selectFrom('data').select('id').where('raw_data_location', '=', location).limit(1).execute();
    if (others.length === 0) await this.files.remove(location);
  }
}

/**
 * An upload's name as its client gave it (the base name without its extension): the stored file has
 * a safe name of its own, so the row keeps the original (bounded, without NUL, which no store keeps).
 */
export function itemName(filename: string): string {
  const base = basename(filename.replace(/\\/g, '/'))
    .replace(/\u0000/g, '_')
    .slice(0, 255);
  return basename(base, extname(base)) || base || 'upload';
}

/** A stored file name: the base name only, no control or path characters, bounded length. */
export function safeFilename(filename: string, extension: string): string {
  const base = basename(filename.replace(/\\/g, '/'))
    .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_')
    .replace(/^\.+/, '')
    .slice(0, 200);
  return base === '' ? `upload.${extension}` : base;
}
