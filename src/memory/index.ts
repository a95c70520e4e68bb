/**
 * The memory domain's public face. Routers get a `MemoryService`: ingestion (inputs classified,
 * fetched and budgeted here), the add and cognify pipelines and their statuses, search and its
 * history, a dataset's items, graph and lifecycle. Which datasets a request may touch is decided
 * before, by `access`; everything here works on the datasets it is handed.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/index.js';
import type { Database } from '../storage/index.js';
import { updateTargetNotFound } from '../errors.js';
import { Activity } from './activity.js';
import { DatasetContent, type DatasetRecord } from './datasets.js';
import type { MemoryEngine } from './engine.js';
import { SearchHistory } from './history.js';
import { InputReader } from './ingest/inputs.js';
import { Pipelines } from './pipelines.js';
import { Retrieval } from './retrieval.js';
import type { PipelineRunInfo } from './runs.js';
import type { IngestItem } from './types.js';
import { validateDatasets, type ValidationReport } from './validate.js';
import { SessionStore } from './sessions.js';
import { Improvement } from './improve.js';

export class MemoryService {
  readonly datasets: DatasetContent;
  readonly pipelines: Pipelines;
  readonly retrieval: Retrieval;
  readonly inputs: InputReader;
  /** Recent pipeline runs and a dataset's Markdown report (`/api/v1/activity`). */
  readonly activity: Activity;
  /** Agent sessions: QA turns, trace steps, token use (each session its user's and tenant's only). */
  readonly sessions: SessionStore;
  /** `improve`: sessions bridged into a dataset's permanent memory. */
  readonly improvement: Improvement;

  constructor(
    config: Config,
    db: Kysely<Database>,
    /** The engine behind the service (jobs, settings and stores; the server starts and stops it). */
    readonly engine: MemoryEngine,
  ) {
    const history = new SearchHistory(db);
    this.datasets = new DatasetContent(db, engine, history);
    this.pipelines = new Pipelines(db, engine, history);
    this.retrieval = new Retrieval(engine, history);
    this.inputs = new InputReader(config);
    this.activity = new Activity(db, this.datasets);
    this.sessions = new SessionStore(db, config.sessions);
    this.improvement = new Improvement(this.sessions, this.pipelines);
  }

  /**
   * The reference's update: the item's content is replaced by one new document under the same id
   * (its graph, vectors, file and quoting history go first), then the dataset is cognified again.
   * 404 `UpdateTargetNotFoundError` when the dataset has no such item (nothing is touched then).
   */
  async replaceItem(
    dataset: DatasetRecord,
    dataId: string,
    item: IngestItem,
    actor: { readonly userId: string; readonly tenantId: string | null },
    nodeSet: readonly string[] | null,
  ): Promise<Record<string, PipelineRunInfo>> {
    const removed = await this.datasets.deleteItem(dataset, dataId);
    if (!removed) throw updateTargetNotFound(dataId, dataset.id);
    await this.pipelines.add(dataset, actor.userId, actor.tenantId, [{ ...item, id: removed.id }], nodeSet);
    return { [dataset.id]: await this.pipelines.cognify(dataset, actor.userId) };
  }

  /** The reference's read-only consistency check of the datasets' graph and vector stores. */
  validate(datasets: readonly DatasetRecord[]): Promise<ValidationReport> {
    return validateDatasets(this.engine, datasets);
  }

  /** Run-time settings (the language model a superuser chose). */
  get settings() {
    return this.engine.settings;
  }
}

export { datasetInfo, itemView, type DatasetRecord } from './datasets.js';
export { MemoryEngine, type CognifyOptions } from './engine.js';
export { safeFilename } from './ingest/items.js';
export type { DataRow, DatasetInfo, IngestItem } from './types.js';
export { IngestBudget, ingestLimitsOf, type IngestLimits } from './ingest/budget.js';
export { RunStatus, type PipelineRunInfo } from './runs.js';
export { SessionEntryTooLarge, recordView, SESSION_RANGES, SESSION_STATUSES, type SessionOwner, type QaEntry, type TraceEntry } from './sessions.js';
export { UsageTally, meterUsage } from './providers/usage.js';
export { UnknownScope, normalizeScope, resolveSources, searchSessionTurns, searchTraceSteps, graphEntries, type RecallSource } from './recall.js';
export {
  DEFAULT_SYSTEM_PROMPT,
  SEARCH_TYPES,
  routeQuery,
  searchRequestOf,
  searchResultOf,
  type SearchOutcome,
  type SearchRequest,
  type SearchType,
} from './search.js';
