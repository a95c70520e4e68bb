/**
 * The memory domain's public face. Routers get a `MemoryService`: ingestion (inputs classified,
 * fetched and budgeted here), the add and cognify pipelines and their statuses, search and its
 * history, a dataset's items, graph and lifecycle. Which datasets a request may touch is decided
 * before, by `access`; everything here works on the datasets it is handed.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/index.js';
import type { Database } from '../storage/index.js';
import { DatasetContent } from './datasets.js';
import type { MemoryEngine } from './engine.js';
import { SearchHistory } from './history.js';
import { InputReader } from './ingest/inputs.js';
import { Pipelines } from './pipelines.js';
import { Retrieval } from './retrieval.js';
import { SessionStore } from './sessions.js';
import { Improvement } from './improve.js';

export class MemoryService {
  readonly datasets: DatasetContent;
  readonly pipelines: Pipelines;
  readonly retrieval: Retrieval;
  readonly inputs: InputReader;
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
    this.sessions = new SessionStore(db, config.sessions);
    this.improvement = new Improvement(this.sessions, this.pipelines);
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
