import { datasetInfo, type DatasetRecord } from './datasets.js';
import { mapLimit, type MemoryEngine } from './engine.js';
import type { SearchHistory } from './history.js';
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
    engine: MemoryEngine,
    private readonly searchHistory: SearchHistory,
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

  /** Keeps a query and the answer it got in the user's history. */
  record(userId: string, query: string, type: string, datasets: readonly DatasetRecord[], answer: unknown): Promise<void> {
    return this.searchHistory.record(userId, query, type, datasets, answer);
  }

  /** The user's queries and the answers they got, oldest first. */
  history(userId: string, page: { readonly limit?: number | undefined; readonly offset?: number } = {}) {
    return this.searchHistory.list(userId, page);
  }
}
