import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { datasetInfo, type DatasetRecord } from './datasets.js';
import type { CognifyOptions, DataRow, IngestItem, MemoryEngine } from './engine.js';
import type { SearchHistory } from './history.js';
import { RunStatus, latestRuns, recordRunStatus, withItemStatus, type PipelineRunInfo } from './runs.js';

/**
 * The add and cognify pipelines as the routers start them, with the reference's run bookkeeping
 * (`pipeline_runs`: one row per status change), and the dataset statuses they leave.
 */
export class Pipelines {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: MemoryEngine,
    private readonly history: SearchHistory,
  ) {}

  /** Stores items without recording a run (remember records its own). */
  async ingest(
    dataset: DatasetRecord,
    userId: string,
    tenantId: string | null,
    items: readonly IngestItem[],
    nodeSet: readonly string[] | null,
  ): Promise<DataRow[]> {
    return this.engine.ingest(datasetInfo(dataset), userId, tenantId, items, nodeSet);
  }

  /** Stores the items, records the add pipeline, and resets the dataset's cognify status to INITIATED. */
  async add(
    dataset: DatasetRecord,
    userId: string,
    tenantId: string | null,
    items: readonly IngestItem[],
    nodeSet: readonly string[] | null,
  ): Promise<PipelineRunInfo> {
    const pipelineRunId = randomUUID();
    const run = { pipelineRunId, pipelineName: 'add_pipeline' as const, datasetId: dataset.id, userId };
    // The run is recorded once the items are admitted (a storage quota refuses before anything is written).
    const rows = await this.engine.ingest(datasetInfo(dataset), userId, tenantId, items, nodeSet, () => recordRunStatus(this.db, run, RunStatus.STARTED));
    await recordRunStatus(this.db, run, RunStatus.COMPLETED, { data: rows.map((r) => r.id) });
    const cognify = (await latestRuns(this.db, 'cognify_pipeline', [dataset.id])).get(dataset.id);
    if (cognify && cognify.status !== RunStatus.INITIATED) {
      await recordRunStatus(this.db, { ...run, pipelineName: 'cognify_pipeline', pipelineRunId: cognify.pipeline_run_id }, RunStatus.INITIATED);
    }
    const done = { status: 'PipelineRunCompleted' as const, pipeline_run_id: pipelineRunId, dataset_id: dataset.id, dataset_name: dataset.name, payload: null };
    return { ...done, data_ingestion_info: rows.map((r) => ({ data_id: r.id, run_info: { ...done, data_ingestion_info: null } })) };
  }

  /** Cognifies the dataset now; the run's outcome (PipelineRunErrored included) is returned, not thrown. */
  async cognify(dataset: DatasetRecord, userId: string, opts: CognifyOptions = {}, pipelineRunId: string = randomUUID()): Promise<PipelineRunInfo> {
    return this.engine.cognify(datasetInfo(dataset), userId, pipelineRunId, opts);
  }

  /** Queues a background cognify run and answers at once with its start. */
  async cognifyInBackground(
    dataset: DatasetRecord,
    userId: string,
    opts: Omit<CognifyOptions, 'signal'> = {},
    pipelineRunId: string = randomUUID(),
  ): Promise<PipelineRunInfo> {
    await this.engine.background(datasetInfo(dataset), userId, pipelineRunId, opts);
    return {
      status: 'PipelineRunStarted',
      pipeline_run_id: pipelineRunId,
      dataset_id: dataset.id,
      dataset_name: dataset.name,
      payload: [],
      data_ingestion_info: null,
    };
  }

  /**
   * The latest status per dataset: `{id: status}` for one pipeline, `{id: {pipeline: status}}` for
   * several; datasets without a run are left out.
   */
  async statuses(datasetIds: readonly string[], pipelines: readonly string[]): Promise<Record<string, unknown>> {
    const names = pipelines.length > 0 ? pipelines : ['cognify_pipeline'];
    const byPipeline = new Map<string, Map<string, { status: string }>>();
    for (const name of names) byPipeline.set(name, await latestRuns(this.db, name, datasetIds));
    const out: Record<string, unknown> = {};
    for (const id of datasetIds) {
      if (names.length === 1) {
        const run = byPipeline.get(names[0]!)!.get(id);
        if (run) out[id] = run.status;
        continue;
      }
      const entry: Record<string, string> = {};
      for (const name of names) {
        const run = byPipeline.get(name)!.get(id);
        if (run) entry[name] = run.status;
      }
      if (Object.keys(entry).length > 0) out[id] = entry;
    }
    return out;
  }

  /**
   * Recall's warm-up probe, as the reference's: a dataset reads warm as soon as any pipeline (add or
   * cognify) has run for it, so a background cognify of new data never turns a populated graph cold.
   */
  async anyRun(datasets: readonly DatasetRecord[]): Promise<boolean> {
    if (datasets.length === 0) return false;
    const row = await this.db
      .selectFrom('pipeline_runs')
      .select('id')
      .where(
        'dataset_id',
        'in',
        datasets.map((d) => d.id),
      )
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Forgets what cognify made of the dataset (graph and vectors), keeping its items and databases:
   * the items are to be cognified again; every user's search history of it is purged. Returns how
   * many item records were reset.
   */
  async forgetMemory(dataset: DatasetRecord, userId: string): Promise<number> {
    await this.engine.databases.clearDataset(datasetInfo(dataset));
    await this.history.purge(dataset.id);
    const reset = await this.db
      .updateTable('data')
      .set({ pipeline_status: '{}', updated_at: new Date().toISOString() })
      .where('dataset_id', '=', dataset.id)
      .executeTakeFirst();
    await recordRunStatus(this.db, { pipelineRunId: randomUUID(), pipelineName: 'cognify_pipeline', datasetId: dataset.id, userId }, RunStatus.INITIATED, {
      forgotten: true,
    });
    return Number(reset.numUpdatedRows);
  }

  /**
   * Forgets what cognify made of one item of the dataset (its document, chunks and summaries in the
   * graph and vectors), keeping its record and file: the item is cognified again by the next run.
   * The item's record, or undefined when the dataset has no such item (nothing is touched then).
   */
  async forgetItemMemory(dataset: DatasetRecord, dataId: string): Promise<DataRow | undefined> {
    const row = await this.db.selectFrom('data').selectAll().where('dataset_id', '=', dataset.id).where('id', '=', dataId.toLowerCase()).executeTakeFirst();
    if (!row) return undefined;
    await this.engine.forgetDataMemory(datasetInfo(dataset), row);
    // Answers given since the item was added could quote it.
    await this.history.purge(dataset.id, row.created_at);
    await this.db
      .updateTable('data')
      .set({ pipeline_status: withItemStatus(row.pipeline_status, 'cognify_pipeline', dataset.id, null), updated_at: new Date().toISOString() })
      .where('id', '=', row.id)
      .execute();
    return row;
  }
}
