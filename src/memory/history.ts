import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { nextSeq } from './runs.js';

/**
 * Users' search history: each query and the answer it got, with every dataset it searched. An
 * answer can quote a dataset's content word for word, so whatever removes content purges the
 * history that could hold it, every user's: deleting a dataset or forgetting its memory purges all
 * the entries that searched it; deleting an item purges the entries that searched its dataset
 * since the item was added.
 */
export class SearchHistory {
  constructor(private readonly db: Kysely<Database>) {}

  /** Keeps a query and its answer (the dataset column is set when exactly one was searched, as the reference's). */
  async record(userId: string, query: string, type: string, datasets: readonly { readonly id: string }[], answer: unknown): Promise<void> {
    const queryId = randomUUID();
    const datasetId = datasets.length === 1 ? datasets[0]!.id : null;
    const now = new Date().toISOString();
    const common = { user_id: userId, query_type: type, dataset_id: datasetId, created_at: now };
    const searched = [...new Set(datasets.map((d) => d.id))];
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('search_history')
        .values([
          { ...common, id: queryId, kind: 'query', query_id: null, text: query, seq: nextSeq() },
          { ...common, id: randomUUID(), kind: 'result', query_id: queryId, text: JSON.stringify(answer).slice(0, 1_000_000), seq: nextSeq() },
        ])
        .execute();
      if (searched.length > 0) {
        await trx
          .insertInto('search_history_datasets')
          .values(searched.map((dataset_id) => ({ query_id: queryId, dataset_id })))
          .execute();
      }
    });
  }

  /** The user's queries and the answers they got, oldest first; a window of them when `page` says so. */
  async list(userId: string, page: { readonly limit?: number | undefined; readonly offset?: number } = {}) {
    let query = this.db.selectFrom('search_history').selectAll().where('user_id', '=', userId).orderBy('seq', 'asc').orderBy('id');
    if (page.limit !== undefined || page.offset) query = query.limit(page.limit ?? Number.MAX_SAFE_INTEGER).offset(page.offset ?? 0);
    const rows = await query.execute();
    return rows.map((r) => ({ id: r.id, text: r.text, user: r.kind === 'query' ? 'user' : 'system', createdAt: r.created_at, datasetId: r.dataset_id }));
  }

  /** Removes every user's queries (and their answers) that searched the dataset, those made since `since` (ISO time) when given. */
  async purge(datasetId: string, since?: string): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      let queries = trx
        .selectFrom('search_history_datasets')
        .innerJoin('search_history', 'search_history.id', 'search_history_datasets.query_id')
        .select('search_history.id')
        .where('search_history_datasets.dataset_id', '=', datasetId);
      if (since !== undefined) queries = queries.where('search_history.created_at', '>=', since);
      const ids = (await queries.execute()).map((r) => r.id);
      let removed = 0;
      for (let i = 0; i < ids.length; i += 500) {
        const batch = ids.slice(i, i + 500);
        const result = await trx
          .deleteFrom('search_history')
          .where((eb) => eb.or([eb('id', 'in', batch), eb('query_id', 'in', batch)]))
          .executeTakeFirst();
        // The rows naming the searched datasets go with their query (on delete cascade).
        removed += Number(result.numDeletedRows);
      }
      return removed;
    });
  }
}
