import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { withoutServerPaths } from '../errors.js';
import { LocalRunLock, type Database, type DatasetDatabases, type RunLock } from '../storage/index.js';
import { chunkText } from './chunker.js';
import { ItemStore } from './ingest/items.js';
import type { DataRow, DatasetInfo, IngestItem } from './types.js';
import { buildDocumentGraph, type ChunkExtraction } from './graph-builder.js';
import { ParserPool, type DocumentParsers } from './ingest/parser-pool.js';
import { ITEM_COMPLETED, RunStatus, itemCompleted, latestRunStatus, pendingRuns, recordRunStatus, withItemStatus, type PipelineRunInfo } from './runs.js';
import type { Embedder, LanguageModel } from './providers/types.js';
import { limitedEmbedder, limitedModel } from './providers/limited.js';
import { DatasetLocks, KeyedSemaphore, mapLimit } from './concurrency.js';
import { JobInterrupted, type CognifyJob, type JobQueue } from './jobs.js';
import type { MemorySettings } from './settings.js';

export type { DataRow, DatasetInfo, IngestItem } from './types.js';

export interface CognifyOptions {
  readonly customPrompt?: string;
  readonly chunkSize?: number;
  /** Items written together (the request's `data_per_batch`; DATA_PER_BATCH by default). */
  readonly dataPerBatch?: number;
  /** Chunks the language model works on at once (`chunks_per_batch`; CHUNKS_PER_BATCH by default). */
  readonly chunksPerBatch?: number;
  /** Asks the run to stop at its next chunk (shutdown); it then throws `JobInterrupted`. */
  readonly signal?: AbortSignal;
}

export interface MemoryEngineOptions {
  /** One run per dataset across instances (PostgreSQL advisory locks); the in-process lock by default. */
  readonly runLock?: RunLock;
  /** Background runs go through this queue once `startJobs` is called; without one they are refused. */
  readonly queue?: JobQueue;
  /** Where documents are parsed; by default a `ParserPool` with the configured limits. */
  readonly parsers?: DocumentParsers;
}

/** An item of a run that could not be processed (its document could not be parsed): the run goes on without it. */
interface ItemFailure {
  readonly item: DataRow;
  readonly error: unknown;
}

/** The cognify pipeline, background runs and the stored items of datasets. Its parts are fixed at construction. */
export class MemoryEngine {
  readonly locks = new DatasetLocks();
  readonly runLock: RunLock;
  /** The items' rows and stored originals. */
  private readonly items: ItemStore;
  private readonly queue: JobQueue | undefined;
  /** Document parsing, off the event loop (worker threads with time, memory, page and size limits). */
  readonly parsers: DocumentParsers;
  private jobsStarted = false;
  private orphanTimer?: NodeJS.Timeout;
  /** Cognify runs per user at once (USER_MAX_CONCURRENT_RUNS); further runs wait their turn. */
  readonly runSlots: KeyedSemaphore;
  /** Model and embedding calls per user at once (USER_MAX_CONCURRENT_LLM_CALLS). */
  readonly modelSlots: KeyedSemaphore;

  constructor(
    readonly config: Config,
    readonly db: Kysely<Database>,
    readonly log: Logger,
    readonly databases: DatasetDatabases,
    /** Run-time settings, shared by every instance; they own the language model in effect. */
    readonly settings: MemorySettings,
    readonly embedder: Embedder,
    options: MemoryEngineOptions = {},
  ) {
    this.items = new ItemStore(config, db);
    this.runSlots = new KeyedSemaphore(config.quotas.maxConcurrentRuns);
    this.modelSlots = new KeyedSemaphore(config.quotas.maxConcurrentModelCalls);
    this.runLock = options.runLock ?? new LocalRunLock();
    this.queue = options.queue;
    this.parsers = options.parsers ?? new ParserPool(config.memory.parsers);
  }

  /** Stores items and their Data rows within the owner's storage quota (see `ItemStore.ingest`). */
  ingest(
    dataset: DatasetInfo,
    ownerId: string,
    tenantId: string | null,
    items: readonly IngestItem[],
    nodeSet: readonly string[] | null,
    onAdmitted?: () => Promise<void>,
  ): Promise<DataRow[]> {
    return this.items.ingest(dataset, ownerId, tenantId, items, nodeSet, onAdmitted);
  }

