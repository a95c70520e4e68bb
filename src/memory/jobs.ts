import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import PgBoss from 'pg-boss';
import type pg from 'pg';
import type { JobsConfig } from '../config/memory.js';
import type { Database } from '../storage/index.js';
import { nextFairJob, rankOf } from './job-fairness.js';

/**
 * Durable background work. A cognify run started with `run_in_background` becomes a job; whichever
 * instance takes it runs it. Jobs outlive the process that queued them: a job whose worker stopped
 * (shutdown) or died (crash) goes back to waiting and is taken again, by this instance after a
 * restart or by any other instance sharing the database.
 *
 * Two implementations share this interface: pg-boss on PostgreSQL (any instance can take any job),
 * and an in-process queue over the relational `jobs` table on SQLite (one instance per database).
 */
export interface CognifyJob {
  readonly pipelineRunId: string;
  readonly datasetId: string;
  readonly userId: string;
  readonly customPrompt?: string;
  readonly chunkSize?: number;
  readonly dataPerBatch?: number;
  readonly chunksPerBatch?: number;
}

/** Where a job stands. `active` jobs carry when they were taken. */
export type JobState =
  | { readonly state: 'waiting' }
  | { readonly state: 'active'; readonly since: Date }
  | { readonly state: 'done' }
  | { readonly state: 'failed' }
  | { readonly state: 'missing' };

/** Runs a job. It throws to hand the job back (it is retried); `signal` asks it to stop early. */
export type JobHandler = (job: CognifyJob, signal: AbortSignal) => Promise<void>;

export interface JobQueue {
  readonly kind: 'pg-boss' | 'local';
  start(handler: JobHandler): Promise<void>;
  enqueue(job: CognifyJob): Promise<void>;
  state(pipelineRunId: string): Promise<JobState>;
  /** Hands an active job whose worker is gone back to the queue (counts as a failed attempt). */
  requeue(pipelineRunId: string, reason: string): Promise<void>;
  /** Resolves when this instance runs no job (tests and benchmarks). */
  idle(): Promise<void>;
  /**
   * Stops taking jobs, asks running handlers to stop at their next safe point, waits for them,
   * and leaves their jobs to be taken again.
   */
  stop(): Promise<void>;
}

export class JobInterrupted extends Error {
  constructor() {
    super('the run was interrupted by a shutdown; its job goes back to the queue');
    this.name = 'JobInterrupted';
  }
}

