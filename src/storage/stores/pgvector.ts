/**
 * The PostgreSQL vector store: pgvector tables in one schema of the database.
 *
 * One table per collection, `"<schema>"."<collection>"`, holds the points of every dataset
 * stored in that schema, keyed by (dataset_id, id); every statement filters on the dataset, so
 * datasets sharing a schema never see or touch each other's points. A schema per dataset is also
 * possible (open one store per schema; dropSchema() removes one).
 *
 * Vectors travel as pgvector's text form `[1,2,3]`. Types, operators and functions of the
 * extension are qualified with the schema the extension lives in, so the store does not depend
 * on the connection's search_path. No vector index is created: searches are exact scans of the
 * dataset's rows.
 */
import { COLLECTION_NAME, assertCollectionName as checkCollectionName, assertVector as checkVector, assertUuidDatasetId, nodeSetNames } from './common.js';
import type { Pool, PoolClient } from 'pg';
import type { VectorHit, VectorPoint, VectorSearchOptions, VectorStore } from '../types.js';

/** PostgreSQL truncates identifiers to 63 bytes; longer names would collide. */
const MAX_IDENTIFIER = 63;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Rows per INSERT statement. */
const UPSERT_BATCH = 500;
/** pgvector's limit for the vector type. */
const MAX_DIMENSIONS = 16_000;

/** SQLSTATEs of a concurrent CREATE ... IF NOT EXISTS that lost the race: the object exists. */
const ALREADY_EXISTS = new Set(['23505', '42710', '42P06', '42P07']);
/** SQLSTATEs of a missing table or schema. */
const MISSING = new Set(['42P01', '3F000']);

function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A double-quoted SQL identifier. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function assertSchemaName(schema: string): void {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema) || schema.startsWith('pg_') || schema === 'information_schema') {
    throw new Error(`invalid vector schema name: ${JSON.stringify(schema)}`);
  }
}

export function assertCollectionName(collection: string): void {
  checkCollectionName(collection, MAX_IDENTIFIER);
}

/** Runs a CREATE ... IF NOT EXISTS, accepting that a concurrent session created the object first. */
async function createIfMissing(pool: Pool, sql: string): Promise<void> {
  try {
    await pool.query(sql);
  } catch (error) {
    if (!ALREADY_EXISTS.has(pgCode(error) ?? '')) throw error;
  }
}

/** Drops a schema and every table in it (a per-dataset schema whose dataset is deleted). */
export async function dropSchema(pool: Pool, schema: string): Promise<void> {
  assertSchemaName(schema);
  if (schema === 'public') throw new Error('refusing to drop the public schema');
  await pool.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
}

interface Row {
  id: string;
  payload: string;
  sets: string;
  embedding: string;
}

export class PgVectorStore implements VectorStore {
  /** Collections whose table is known to exist (with the right shape), by name. */
  private readonly ready = new Map<string, Promise<void>>();
  private closed = false;
  private readonly vectorType: string;
  private readonly cosine: string;

  private constructor(
    private readonly pool: Pool,
    readonly schema: string,
    readonly dimensions: number,
    extensionSchema: string,
  ) {
    this.vectorType = `${ident(extensionSchema)}.vector`;
    this.cosine = `OPERATOR(${ident(extensionSchema)}.<=>)`;
  }