  /** The model in effect and the embedder, each call within the user's share of model calls. */
  providersFor(userId: string): { model: LanguageModel; embedder: Embedder } {
    const slot = <T>(call: () => Promise<T>) => this.modelSlots.run(userId, call);
    return { model: limitedModel(this.settings.current(), slot), embedder: limitedEmbedder(this.embedder, slot) };
  }

  /** Reads the stored original of a data row (only the server's own copies, never a user path). */
  readStored(row: DataRow): Promise<Buffer> {
    return this.items.read(row);
  }

  /**
   * Cognifies one dataset: every item not yet completed is chunked, extracted, summarised,
   * embedded and written to the dataset's graph and vectors. Node ids are deterministic, so a run
   * interrupted by a crash and run again rewrites the same nodes instead of adding new ones.
   */
  async cognify(dataset: DatasetInfo, userId: string, pipelineRunId: string = randomUUID(), opts: CognifyOptions = {}): Promise<PipelineRunInfo> {
    // The user's place first (USER_MAX_CONCURRENT_RUNS), then the dataset's lock.
    return this.runSlots.run(userId, () =>
      this.locks.run(dataset.id, async () => {
        const release = await this.runLock.acquire(dataset.id);
        try {
          return await this.cognifyLocked(dataset, userId, pipelineRunId, opts);
        } finally {
          await release();
        }
      }),
    );
  }

  private async cognifyLocked(dataset: DatasetInfo, userId: string, pipelineRunId: string, opts: CognifyOptions): Promise<PipelineRunInfo> {
    const run = { pipelineRunId, pipelineName: 'cognify_pipeline' as const, datasetId: dataset.id, userId };
    await recordRunStatus(this.db, run, RunStatus.STARTED, { data: [] });
    const items = await this.db.selectFrom('data').selectAll().where('dataset_id', '=', dataset.id).orderBy('created_at').execute();
    const order = new Map(items.map((item, i) => [item.id, i]));
    const ingestion: NonNullable<PipelineRunInfo['data_ingestion_info']> = [];
    const perBatch = opts.dataPerBatch ?? this.config.memory.dataPerBatch;
    const failures: ItemFailure[] = [];
    try {
      let batch: DataRow[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const failed = await this.cognifyBatch(dataset, userId, batch, opts);
        const done = batch.filter((item) => !failed.some((f) => f.item.id === item.id));
        batch = [];
        for (const failure of failed) {
          failures.push(failure);
          ingestion.push({
            data_id: failure.item.id,
            run_info: { ...runInfo('PipelineRunErrored', pipelineRunId, dataset), payload: errorText(failure.error) },
          });
          this.log.warn({ datasetId: dataset.id, dataId: failure.item.id, error: errorText(failure.error) }, 'cognify: a data item could not be processed');
        }
        const now = new Date().toISOString();
        await this.db.transaction().execute(async (trx) => {
          for (const item of done) {
            await trx
              .updateTable('data')
              .set({ pipeline_status: withItemStatus(item.pipeline_status, 'cognify_pipeline', dataset.id, ITEM_COMPLETED), updated_at: now })
              .where('id', '=', item.id)
              .execute();
          }
        });
        for (const item of done) ingestion.push({ data_id: item.id, run_info: runInfo('PipelineRunCompleted', pipelineRunId, dataset) });
      };
      for (const item of items) {
        if (itemCompleted(item.pipeline_status, 'cognify_pipeline', dataset.id)) {
          ingestion.push({ data_id: item.id, run_info: runInfo('PipelineRunAlreadyCompleted', pipelineRunId, dataset) });
          continue;
        }
        batch.push(item);
        if (batch.length >= perBatch) await flush();
      }
      await flush();
    } catch (error) {
      // An interrupted run stays STARTED: its job is taken again and the run resumes.
      if (error instanceof JobInterrupted) throw error;
      const payload = errorText(error);
      await recordRunStatus(this.db, run, RunStatus.ERRORED, { error: payload });
      this.log.warn({ err: error, datasetId: dataset.id }, 'cognify run errored');
      return { ...runInfo('PipelineRunErrored', pipelineRunId, dataset), payload, data_ingestion_info: byOrder(ingestion, order) };
    }
    if (failures.length > 0) {
      // The other items are processed and marked completed; the failed ones are tried again by the next run.
      const payload = failures.map((f) => `Data item ${f.item.id} (${f.item.name}) could not be processed: ${errorText(f.error)}`).join('\n');
      await recordRunStatus(this.db, run, RunStatus.ERRORED, { error: payload, failed: failures.map((f) => f.item.id) });
      return { ...runInfo('PipelineRunErrored', pipelineRunId, dataset), payload, data_ingestion_info: byOrder(ingestion, order) };
    }
    await recordRunStatus(this.db, run, RunStatus.COMPLETED, { data: items.map((i) => i.id) });
    return { ...runInfo('PipelineRunCompleted', pipelineRunId, dataset), data_ingestion_info: byOrder(ingestion, order) };
  }