/** Tracks this instance's running handlers and their abort controllers. */
class RunningJobs {
  private readonly running = new Map<Promise<void>, AbortController>();
  track(fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const controller = new AbortController();
    const task = fn(controller.signal);
    const tracked = task.finally(() => this.running.delete(tracked));
    this.running.set(tracked, controller);
    return tracked;
  }
  get size(): number {
    return this.running.size;
  }
  abortAll(): void {
    for (const controller of this.running.values()) controller.abort();
  }
  /** Waits for every running handler; with a limit, gives up after it and says whether all settled. */
  async settle(limitMs?: number): Promise<boolean> {
    const deadline = limitMs === undefined ? Infinity : Date.now() + limitMs;
    while (this.running.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const all = Promise.allSettled([...this.running.keys()]);
      if (left === Infinity) await all;
      else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([all, new Promise((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
      }
    }
    return true;
  }
}

function errorText(error: unknown): string {
  return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 1000);
}

const JOB_NAME = 'cognify';
/** How long a shutdown waits for running handlers to reach a safe point. */
const STOP_LIMIT_MS = 30_000;

/**
 * The in-process queue over the relational `jobs` table. Jobs are rows; a row taken by this process
 * is `active` until its handler settles. At start, rows left `active` by a previous process (this
 * queue serves one instance per database) go back to `queued`.
 */
export class LocalJobQueue implements JobQueue {
  readonly kind = 'local' as const;
  private handler?: JobHandler;
  private readonly jobs = new RunningJobs();
  private stopped = false;
  private pumping = false;
  private timer?: NodeJS.Timeout;
  /** The jobs this process runs, and their users. */
  private readonly mine = new Map<string, string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: JobsConfig,
    private readonly log: Logger,
    /** Runs of one user taken at once (USER_MAX_CONCURRENT_RUNS); see job-fairness.ts. */
    private readonly maxPerUser: number = Number.MAX_SAFE_INTEGER,
  ) {}

  async start(handler: JobHandler): Promise<void> {
    this.handler = handler;
    const now = new Date().toISOString();
    const reset = await this.db
      .updateTable('jobs')
      .set({ state: 'queued', run_after: null, started_at: null, updated_at: now, last_error: 'the process running it stopped' })
      .where('name', '=', JOB_NAME)
      .where('state', '=', 'active')
      .executeTakeFirst();
    if (Number(reset.numUpdatedRows) > 0)
      this.log.warn({ jobs: Number(reset.numUpdatedRows) }, 'background jobs cut off by the previous process are queued again');
    this.timer = setInterval(() => this.pump(), this.config.pollSeconds * 1000);
    this.timer.unref();
    this.pump();
  }

  async enqueue(job: CognifyJob): Promise<void> {
    const now = new Date().toISOString();
    const unfinished = await this.db.selectFrom('jobs').select('data').where('name', '=', JOB_NAME).where('state', 'in', ['queued', 'active']).execute();
    const rank = rankOf(
      job.userId,
      unfinished.map((row) => (JSON.parse(row.data) as CognifyJob).userId),
    );
    await this.db
      .insertInto('jobs')
      .values({
        id: job.pipelineRunId,
        name: JOB_NAME,
        singleton_key: job.datasetId,
        data: JSON.stringify({ ...job, rank }),
        state: 'queued',
        attempts: 0,
        last_error: null,
        run_after: null,
        started_at: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    this.pump();
  }

  async state(pipelineRunId: string): Promise<JobState> {
    const row = await this.db.selectFrom('jobs').select(['state', 'started_at']).where('id', '=', pipelineRunId).executeTakeFirst();
    if (!row) return { state: 'missing' };
    if (row.state === 'queued') return { state: 'waiting' };
    if (row.state === 'active') return { state: 'active', since: new Date(row.started_at ?? 0) };
    return { state: row.state === 'done' ? 'done' : 'failed' };
  }

  async requeue(pipelineRunId: string, reason: string): Promise<void> {
    if (this.mine.has(pipelineRunId)) return; // still running here: not an orphan
    await this.settle(pipelineRunId, reason);
    this.pump();
  }

  async idle(): Promise<void> {
    for (;;) {
      await this.jobs.settle();
      const waiting = await this.db.selectFrom('jobs').select('id').where('name', '=', JOB_NAME).where('state', '=', 'queued').limit(1).execute();
      if (waiting.length === 0 && this.jobs.size === 0) return;
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.jobs.abortAll();
    if (!(await this.jobs.settle(STOP_LIMIT_MS))) this.log.warn('background jobs did not stop in time; they are queued again at the next start');
  }

  /** A job that failed goes back to `queued` after the retry delay, or to `failed` when out of attempts. */
  private async settle(id: string, reason: string): Promise<void> {
    const row = await this.db.selectFrom('jobs').select(['attempts']).where('id', '=', id).executeTakeFirst();
    if (!row) return;
    const now = Date.now();
    const retry = row.attempts <= this.config.retryLimit;
    await this.db
      .updateTable('jobs')
      .set({
        state: retry ? 'queued' : 'failed',
        last_error: reason.slice(0, 1000),
        run_after: retry ? new Date(now + this.config.retryDelaySeconds * 1000).toISOString() : null,
        started_at: null,
        updated_at: new Date(now).toISOString(),
      })
      .where('id', '=', id)
      .execute();
  }

  /** Takes queued jobs while there is room. Only one pump runs at a time. */
  private pump(): void {
    if (this.pumping || this.stopped || !this.handler) return;
    this.pumping = true;
    void (async () => {
      try {
        while (!this.stopped && this.jobs.size < this.config.concurrency) {
          const taken = await this.take();
          if (!taken) break;
          void this.jobs.track((signal) => this.run(taken, signal));
        }
      } catch (error) {
        this.log.error({ err: error }, 'background job queue: taking a job failed');
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async take(): Promise<CognifyJob | undefined> {
    const now = new Date().toISOString();
    const queued = await this.db
      .selectFrom('jobs')
      .select(['id', 'data'])
      .where('name', '=', JOB_NAME)
      .where('state', '=', 'queued')
      .where((eb) => eb.or([eb('run_after', 'is', null), eb('run_after', '<=', now)]))
      .orderBy('created_at')
      .limit(1000)
      .execute();
    const jobs = queued.map((row) => {
      const data = JSON.parse(row.data) as CognifyJob & { rank?: number };
      return { id: row.id, data: row.data, userId: data.userId, rank: data.rank ?? 0 };
    });
    const running = (userId: string) => [...this.mine.values()].filter((u) => u === userId).length;
    const next = nextFairJob(jobs, running, this.maxPerUser);
    if (!next) return undefined;
    const claimed = await this.db
      .updateTable('jobs')
      .set((eb) => ({ state: 'active', attempts: eb('attempts', '+', 1), started_at: now, updated_at: now }))
      .where('id', '=', next.id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return undefined;
    this.mine.set(next.id, next.userId);
    const { rank: _rank, ...job } = JSON.parse(next.data) as CognifyJob & { rank?: number };
    return job;
  }

  private async run(job: CognifyJob, signal: AbortSignal): Promise<void> {
    try {
      await this.handler!(job, signal);
      await this.db
        .updateTable('jobs')
        .set({ state: 'done', started_at: null, updated_at: new Date().toISOString() })
        .where('id', '=', job.pipelineRunId)
        .execute();
    } catch (error) {
      if (!(error instanceof JobInterrupted)) this.log.warn({ err: error, pipelineRunId: job.pipelineRunId }, 'background job failed; it will be tried again');
      await this.settle(job.pipelineRunId, errorText(error)).catch((e) => this.log.error({ err: e }, 'background job queue: recording a failure failed'));
    } finally {
      this.mine.delete(job.pipelineRunId);
      if (!this.stopped) setImmediate(() => this.pump());
    }
  }
}

/**
 * pg-boss on PostgreSQL: jobs live in its own schema (`pgboss`) of the relational database, any
 * instance's workers take them (`SELECT … FOR UPDATE SKIP LOCKED`), and a failed or handed-back job
 * is retried with the configured delay. The job id is the pipeline run id, so a run's job can be
 * looked up (and is never queued twice).
 */
export class PgBossJobQueue implements JobQueue {
  readonly kind = 'pg-boss' as const;
  private readonly boss: PgBoss;
  private readonly jobs = new RunningJobs();
  private readonly workers: string[] = [];
  private started = false;

  constructor(
    connection: pg.ClientConfig,
    private readonly config: JobsConfig,
    private readonly log: Logger,
  ) {
    this.boss = new PgBoss({
      host: connection.host ?? '127.0.0.1',
      port: connection.port ?? 5432,
      database: connection.database ?? 'postgres',
      user: connection.user ?? 'postgres',
      ...(typeof connection.password === 'string' ? { password: connection.password } : {}),
      ...(connection.ssl !== undefined ? { ssl: connection.ssl } : {}),
      application_name: 'engram-jobs',
      schema: 'pgboss',
      max: Math.max(2, config.concurrency + 1),
      supervise: true,
      schedule: false,
      migrate: true,
    });
    this.boss.on('error', (error) => this.log.error({ err: error }, 'background job queue (pg-boss) error'));
  }

  async start(handler: JobHandler): Promise<void> {
    await this.boss.start();
    this.started = true;
    const existing = await this.boss.getQueue(JOB_NAME);
    if (!existing) {
      await this.boss.createQueue(JOB_NAME, {
        name: JOB_NAME,
        policy: 'standard',
        retryLimit: this.config.retryLimit,
        retryDelay: this.config.retryDelaySeconds,
        expireInSeconds: this.config.expireSeconds,
      });
    }
    for (let i = 0; i < this.config.concurrency; i++) {
      const id = await this.boss.work<CognifyJob>(JOB_NAME, { batchSize: 1, pollingIntervalSeconds: this.config.pollSeconds }, async ([job]) => {
        if (!job) return;
        await this.jobs.track((signal) => handler(job.data, signal));
      });
      this.workers.push(id);
    }
  }

  async enqueue(job: CognifyJob): Promise<void> {
    // Fair order between users (job-fairness.ts): pg-boss takes higher priorities first.
    const { rows } = await this.boss
      .getDb()
      .executeSql(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state < 'completed' AND data->>'userId' = $2`, [JOB_NAME, job.userId]);
    await this.boss.send(
      JOB_NAME,
      { ...job },
      {
        id: job.pipelineRunId,
        priority: -Number(rows[0]?.n ?? 0),
        retryLimit: this.config.retryLimit,
        retryDelay: this.config.retryDelaySeconds,
        expireInSeconds: this.config.expireSeconds,
      },
    );
    for (const id of this.workers) this.boss.notifyWorker(id);
  }

  async state(pipelineRunId: string): Promise<JobState> {
    const job = await this.boss.getJobById<CognifyJob>(JOB_NAME, pipelineRunId, { includeArchive: true });
    if (!job) return { state: 'missing' };
    switch (job.state) {
      case 'created':
      case 'retry':
        return { state: 'waiting' };
      case 'active':
        return { state: 'active', since: new Date(job.startedOn) };
      case 'completed':
        return { state: 'done' };
      default:
        return { state: 'failed' };
    }
  }

  async requeue(pipelineRunId: string, reason: string): Promise<void> {
    // pg-boss's fail() moves an active job to `retry` while attempts remain, else to `failed`.
    await this.boss.fail(JOB_NAME, pipelineRunId, { message: reason });
    for (const id of this.workers) this.boss.notifyWorker(id);
  }

  async idle(): Promise<void> {
    for (;;) {
      await this.jobs.settle();
      const waiting = await this.boss.getQueueSize(JOB_NAME);
      if (waiting === 0 && this.jobs.size === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const id of this.workers) await this.boss.offWork({ id });
    this.jobs.abortAll();
    if (!(await this.jobs.settle(STOP_LIMIT_MS))) this.log.warn('background jobs did not stop in time; pg-boss hands them back');
    // Handlers that were interrupted threw, so pg-boss already failed their jobs into `retry`.
    await this.boss.stop({ graceful: true, wait: true, close: true, timeout: 10_000 });
  }
}
