/**
 * The embedded vector store: LanceDB tables in a local directory (single-user mode and the
 * default vector backend).
 *
 * One LanceDB table holds one collection (e.g. `DocumentChunk_text`) for every dataset; each row
 * carries its `dataset_id`, and every read, write and delete is filtered on it, so datasets that
 * share the directory never see or touch each other's points, even with identical ids and vectors.
 *
 * Rows: `dataset_id` (utf8), `id` (utf8), `vector` (FixedSizeList<Float32>(dimensions)),
 * `payload` (utf8, the JSON payload) and `belongs_to_set` (utf8: the JSON array of the point's
 * node-set names, '' when it has none).
 *
 * No vector index is ever created, so every search is an exact (flat) cosine scan of the
 * dataset's rows, with the dataset filter applied before the scan (prefilter).
 *
 * Every write adds files (fragments) to a table, and reads and merges slow down with their
 * number, so each table is compacted (`optimize`) in the background after every
 * COMPACT_EVERY writes made through this store.
 */
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Schema, Utf8 } from 'apache-arrow';
import { COLLECTION_NAME, Mutex, assertCollectionName, assertVector as checkVector, assertUuidDatasetId, nodeSetNames } from './common.js';
import type { VectorHit, VectorPoint, VectorSearchOptions, VectorStore } from '../types.js';

/** Ids per `id IN (...)` predicate when deleting. */
const DELETE_BATCH = 500;
const MAX_DIMENSIONS = 65_536;
/** Writes (upserts and deletes) to one table between two compactions. */
const COMPACT_EVERY = 32;

/** The row columns, in table order. */
const COLUMNS = ['dataset_id', 'id', 'vector', 'payload', 'belongs_to_set'] as const;

interface Row {
  dataset_id: string;
  id: string;
  vector: number[];
  payload: string;
  belongs_to_set: string;
}