  /**
   * Prepares the schema (and, unless `createExtension` is false, the vector extension) and
   * returns the store. The pool stays the caller's: close() does not end it.
   */
  static async open(opts: { pool: Pool; schema: string; dimensions: number; createExtension?: boolean }): Promise<PgVectorStore> {
    const { pool, schema, dimensions } = opts;
    assertSchemaName(schema);
    if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
      throw new Error(`invalid vector dimensions: ${dimensions}`);
    }
    if (opts.createExtension ?? true) await createIfMissing(pool, 'CREATE EXTENSION IF NOT EXISTS vector');
    const found = await pool.query<{ nspname: string }>(
      `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'`,
    );
    const extensionSchema = found.rows[0]?.nspname;
    if (extensionSchema === undefined) throw new Error('the pgvector extension (vector) is not installed in this database');
    await createIfMissing(pool, `CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    return new PgVectorStore(pool, schema, dimensions, extensionSchema);
  }

  async upsert(datasetId: string, collection: string, points: readonly VectorPoint[]): Promise<void> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    // The last occurrence of an id in one call wins; rows go in id order so that concurrent
    // upserts of overlapping points lock them in the same order.
    const byId = new Map<string, Row>();
    for (const point of points) byId.set(point.id, this.toRow(point));
    if (byId.size === 0) return;
    const rows = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const table = this.table(collection);
    const sql = `INSERT INTO ${table} (dataset_id, id, payload, belongs_to_set, embedding)
      SELECT $1, u.id, u.payload::jsonb, ARRAY(SELECT jsonb_array_elements_text(u.sets::jsonb)), u.embedding::${this.vectorType}
      FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, payload, sets, embedding)
      ON CONFLICT (dataset_id, id) DO UPDATE
      SET payload = EXCLUDED.payload, belongs_to_set = EXCLUDED.belongs_to_set, embedding = EXCLUDED.embedding`;
    await this.withTable(collection, () =>
      this.transaction(async (client) => {
        for (let i = 0; i < rows.length; i += UPSERT_BATCH) {
          const batch = rows.slice(i, i + UPSERT_BATCH);
          await client.query(sql, [datasetId, batch.map((r) => r.id), batch.map((r) => r.payload), batch.map((r) => r.sets), batch.map((r) => r.embedding)]);
        }
      }),
    );
  }

  async search(datasetId: string, collection: string, vector: readonly number[], options: VectorSearchOptions): Promise<VectorHit[]> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    const query = this.vectorText(vector, 'query vector');
    const limit = options.limit;
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`invalid search limit: ${limit}`);
    // Cosine distance is undefined for a zero vector: nothing is near it.
    if (limit === 0 || vector.every((x) => x === 0)) return [];
    const params: unknown[] = [query, datasetId, limit];
    let sets = '';
    if (options.nodeSets && options.nodeSets.length > 0) {
      params.push([...options.nodeSets]);
      sets = ' AND belongs_to_set && $4::text[]';
    }
    const distance = `embedding ${this.cosine} $1::${this.vectorType}`;
    let rows: Array<{ id: string; payload: Record<string, unknown>; score: number }>;
    try {
      const result = await this.pool.query<{ id: string; payload: Record<string, unknown>; score: number }>(
        `SELECT id, payload, ${distance} AS score FROM ${this.table(collection)}
         WHERE dataset_id = $2${sets} ORDER BY ${distance} LIMIT $3`,
        params,
      );
      rows = result.rows;
    } catch (error) {
      if (MISSING.has(pgCode(error) ?? '')) return [];
      throw error;
    }
    // A stored zero vector has a NaN distance, which PostgreSQL sorts after every number: dropping
    // those rows never leaves out a nearer point.
    return rows.filter((row) => !Number.isNaN(row.score)).map((row) => ({ id: row.id, score: row.score, payload: row.payload }));
  }

  async collections(datasetId: string): Promise<string[]> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    for (let attempt = 0; ; attempt++) {
      const names = await this.tableNames();
      if (names.length === 0) return [];
      const probes = names.map((name, i) => `SELECT $${i + 2}::text AS name WHERE EXISTS (SELECT 1 FROM ${this.table(name)} WHERE dataset_id = $1)`);
      try {
        const result = await this.pool.query<{ name: string }>(probes.join(' UNION ALL '), [datasetId, ...names]);
        return result.rows.map((row) => row.name).sort();
      } catch (error) {
        // A table dropped between the listing and the probe: list again.
        if (attempt < 2 && MISSING.has(pgCode(error) ?? '')) continue;
        throw error;
      }
    }
  }

  async presentIds(datasetId: string, collection: string, ids: readonly string[]): Promise<Set<string>> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Set();
    try {
      const { rows } = await this.pool.query<{ id: string }>(`SELECT id FROM ${this.table(collection)} WHERE dataset_id = $1 AND id = ANY($2::text[])`, [
        datasetId,
        unique,
      ]);
      return new Set(rows.map((r) => r.id));
    } catch (error) {
      if (!MISSING.has(pgCode(error) ?? '')) throw error;
      return new Set();
    }
  }

  async deleteIds(datasetId: string, collection: string, ids: readonly string[]): Promise<void> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    assertCollectionName(collection);
    const unique = [...new Set(ids)];
    if (unique.length === 0) return;
    try {
      await this.pool.query(`DELETE FROM ${this.table(collection)} WHERE dataset_id = $1 AND id = ANY($2::text[])`, [datasetId, unique]);
    } catch (error) {
      if (!MISSING.has(pgCode(error) ?? '')) throw error;
    }
  }

  async deleteDataset(datasetId: string): Promise<void> {
    this.assertOpen();
    assertUuidDatasetId(datasetId);
    const names = await this.tableNames();
    if (names.length === 0) return;
    await this.transaction(async (client) => {
      for (const name of names) {
        await client.query('SAVEPOINT engram_delete');
        try {
          await client.query(`DELETE FROM ${this.table(name)} WHERE dataset_id = $1`, [datasetId]);
          await client.query('RELEASE SAVEPOINT engram_delete');
        } catch (error) {
          // A table dropped meanwhile holds nothing to delete.
          if (!MISSING.has(pgCode(error) ?? '')) throw error;
          await client.query('ROLLBACK TO SAVEPOINT engram_delete');
        }
      }
    });
  }

  /** Marks the store closed; the pool is the caller's and stays open. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the pgvector store is closed');
  }

  private table(collection: string): string {
    return `${ident(this.schema)}.${ident(collection)}`;
  }

  /** pgvector's text form of a vector, after checking its size and values. */
  private vectorText(vector: readonly number[], what: string): string {
    checkVector(vector, this.dimensions, what);
    return `[${Array.prototype.join.call(vector, ',')}]`;
  }

  private toRow(point: VectorPoint): Row {
    if (typeof point.id !== 'string' || point.id === '') throw new Error('a vector point needs a non-empty string id');
    return {
      id: point.id,
      payload: JSON.stringify(point.payload),
      sets: JSON.stringify(nodeSetNames(point.payload.belongs_to_set)),
      embedding: this.vectorText(point.vector, `vector of point ${point.id}`),
    };
  }

  /** Runs `work` once the collection's table exists; once more after recreating it if it vanished. */
  private async withTable(collection: string, work: () => Promise<void>): Promise<void> {
    await this.ensureTable(collection);
    try {
      await work();
    } catch (error) {
      if (!MISSING.has(pgCode(error) ?? '')) throw error;
      this.ready.delete(collection);
      await createIfMissing(this.pool, `CREATE SCHEMA IF NOT EXISTS ${ident(this.schema)}`);
      await this.ensureTable(collection);
      await work();
    }
  }

  private ensureTable(collection: string): Promise<void> {
    let ready = this.ready.get(collection);
    if (!ready) {
      ready = this.createTable(collection);
      this.ready.set(collection, ready);
      ready.catch(() => this.ready.delete(collection));
    }
    return ready;
  }

  private async createTable(collection: string): Promise<void> {
    const table = this.table(collection);
    await createIfMissing(
      this.pool,
      `CREATE TABLE IF NOT EXISTS ${table} (
        dataset_id text NOT NULL,
        id text NOT NULL,
        payload jsonb NOT NULL,
        belongs_to_set text[] NOT NULL DEFAULT '{}',
        embedding ${this.vectorType}(${this.dimensions}) NOT NULL,
        PRIMARY KEY (dataset_id, id)
      )`,
    );
    // A table made earlier with other dimensions (or by something else) is not ours to write.
    const columns = await this.pool.query<{ attname: string; typname: string; atttypmod: number }>(
      `SELECT a.attname, t.typname, a.atttypmod FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [table],
    );
    const byName = new Map(columns.rows.map((c) => [c.attname, c]));
    const embedding = byName.get('embedding');
    const shaped = ['dataset_id', 'id', 'payload', 'belongs_to_set'].every((c) => byName.has(c));
    if (!shaped || embedding?.typname !== 'vector' || embedding.atttypmod !== this.dimensions) {
      throw new Error(
        `table ${table} does not match this store (embedding ${embedding ? `${embedding.typname}(${embedding.atttypmod})` : 'missing'}, expected vector(${this.dimensions}))`,
      );
    }
  }

  /** The schema's tables that are vector collections. */
  private async tableNames(): Promise<string[]> {
    const result = await this.pool.query<{ table_name: string }>(
      `SELECT c.table_name FROM information_schema.columns c
       WHERE c.table_schema = $1 AND c.column_name IN ('dataset_id', 'embedding')
       GROUP BY c.table_name HAVING count(*) = 2 ORDER BY c.table_name`,
      [this.schema],
    );
    return result.rows.map((row) => row.table_name).filter((name) => COLLECTION_NAME.test(name) && name.length <= MAX_IDENTIFIER);
  }

  private async transaction(work: (client: PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      // A connection that cannot even roll back is discarded rather than reused.
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

export { assertUuidDatasetId, nodeSetNames };
