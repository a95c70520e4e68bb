import pg from 'pg';
import type { RunLock } from './run-lock.js';

/**
 * At most one pipeline run per dataset across every instance sharing one PostgreSQL database: a
 * session-level advisory lock keyed by the dataset id, held on a dedicated connection for the whole
 * run. If the instance dies, PostgreSQL ends the session and frees the lock, which is how another
 * instance (or the restarted one) tells an interrupted run from one still going.
 */
export class PostgresRunLock implements RunLock {
  constructor(private readonly connection: pg.ClientConfig) {}

  private async session(): Promise<pg.Client> {
    const client = new pg.Client(this.connection);
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  private releaser(client: pg.Client, datasetId: string) {
    return async () => {
      try {
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [datasetId]);
      } finally {
        await client.end().catch(() => undefined);
      }
    };
  }

  async acquire(datasetId: string): Promise<() => Promise<void>> {
    const client = await this.session();
    try {
      await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [datasetId]);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return this.releaser(client, datasetId);
  }

  async tryAcquire(datasetId: string): Promise<(() => Promise<void>) | undefined> {
    const client = await this.session();
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [datasetId]);
    if (rows[0]?.ok) return this.releaser(client, datasetId);
    await client.end().catch(() => undefined);
    return undefined;
  }
}