/** A SQL string literal for LanceDB filters (single quotes doubled). */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export class LanceVectorStore implements VectorStore {
  private readonly tables = new Map<string, lancedb.Table>();
  /** Tables being opened or created, by collection. */
  private readonly opening = new Map<string, Promise<lancedb.Table | null>>();
  private readonly locks = new Map<string, Mutex>();
  private readonly writes = new Map<string, number>();
  private readonly schema: Schema;
  private closed = false;

  private constructor(
    private readonly db: lancedb.Connection,
    readonly dimensions: number,
  ) {
    this.schema = new Schema([
      new Field('dataset_id', new Utf8(), false),
      new Field('id', new Utf8(), false),
      new Field('vector', new FixedSizeList(dimensions, new Field('item', new Float32(), true)), false),
      new Field('payload', new Utf8(), false),
      new Field('belongs_to_set', new Utf8(), false),
    ]);
  }

  /** Opens (creating it when missing) the LanceDB directory `dir`. */
  static async open(dir: string, dimensions: number): Promise<LanceVectorStore> {
    if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
      throw new Error(`invalid vector dimensions: ${dimensions}`);
    }
    // readConsistencyInterval 0: every read sees writes made through other connections to the
    // same directory (another store instance, another process) at once.
    const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
    return new LanceVectorStore(db, dimensions);
  }

  async upsert(datasetId: string, collection: string, points: readonly VectorPoint[]): Promise<void> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    // The last occurrence of an id in one call wins.
    const rows = new Map<string, Row>();
    for (const point of points) rows.set(point.id, this.toRow(datasetId, point));
    if (rows.size === 0) return;
    await this.lock(collection).run(async () => {
      const table = await this.table(collection, true);
      await table!
        .mergeInsert(['dataset_id', 'id'])
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute([...rows.values()] as unknown as Record<string, unknown>[]);
    });
    this.wrote(collection);
  }

  async search(datasetId: string, collection: string, vector: readonly number[], options: VectorSearchOptions): Promise<VectorHit[]> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    this.assertVector(vector, 'query vector');
    const limit = options.limit;
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`invalid search limit: ${limit}`);
    // Cosine distance is undefined for a zero vector: nothing is near it.
    if (limit === 0 || vector.every((x) => x === 0)) return [];
    const table = await this.table(collection, false);
    if (!table) return [];

    const wanted = options.nodeSets && options.nodeSets.length > 0 ? new Set(options.nodeSets) : null;
    let filter = `dataset_id = ${sqlString(datasetId)}`;
    if (wanted) {
      // A JSON-encoded name is a substring of the JSON array of every point that holds it; the
      // rare false positives (names containing quotes) are removed by the exact check below.
      const any = [...wanted].map((name) => `strpos(belongs_to_set, ${sqlString(JSON.stringify(name))}) > 0`);
      filter += ` AND (${any.join(' OR ')})`;
    }
    const query = Float32Array.from(vector);
    for (let fetch = limit; ; fetch *= 4) {
      const rows = (await table
        .vectorSearch(query)
        .distanceType('cosine')
        .where(filter)
        .select(['id', 'payload', 'belongs_to_set', '_distance'])
        .limit(fetch)
        .toArray()) as Array<{ id: string; payload: string; belongs_to_set: string; _distance: number | null }>;
      const hits: VectorHit[] = [];
      for (const row of rows) {
        if (row._distance === null || Number.isNaN(row._distance)) continue;
        if (wanted) {
          const names: unknown = row.belongs_to_set === '' ? [] : JSON.parse(row.belongs_to_set);
          if (!Array.isArray(names) || !names.some((name) => wanted.has(name as string))) continue;
        }
        hits.push({ id: row.id, score: row._distance, payload: JSON.parse(row.payload) as Record<string, unknown> });
        if (hits.length === limit) break;
      }
      // Enough hits, or every candidate seen.
      if (hits.length === limit || rows.length < fetch || !wanted) return hits;
    }
  }

  async collections(datasetId: string): Promise<string[]> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    const filter = `dataset_id = ${sqlString(datasetId)}`;
    const found: string[] = [];
    for (const name of await this.tableNames()) {
      const table = await this.table(name, false);
      if (!table) continue;
      const rows = await table.query().where(filter).select(['id']).limit(1).toArray();
      if (rows.length > 0) found.push(name);
    }
    return found.sort();
  }

  async presentIds(datasetId: string, collection: string, ids: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    const unique = [...new Set(ids)];
    const found = new Set<string>();
    const table = unique.length > 0 ? await this.table(collection, false) : undefined;
    if (!table) return found;
    for (let i = 0; i < unique.length; i += DELETE_BATCH) {
      const batch = unique.slice(i, i + DELETE_BATCH);
      const rows = (await table
        .query()
        .where(`dataset_id = ${sqlString(datasetId)} AND id IN (${batch.map(sqlString).join(', ')})`)
        .select(['id'])
        .limit(batch.length)
        .toArray()) as Array<{ id: string }>;
      for (const row of rows) found.add(row.id);
    }
    return found;
  }

  async deleteIds(datasetId: string, collection: string, ids: readonly string[]): Promise<void> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    const unique = [...new Set(ids)];
    if (unique.length === 0) return;
    await this.lock(collection).run(async () => {
      const table = await this.table(collection, false);
      if (!table) return;
      for (let i = 0; i < unique.length; i += DELETE_BATCH) {
        const list = unique
          .slice(i, i + DELETE_BATCH)
          .map(sqlString)
          .join(', ');
        await table.delete(`dataset_id = ${sqlString(datasetId)} AND id IN (${list})`);
      }
    });
    this.wrote(collection);
  }

  async deleteDataset(datasetId: string): Promise<void> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    for (const name of await this.tableNames()) {
      await this.lock(name).run(async () => {
        this.assertOpen();
        const table = await this.table(name, false);
        if (table) await table.delete(`dataset_id = ${sqlString(datasetId)}`);
      });
      this.wrote(name);
    }
  }

  /** The query plan of a search, for diagnostics (it shows whether an index or a flat scan is used). */
  async explainSearch(datasetId: string, collection: string, vector: readonly number[], limit: number): Promise<string> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    this.assertVector(vector, 'query vector');
    const table = await this.table(collection, false);
    if (!table) return '';
    return table
      .vectorSearch(Float32Array.from(vector))
      .distanceType('cosine')
      .where(`dataset_id = ${sqlString(datasetId)}`)
      .select(['id', 'payload', 'belongs_to_set', '_distance'])
      .limit(limit)
      .explainPlan(true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let writes already under way finish.
    await Promise.all([...this.locks.values()].map((lock) => lock.idle()));
    for (const table of this.tables.values()) table.close();
    this.tables.clear();
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the LanceDB vector store is closed');
  }

  private assertVector(vector: readonly number[], what: string): void {
    checkVector(vector, this.dimensions, what);
  }

  private toRow(datasetId: string, point: VectorPoint): Row {
    if (typeof point.id !== 'string' || point.id === '') throw new Error('a vector point needs a non-empty string id');
    this.assertVector(point.vector, `vector of point ${point.id}`);
    const names = nodeSetNames(point.payload.belongs_to_set);
    return {
      dataset_id: datasetId,
      id: point.id,
      vector: [...point.vector],
      payload: JSON.stringify(point.payload),
      belongs_to_set: names.length > 0 ? JSON.stringify(names) : '',
    };
  }

  /** Counts a write to the table and, every COMPACT_EVERY writes, queues its compaction. */
  private wrote(collection: string): void {
    const count = (this.writes.get(collection) ?? 0) + 1;
    if (count < COMPACT_EVERY) {
      this.writes.set(collection, count);
      return;
    }
    this.writes.set(collection, 0);
    void this.lock(collection)
      .run(async () => {
        const table = this.tables.get(collection);
        // Files replaced by the compaction are kept (7 days by default) for concurrent readers.
        if (table && !this.closed) await table.optimize();
      })
      // Compaction only affects speed; a failed one is retried after the next writes.
      .catch(() => this.writes.set(collection, COMPACT_EVERY - 1));
  }

  private lock(collection: string): Mutex {
    let lock = this.locks.get(collection);
    if (!lock) {
      lock = new Mutex();
      this.locks.set(collection, lock);
    }
    return lock;
  }

  /** Every table of the directory that can be a collection. */
  private async tableNames(): Promise<string[]> {
    const names: string[] = [];
    const page = 1000;
    for (let startAfter: string | undefined; ; ) {
      const batch = await this.db.tableNames(startAfter === undefined ? { limit: page } : { startAfter, limit: page });
      names.push(...batch);
      if (batch.length < page) break;
      startAfter = batch[batch.length - 1];
    }
    return names.filter((name) => COLLECTION_NAME.test(name));
  }

  /**
   * The collection's table; null when it does not exist and `create` is false. Calls for a
   * collection whose table is being opened or created wait for that one attempt (a search during the
   * write that creates the table gets the new table, not a half-created one).
   */
  private async table(collection: string, create: boolean): Promise<lancedb.Table | null> {
    const cached = this.tables.get(collection);
    if (cached) return cached;
    const pending = this.opening.get(collection);
    if (pending) {
      const table = await pending;
      // The attempt under way was a read that found no table: this call creates it.
      return table || !create ? table : this.table(collection, create);
    }
    const attempt = this.openTable(collection, create).finally(() => this.opening.delete(collection));
    this.opening.set(collection, attempt);
    return attempt;
  }

  private async openTable(collection: string, create: boolean): Promise<lancedb.Table | null> {
    let table: lancedb.Table;
    try {
      table = await this.db.openTable(collection);
    } catch {
      if ((await this.tableNames()).includes(collection)) {
        // It exists now (another store on the directory created it since our attempt), or it is
        // damaged: opening it again tells which.
        table = await this.db.openTable(collection);
      } else {
        if (!create) return null;
        // existOk: another store on the directory may create it at the same time.
        table = await this.db.createEmptyTable(collection, this.schema, { mode: 'create', existOk: true });
      }
    }
    await this.checkSchema(collection, table);
    // Another call may have opened it meanwhile: keep one handle.
    const raced = this.tables.get(collection);
    if (raced) {
      table.close();
      return raced;
    }
    this.tables.set(collection, table);
    return table;
  }

  private async checkSchema(collection: string, table: lancedb.Table): Promise<void> {
    const schema = await table.schema();
    const names = schema.fields.map((field) => field.name);
    const vector = schema.fields.find((field) => field.name === 'vector');
    const size = (vector?.type as { listSize?: number } | undefined)?.listSize;
    if (COLUMNS.some((column) => !names.includes(column)) || size !== this.dimensions) {
      table.close();
      throw new Error(
        `LanceDB table ${collection} does not match this store (columns ${names.join(', ')}; vector size ${size ?? 'none'}, expected ${this.dimensions})`,
      );
    }
  }
}

export { assertCollectionName, assertUuidDatasetId, nodeSetNames };
