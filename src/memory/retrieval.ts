import { datasetInfo, type DatasetRecord } from './datasets.js';
import { mapLimit } from './concurrency.js';
import type { MemoryEngine } from './engine.js';
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
  private readonly engine: MemoryEngine;
  /** Datasets one search works in at once (SEARCH_MAX_CONCURRENT_DATASETS). */
  private readonly concurrency: number;

  constructor(
    engine: MemoryEngine,
    private readonly searchHistory: SearchHistory,
  ) {
    this.engine = engine;
    this.deps = searchDependenciesOf(engine);
    this.concurrency = engine.config.memory.searchMaxConcurrentDatasets;
  }

  /** FEELING_LUCKY resolved, then the Cypher switch (D18) applied: the type a search really runs. */
  resolveType(type: SearchType, query: string, userId: string): Promise<SearchType> {
    return resolveSearchType(this.depsOf(userId), type, query);
  }

  /** The dependencies with the user's model and embedder calls within their share (USER_MAX_CONCURRENT_LLM_CALLS). */
  private depsOf(userId: string): SearchDependencies {
    const { model, embedder } = this.engine.providersFor(userId);
    return { ...this.deps, embedder, models: { current: () => model } };
  }

  /**
   * Runs the search in each dataset, inside that dataset's stores only, in at most
   * SEARCH_MAX_CONCURRENT_DATASETS datasets at once; outcomes in dataset order.
   */
  async search<D extends DatasetRecord>(
    datasets: readonly D[],
    request: SearchRequest,
    userId: string,
  ): Promise<Array<{ dataset: D; outcome: SearchOutcome }>> {
    const deps = this.depsOf(userId);
    return mapLimit(datasets, this.concurrency, async (dataset) => ({ dataset, outcome: await searchDataset(deps, datasetInfo(dataset), request) }));
  }

  /** Runs the search in each dataset one after the other (recall's order of work). */
  async searchInTurn<D extends DatasetRecord>(
    datasets: readonly D[],
    request: SearchRequest,
    userId: string,
  ): Promise<Array<{ dataset: D; outcome: SearchOutcome }>> {
    const deps = this.depsOf(userId);
    const out: Array<{ dataset: D; outcome: SearchOutcome }> = [];
    for (const dataset of datasets) out.push({ dataset, outcome: await searchDataset(deps, datasetInfo(dataset), request) });
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