  /**
   * Cognifies a batch of items and writes them together: one graph write and one vector write per
   * collection for the whole batch (the stores' cost is mostly per write, not per row). The
   * language model works on up to `chunksPerBatch` chunks at once. Nothing of a batch is marked
   * completed before all of it is written, so an interrupted batch is redone whole. An item whose
   * document cannot be parsed (unreadable, or stopped by a parser limit) is left out and returned;
   * the rest of the batch goes on.
   */
  private async cognifyBatch(dataset: DatasetInfo, userId: string, items: readonly DataRow[], opts: CognifyOptions): Promise<ItemFailure[]> {
    const parallel = opts.chunksPerBatch ?? this.config.memory.chunksPerBatch;
    // One model for the whole batch, even if a superuser changes it meanwhile; the run's user's calls.
    const { model, embedder } = this.providersFor(userId);
    const built: ReturnType<typeof buildDocumentGraph>[] = [];
    const failures: ItemFailure[] = [];
    for (const item of items) {
      if (opts.signal?.aborted) throw new JobInterrupted();
      const bytes = await this.readStored(item);
      let text: string;
      try {
        text = await this.parsers.extract(bytes, { extension: item.extension, mimeType: item.mime_type });
      } catch (error) {
        failures.push({ item, error });
        continue;
      }
      const chunks = chunkText(text, opts.chunkSize ?? this.config.memory.chunkSize);
      const extractions: ChunkExtraction[] = await mapLimit(chunks, parallel, async (chunk) => {
        if (opts.signal?.aborted) throw new JobInterrupted();
        const [graph, summary] = await Promise.all([model.extractGraph(chunk.text, opts.customPrompt), model.summarize(chunk.text)]);
        return { chunk, graph, summary };
      });
      built.push(
        buildDocumentGraph(
          {
            dataId: item.id,
            name: item.name,
            extension: item.extension,
            mimeType: item.mime_type,
            rawDataLocation: item.raw_data_location,
            externalMetadata: item.external_metadata ? JSON.parse(item.external_metadata) : null,
            nodeSets: item.node_set ? (JSON.parse(item.node_set) as string[]) : [],
          },
          extractions,
        ),
      );
    }
    if (opts.signal?.aborted) throw new JobInterrupted();
    if (built.length === 0) return failures;
    // A node written by several items of the batch: the last one wins, as when written one by one.
    const nodes = new Map(built.flatMap((b) => b.nodes).map((n) => [n.id, n]));
    const edges = built.flatMap((b) => b.edges);
    const index = built.flatMap((b) => b.index);
    const vectors = index.length > 0 ? await embedder.embed(index.map((e) => e.text)) : [];
    const byCollection = new Map<string, Map<string, { id: string; vector: number[]; payload: Record<string, unknown> }>>();
    index.forEach((entry, i) => {
      const points = byCollection.get(entry.collection) ?? new Map();
      points.set(entry.id, { id: entry.id, vector: vectors[i]!, payload: entry.payload });
      byCollection.set(entry.collection, points);
    });
    await this.databases.with(dataset, async ({ graph, vector }) => {
      await graph.upsertNodes(dataset.id, [...nodes.values()]);
      await graph.upsertEdges(dataset.id, edges);
      for (const [collection, points] of byCollection) await vector.upsert(dataset.id, collection, [...points.values()]);
    });
    return failures;
  }

