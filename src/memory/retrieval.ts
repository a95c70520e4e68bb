import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { datasetInfo, type DatasetRecord } from './datasets.js';
import { mapLimit, type MemoryEngine } from './engine.js';
import { nextSeq } from './runs.js';
import {
  resolveSearchType,
  searchDataset,
  searchDependenciesOf,
  type SearchDependencies,
  type SearchOutcome,
  type SearchRequest,
  type SearchType,
} from './search.js';

/** Search over several datasets, and the caller's search and recall history. */
export class Retrieval {
  private readonly deps: SearchDependencies;
  /** Datasets one search works in at once (SEARCH_MAX_CONCURRENT_DATASETS). */
  private readonly concurrency: number;

  constructor(
    private readonly db: Kysely<Database>,
    engine: MemoryEngine,
  ) {
    this.deps = searchDependenciesOf(engine);
    this.concurrency = engine.config.memory.searchMaxConcurrentDatasets;
  }

  /** FEELING_LUCKY resolved, then the Cypher switch (D18) applied: the type a search really runs. */
  resolveType(type: SearchType, query: string): Promise<SearchType> {
    return resolveSearchType(this.deps, type, query);
  }

  /**
   * Runs the search in each dataset, inside that dataset's stores only, in at most
   * SEARCH_MAX_CONCURRENT_DATASETS datasets at once; outcomes in dataset order.
   */
  async search<D extends DatasetRecord>(datasets: readonly D[], request: SearchRequest): Promise<Array<{ dataset: D; outcome: SearchOutcome }>> {
    return mapLimit(datasets, this.concurrency, async (dataset) => ({ dataset, outcome: await searchDataset(this.deps, datasetInfo(dataset), request) }));
  }

  /** Runs the search in each dataset one after the other (recall's order of work). */
  async searchInTurn<D extends DatasetRecord>(datasets: readonly D[], request: SearchRequest): Promise<Array<{ dataset: D; outcome: SearchOutcome }>> {
    const out: Array<{ dataset: D; outcome: SearchOutcome }> = [];
    for (const dataset of datasets) out.push({ dataset, outcome: await searchDataset(this.deps, datasetInfo(dataset), request) });
    return out;
  }

  /** Keeps a query and the answer it got in the user's history (the dataset when exactly one was searched). */
  async record(userId: string, query: string, type: string, datasets: readonly DatasetRecord[], answer: unknown): Promise<void> {
    const queryId = randomUUID();
    const datasetId = datasets.length === 1 ? datasets[0]!.id : null;
    const now = new Date().toISOString();
    const common = { user_id: userId, query_type: type, dataset_id: datasetId, created_at: now };
    await this.db
      .insertInto('search_history')
      .values([
        { ...common, id: queryId, kind: 'query', query_id: null, text: query, seq: nextSeq() },
        { ...common, id: randomUUID(), kind: 'result', query_id: queryId, text: JSON.stringify(answer).slice(0, 1_000_000), seq: nextSeq() },
      ])
      .execute();
  }

  /** The user's queries and the answers they got, oldest first. */
  async history(userId: string) {
    const rows = await this.db.selectFrom('search_history').selectAll().where('user_id', '=', userId).orderBy('seq', 'asc').execute();
    return rows.map((r) => ({ id: r.id, text: r.text, user: r.kind === 'query' ? 'user' : 'system', createdAt: r.created_at, datasetId: r.dataset_id }));
  }
}
