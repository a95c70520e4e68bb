import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { uuid5 } from '../ids.js';
import type { Database } from '../storage/index.js';

/** Run-level statuses, stored one row per change; the latest row is the run's status. */
export const RunStatus = {
  INITIATED: 'DATASET_PROCESSING_INITIATED',
  STARTED: 'DATASET_PROCESSING_STARTED',
  COMPLETED: 'DATASET_PROCESSING_COMPLETED',
  ERRORED: 'DATASET_PROCESSING_ERRORED',
} as const;
export type RunStatusValue = (typeof RunStatus)[keyof typeof RunStatus];

export const ITEM_COMPLETED = 'DATA_ITEM_PROCESSING_COMPLETED';

export type PipelineName = 'add_pipeline' | 'cognify_pipeline';

/** The reference's `PipelineRunInfo`, snake_case on the wire. */
export interface PipelineRunInfo {
  status: 'PipelineRunStarted' | 'PipelineRunCompleted' | 'PipelineRunErrored' | 'PipelineRunAlreadyCompleted';
  pipeline_run_id: string;
  dataset_id: string;
  dataset_name: string;
  payload: unknown;
  data_ingestion_info: Array<{ run_info: Omit<PipelineRunInfo, 'data_ingestion_info'> & { data_ingestion_info?: null }; data_id: string }> | null;
}

export function pipelineId(userId: string, pipelineName: string, datasetId: string): string {
  return uuid5(`${userId}${pipelineName}${datasetId}`);
}

let lastSeq = 0;
/** A strictly increasing ordering key (milliseconds with a sub-millisecond tiebreak). */
export function nextSeq(): number {
  const now = Date.now();
  lastSeq = now > lastSeq ? now : lastSeq + 0.001;
  return lastSeq;
}

export interface RunRow {
  readonly pipeline_run_id: string;
  readonly pipeline_name: string;
  readonly dataset_id: string;
  readonly status: string;
  readonly run_info: string;
  readonly created_at: string;
}

export async function recordRunStatus(
  db: Kysely<Database>,
  run: { pipelineRunId: string; pipelineName: PipelineName; datasetId: string; userId: string },
  status: RunStatusValue,
  info: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto('pipeline_runs')
    .values({
      id: randomUUID(),
      pipeline_run_id: run.pipelineRunId,
      pipeline_id: pipelineId(run.userId, run.pipelineName, run.datasetId),
      pipeline_name: run.pipelineName,
      dataset_id: run.datasetId,
      status,
      run_info: JSON.stringify(info),
      created_at: new Date().toISOString(),
      seq: nextSeq(),
    })
    .execute();
}

/** The latest row per dataset for one pipeline. */
export async function latestRuns(db: Kysely<Database>, pipelineName: string, datasetIds: readonly string[]): Promise<Map<string, RunRow>> {
  const result = new Map<string, RunRow>();
  if (datasetIds.length === 0) return result;
  const rows = await db
    .selectFrom('pipeline_runs')
    .select(['pipeline_run_id', 'pipeline_name', 'dataset_id', 'status', 'run_info', 'created_at', 'seq'])
    .where('pipeline_name', '=', pipelineName)
    .where('dataset_id', 'in', [...new Set(datasetIds)])
    .orderBy('seq', 'asc')
    .execute();
  for (const row of rows) result.set(row.dataset_id, row);
  return result;
}

/** Runs of one pipeline whose latest status is INITIATED or STARTED (queued, running, or cut off). */
export async function pendingRuns(db: Kysely<Database>, pipelineName: PipelineName): Promise<RunRow[]> {
  return db
    .selectFrom('pipeline_runs as p')
    .select(['p.pipeline_run_id', 'p.pipeline_name', 'p.dataset_id', 'p.status', 'p.run_info', 'p.created_at'])
    .where('p.pipeline_name', '=', pipelineName)
    .where('p.status', 'in', [RunStatus.INITIATED, RunStatus.STARTED])
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('pipeline_runs as q').select('q.id').whereRef('q.pipeline_run_id', '=', 'p.pipeline_run_id').whereRef('q.seq', '>', 'p.seq'))),
    )
    .orderBy('p.seq')
    .execute();
}

/** The latest status of one run, or undefined when it has none. */
export async function latestRunStatus(db: Kysely<Database>, pipelineRunId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('pipeline_runs')
    .select('status')
    .where('pipeline_run_id', '=', pipelineRunId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.status;
}

/** Item-level status, kept on the data row as {pipeline: {dataset: status}}. */
export function itemCompleted(pipelineStatus: string, pipeline: PipelineName, datasetId: string): boolean {
  try {
    const parsed = JSON.parse(pipelineStatus) as Record<string, Record<string, string>>;
    return parsed?.[pipeline]?.[datasetId] === ITEM_COMPLETED;
  } catch {
    return false;
  }
}

export function withItemStatus(pipelineStatus: string, pipeline: PipelineName, datasetId: string, status: string | null): string {
  let parsed: Record<string, Record<string, string>> = {};
  try {
    parsed = JSON.parse(pipelineStatus) ?? {};
  } catch {
    parsed = {};
  }
  const inner = { ...(parsed[pipeline] ?? {}) };
  if (status === null) delete inner[datasetId];
  else inner[datasetId] = status;
  return JSON.stringify({ ...parsed, [pipeline]: inner });
}