  /**
   * Queues a cognify run and returns at once. The run's INITIATED row is written first, so the
   * run shows in the dataset status while it waits; any instance's worker may take the job.
   */
  async background(dataset: DatasetInfo, userId: string, pipelineRunId: string, opts: Omit<CognifyOptions, 'signal'> = {}): Promise<void> {
    if (!this.queue || !this.jobsStarted) throw new Error('the background job queue is not started');
    await recordRunStatus(this.db, { pipelineRunId, pipelineName: 'cognify_pipeline', datasetId: dataset.id, userId }, RunStatus.INITIATED, { queued: true });
    await this.queue.enqueue({ pipelineRunId, datasetId: dataset.id, userId, ...opts });
  }

  /** Starts taking background jobs, and looks for orphaned runs now and every so often. */
  async startJobs(): Promise<void> {
    if (!this.queue) throw new Error('this engine was built without a job queue');
    await this.queue.start((job, signal) => this.runJob(job, signal));
    this.jobsStarted = true;
    const every = this.config.memory.jobs.orphanScanSeconds * 1000;
    let scanning = false;
    const scan = async () => {
      if (scanning) return; // one scan at a time
      scanning = true;
      await this.recoverOrphans()
        .catch((error) => this.log.warn({ err: error }, 'looking for orphaned cognify runs failed'))
        .finally(() => (scanning = false));
    };
    await scan();
    this.orphanTimer = setInterval(() => void scan(), every);
    this.orphanTimer.unref();
  }

  /** Stops taking jobs; running ones stop at their next chunk and go back to the queue. */
  async stopJobs(): Promise<void> {
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    await this.queue?.stop();
  }

  /** Waits until no background run is queued or running here (tests and benchmarks). */
  async idle(): Promise<void> {
    await this.queue?.idle();
  }

  /** Runs one job: a run already finished (a duplicate delivery) or a deleted dataset is a no-op. */
  private async runJob(job: CognifyJob, signal: AbortSignal): Promise<void> {
    const latest = await latestRunStatus(this.db, job.pipelineRunId);
    if (latest === RunStatus.COMPLETED || latest === RunStatus.ERRORED) return;
    const dataset = await this.db.selectFrom('datasets').selectAll().where('id', '=', job.datasetId).executeTakeFirst();
    if (!dataset) return;
    const info = { id: dataset.id, ownerId: dataset.owner_id, name: dataset.name, tenantId: dataset.tenant_id };
    await this.cognify(info, job.userId, job.pipelineRunId, {
      ...(job.customPrompt ? { customPrompt: job.customPrompt } : {}),
      ...(job.chunkSize ? { chunkSize: job.chunkSize } : {}),
      ...(job.dataPerBatch ? { dataPerBatch: job.dataPerBatch } : {}),
      ...(job.chunksPerBatch ? { chunksPerBatch: job.chunksPerBatch } : {}),
      signal,
    });
  }

