import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import type { JobsConfig } from '../../src/config/memory.js';
import { JobInterrupted, LocalJobQueue, PgBossJobQueue, type CognifyJob, type JobHandler, type JobQueue } from '../../src/memory/jobs.js';
import { openRelationalStore, type RelationalStore } from '../../src/storage/index.js';
import { PG_ADMIN, createPgDatabase, eventually } from '../helpers/harness.js';

/**
 * The background job queue's contract, run against both implementations for real: the in-process
 * queue over SQLite's `jobs` table, and pg-boss in a fresh database of the local PostgreSQL.
 */
const log = pino({ level: 'silent' });
const CONFIG: JobsConfig = {
  queue: 'auto',
  concurrency: 1,
  retryLimit: 2,
  retryDelaySeconds: 0,
  orphanScanSeconds: 1,
  orphanGraceSeconds: 0,
  expireSeconds: 3600,
  pollSeconds: 1,
};

const job = (): CognifyJob => ({ pipelineRunId: randomUUID(), datasetId: randomUUID(), userId: randomUUID(), chunkSize: 64 });

interface Backend {
  readonly name: string;
  /** A queue over the backend's shared storage (two calls: two instances). */
  make(): JobQueue;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function sqliteBackend(): Promise<Backend> {
  const root = mkdtempSync(join(tmpdir(), 'engram-jobs-'));
  const config = loadConfig({ SYSTEM_ROOT_DIRECTORY: join(root, 'system'), DATA_ROOT_DIRECTORY: join(root, 'data') }, root);
  const store: RelationalStore = openRelationalStore(config);
  await store.migrate();
  return {
    name: 'in-process queue on SQLite',
    make: () => new LocalJobQueue(store.db, CONFIG, log),
    async close() {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function pgBossBackend(): Promise<Backend> {
  const db = await createPgDatabase();
  return {
    name: 'pg-boss on PostgreSQL',
    make: () => new PgBossJobQueue({ ...PG_ADMIN, database: db.name }, CONFIG, log),
    close: db.drop,
  };
}

for (const open of [sqliteBackend, pgBossBackend]) {
  describe(`job queue contract: ${open === sqliteBackend ? 'in-process queue on SQLite' : 'pg-boss on PostgreSQL'}`, async () => {
    const backend = await open();
    cleanups.push(() => backend.close());

    async function started(handler: JobHandler): Promise<JobQueue> {
      const queue = backend.make();
      await queue.start(handler);
      cleanups.push(() => queue.stop());
      return queue;
    }

    it('runs a queued job once with its data, then reports it done', async () => {
      const seen: CognifyJob[] = [];
      const queue = await started(async (j) => void seen.push(j));
      const one = job();
      assert.deepEqual(await queue.state(one.pipelineRunId), { state: 'missing' });
      await queue.enqueue(one);
      await queue.enqueue(one); // the same run queued twice is one job
      await eventually(async () => (await queue.state(one.pipelineRunId)).state === 'done', 15_000, 20);
      await queue.idle();
      assert.deepEqual(seen, [one]);
      await queue.stop();
    });

    it('a failing job is tried again, and marked failed once its attempts are used up', async () => {
      let calls = 0;
      const queue = await started(async () => {
        calls += 1;
        throw new Error('provider down');
      });
      const one = job();
      await queue.enqueue(one);
      await eventually(async () => (await queue.state(one.pipelineRunId)).state === 'failed', 20_000, 50);
      assert.equal(calls, CONFIG.retryLimit + 1, 'first attempt plus each retry');
      await queue.stop();
    });

    it('stop() interrupts a running job, and the next instance takes it again', async () => {
      let sawAbort = false;
      const first = await started(
        (_j, signal) =>
          new Promise<void>((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              sawAbort = true;
              reject(new JobInterrupted());
            });
          }),
      );
      const one = job();
      await first.enqueue(one);
      await eventually(async () => (await first.state(one.pipelineRunId)).state === 'active', 15_000, 20);
      await first.stop();
      assert.equal(sawAbort, true, 'the handler was asked to stop');
      assert.notEqual((await first.state(one.pipelineRunId)).state, 'done');

      const finished: string[] = [];
      const second = await started(async (j) => void finished.push(j.pipelineRunId));
      await eventually(async () => (await second.state(one.pipelineRunId)).state === 'done', 15_000, 50);
      assert.deepEqual(finished, [one.pipelineRunId]);
      await second.stop();
    });

    it('an active job whose worker is gone is handed back and taken again', async () => {
      // The first worker takes the job and never finishes it (its process "died" silently).
      const hung = await started((_j, signal) => new Promise<void>((_r, reject) => signal.addEventListener('abort', () => reject(new JobInterrupted()))));
      const one = job();
      await hung.enqueue(one);
      await eventually(async () => (await hung.state(one.pipelineRunId)).state === 'active', 15_000, 20);
      const state = await hung.state(one.pipelineRunId);
      assert.ok(state.state === 'active' && state.since.getTime() <= Date.now() + 1000, 'an active job says since when');
      if (hung.kind === 'local') {
        // The in-process queue never hands back a job its own process is running.
        await hung.requeue(one.pipelineRunId, 'worker gone');
        assert.equal((await hung.state(one.pipelineRunId)).state, 'active');
        return;
      }
      const finished: string[] = [];
      const other = await started(async (j) => void finished.push(j.pipelineRunId));
      await other.requeue(one.pipelineRunId, 'worker gone');
      await eventually(async () => finished.includes(one.pipelineRunId), 15_000, 50);
      await eventually(async () => (await other.state(one.pipelineRunId)).state === 'done', 15_000, 50);
    });
  });
}

describe('in-process queue: a job left active by a dead process', () => {
  it('is queued again when the next process starts, and runs', async () => {
    const backend = await sqliteBackend();
    cleanups.push(() => backend.close());
    const one = job();
    // A process took the job and died: the row says active, nobody runs it.
    const dead = backend.make();
    await dead.start(() => new Promise<void>(() => undefined));
    await dead.enqueue(one);
    await eventually(async () => (await dead.state(one.pipelineRunId)).state === 'active', 15_000, 20);

    const finished: string[] = [];
    const next = backend.make();
    await next.start(async (j) => void finished.push(j.pipelineRunId));
    cleanups.push(() => next.stop());
    await eventually(async () => finished.includes(one.pipelineRunId), 15_000, 20);
    assert.equal((await next.state(one.pipelineRunId)).state, 'done');
  });
});