  /**
   * Finds cognify runs left unfinished with nobody working on them and puts them back to work:
   * - a run whose dataset lock is held is alive (on this or another instance): left alone;
   * - its job waits in the queue: left alone;
   * - its job is active but the lock is free: the worker died; the job is handed back;
   * - it has no job (a blocking run cut off by a crash): a job is queued under the run's id;
   * - its job ended without finishing the run (attempts used up): the run is marked ERRORED.
   * Runs younger than the grace period are skipped (their worker may be starting). Re-runs rewrite
   * the same deterministic node ids, so nothing is duplicated. Returns how many runs were acted on.
   */
  async recoverOrphans(): Promise<number> {
    if (!this.queue || !this.jobsStarted) return 0;
    const graceMs = this.config.memory.jobs.orphanGraceSeconds * 1000;
    const cutoff = Date.now() - graceMs;
    let acted = 0;
    for (const run of await pendingRuns(this.db, 'cognify_pipeline')) {
      if (Date.parse(run.created_at) > cutoff) continue;
      const probe = await this.runLock.tryAcquire(run.dataset_id);
      if (!probe) continue;
      await probe();
      const job = await this.queue.state(run.pipeline_run_id);
      if (job.state === 'waiting') continue;
      if (job.state === 'active' && job.since.getTime() > cutoff) continue;
      const dataset = await this.db.selectFrom('datasets').selectAll().where('id', '=', run.dataset_id).executeTakeFirst();
      const userId = dataset?.owner_id ?? '';
      const ref = { pipelineRunId: run.pipeline_run_id, pipelineName: 'cognify_pipeline' as const, datasetId: run.dataset_id, userId };
      if (!dataset) {
        await recordRunStatus(this.db, ref, RunStatus.ERRORED, { error: 'the dataset was deleted' });
        continue;
      }
      acted += 1;
      if (job.state === 'active') {
        this.log.warn({ datasetId: run.dataset_id, pipelineRunId: run.pipeline_run_id }, 'a cognify run lost its worker; its job goes back to the queue');
        await this.queue.requeue(run.pipeline_run_id, 'the worker running it is gone');
      } else if (job.state === 'missing') {
        this.log.warn({ datasetId: run.dataset_id, pipelineRunId: run.pipeline_run_id }, 'recovering a cognify run interrupted by a restart');
        await recordRunStatus(this.db, ref, RunStatus.INITIATED, { recovered: true });
        await this.queue.enqueue({ pipelineRunId: run.pipeline_run_id, datasetId: run.dataset_id, userId });
      } else {
        const now = await latestRunStatus(this.db, run.pipeline_run_id);
        if (now === RunStatus.COMPLETED || now === RunStatus.ERRORED) continue;
        this.log.warn({ datasetId: run.dataset_id, pipelineRunId: run.pipeline_run_id }, 'a cognify run ran out of attempts');
        await recordRunStatus(this.db, ref, RunStatus.ERRORED, { error: 'the run was interrupted more often than JOB_RETRY_LIMIT allows' });
      }
    }
    return acted;
  }

  /** Removes a data item: its document, chunks and summaries from the graph and vectors, its row and its file. */
  async deleteData(dataset: DatasetInfo, row: DataRow): Promise<void> {
    await this.forgetDataMemory(dataset, row);
    await this.db.deleteFrom('data').where('id', '=', row.id).execute();
    await this.items.release(row.raw_data_location);
  }

  /** Removes a data item's memory only: its document, chunks and summaries from the graph and vectors (row and file stay). */
  async forgetDataMemory(dataset: DatasetInfo, row: DataRow): Promise<void> {
    await this.databases.with(dataset, async ({ graph, vector }) => {
      const chunks = (await graph.nodesOfType(dataset.id, ['DocumentChunk'])).filter((n) => n.properties.document_id === row.id);
      const summaries = (await graph.nodesOfType(dataset.id, ['TextSummary'])).filter((n) => n.properties.document_id === row.id);
      const ids = [row.id, ...chunks.map((c) => c.id), ...summaries.map((s) => s.id)];
      await graph.deleteNodes(dataset.id, ids);
      for (const collection of await vector.collections(dataset.id)) await vector.deleteIds(dataset.id, collection, ids);
    });
  }

  /** Removes a dataset's content, databases, rows and files (the dataset row is the caller's). */
  async deleteDataset(dataset: DatasetInfo): Promise<void> {
    await this.databases.deleteDataset(dataset);
    const rows = await this.db.selectFrom('data').select(['id', 'raw_data_location']).where('dataset_id', '=', dataset.id).execute();
    await this.db.deleteFrom('data').where('dataset_id', '=', dataset.id).execute();
    for (const row of rows) await this.items.release(row.raw_data_location);
  }
}

function byOrder<T extends { data_id: string }>(entries: T[], order: Map<string, number>): T[] {
  return entries.sort((a, b) => (order.get(a.data_id) ?? 0) - (order.get(b.data_id) ?? 0));
}

function runInfo(status: PipelineRunInfo['status'], pipelineRunId: string, dataset: DatasetInfo) {
  return { status, pipeline_run_id: pipelineRunId, dataset_id: dataset.id, dataset_name: dataset.name, payload: null, data_ingestion_info: null };
}

/** A run's error as the client sees it: no server path (a stored file, a store's database file). */
function errorText(error: unknown): string {
  return withoutServerPaths(error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 1000);
}
