import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASE_ENV, Client, spawnServer, TEST_DB, createPgDatabase, eventually, uniqueEmail } from '../helpers/harness.js';
import { startOpenAIStub } from '../helpers/openai-stub.js';

/**
 * Background cognify runs are jobs in a durable queue. A server process killed with SIGKILL (or
 * stopped with SIGTERM) in the middle of a run leaves the job to be taken again: by the restarted
 * process, or, on PostgreSQL, by another instance that is already running. The run completes under
 * its own id and the graph holds exactly what an uninterrupted run of the same documents holds (no
 * node or chunk twice). The language model is the real OpenAI-compatible client against a slow
 * stand-in on loopback, so the interruption lands while the run is under way.
 */

interface Instance {
  url: string;
  child: ChildProcess;
}

async function spawnInstance(env: Record<string, string>, cwd: string): Promise<Instance> {
  const { url, child } = await spawnServer(env, cwd);
  return { url, child };
}

const paragraph = (topic: string, i: number) =>
  `${topic} Report ${i} describes how Alpha Station and Beta Station exchange data with Gamma Relay every morning before noon.`;
const DOCS = ['Mars', 'Venus', 'Jupiter'].map((topic) => Array.from({ length: 6 }, (_, i) => paragraph(topic, i)).join('\n\n'));

interface Scenario {
  readonly name: string;
  readonly only?: 'postgres';
  /** Interrupts the instance running the job; returns the instance that is to finish it. */
  interrupt(running: Instance, start: () => Promise<Instance>): Promise<Instance>;
}

async function stop(instance: Instance, signal: NodeJS.Signals): Promise<number> {
  const began = Date.now();
  const exited = new Promise((r) => instance.child.once('exit', r));
  instance.child.kill(signal);
  await exited;
  return Date.now() - began;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'SIGKILL, then a restart: the restarted process takes the job again',
    async interrupt(running, start) {
      await stop(running, 'SIGKILL');
      return start();
    },
  },
  {
    name: 'SIGKILL while a second instance runs: the second instance finds the orphaned job and finishes it',
    only: 'postgres',
    async interrupt(running, start) {
      const other = await start();
      await stop(running, 'SIGKILL');
      return other;
    },
  },
  {
    name: 'SIGTERM during the run: the process stops at the next chunk, without waiting for the run, and the job is taken again',
    async interrupt(running, start) {
      const other = TEST_DB === 'postgres' ? await start() : undefined;
      // The process exits without waiting for the run: the test checks that the run went on after it.
      await stop(running, 'SIGTERM');
      return other ?? start();
    },
  },
];

describe('crash recovery: background cognify runs survive their process', () => {
  let root: string;
  const instances: Instance[] = [];
  const drops: (() => Promise<void>)[] = [];
  const stubs: { close(): Promise<void> }[] = [];

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'engram-crash-'));
  });
  after(async () => {
    for (const instance of instances) if (instance.child.exitCode === null && instance.child.signalCode === null) await stop(instance, 'SIGTERM');
    for (const stub of stubs) await stub.close();
    for (const drop of drops) await drop();
    rmSync(root, { recursive: true, force: true });
  });

  // Several instances share one database only on PostgreSQL; that scenario runs in the PostgreSQL pass.
  for (const scenario of SCENARIOS.filter((s) => !s.only || s.only === TEST_DB)) {
    it(scenario.name, async () => {
      const stub = await startOpenAIStub({ chat: () => ({ delayMs: 120 }) });
      stubs.push(stub);
      let dbEnv: Record<string, string> = {};
      if (TEST_DB === 'postgres') {
        const db = await createPgDatabase();
        dbEnv = db.env;
        drops.push(db.drop);
      }
      const dir = mkdtempSync(join(root, 'case-'));
      const env = {
        ...BASE_ENV,
        ...dbEnv,
        LOG_LEVEL: 'info',
        FASTAPI_USERS_JWT_SECRET: 'crash-recovery-secret-0123456789-abcdefghij',
        SYSTEM_ROOT_DIRECTORY: join(dir, 'system'),
        DATA_ROOT_DIRECTORY: join(dir, 'data'),
        HTTP_API_PORT: '0',
        LLM_ENDPOINT: stub.url,
        LLM_API_KEY: 'stub-key',
        LLM_MODEL: 'stub-model',
        EMBEDDING_DIMENSIONS: '64',
        CHUNK_SIZE: '24',
        JOB_ORPHAN_SCAN_SECONDS: '1',
        JOB_ORPHAN_GRACE_SECONDS: '1',
        JOB_RETRY_DELAY_SECONDS: '0',
        JOB_POLL_SECONDS: '1',
        // One item per batch and one chunk at a time: the interruption lands between written items.
        DATA_PER_BATCH: '1',
        CHUNKS_PER_BATCH: '1',
      };
      const start = async () => {
        const instance = await spawnInstance(env, dir);
        instances.push(instance);
        return instance;
      };
      const first = await start();
      let c = new Client(first.url);
      const email = uniqueEmail('crash');
      const { token } = await c.signUp(email);
      const as = { bearer: token, cookies: false as const };

      const crashed = await c.post('/api/v1/add_text', { json: { textData: DOCS, datasetName: 'crashed' }, ...as });
      const control = await c.post('/api/v1/add_text', { json: { textData: DOCS, datasetName: 'control' }, ...as });
      const ds = crashed.body.dataset_id as string;
      const controlDs = control.body.dataset_id as string;

      const started = await c.post('/api/v1/cognify', { json: { datasetIds: [ds], runInBackground: true }, ...as });
      assert.equal(started.body[ds].status, 'PipelineRunStarted');
      const runId = started.body[ds].pipeline_run_id as string;
      // Interrupt once the run is well under way: past the first document, before the last.
      await eventually(async () => stub.requests.filter((r) => r.path.endsWith('/chat/completions')).length >= 16, 60_000, 20);
      const before = stub.requests.length;

      const finisher = await scenario.interrupt(first, start);
      c = new Client(finisher.url);
      await eventually(
        async () => {
          const status = await c.get(`/api/v1/datasets/status?dataset=${ds}`, as);
          return status.body?.[ds] === 'DATASET_PROCESSING_COMPLETED';
        },
        120_000,
        100,
      );
      assert.ok(stub.requests.length > before, 'the run went on after the interruption');

      // The control dataset holds the same documents, cognified without interruption.
      const controlRun = await c.post('/api/v1/cognify', { json: { datasetIds: [controlDs] }, ...as });
      assert.equal(controlRun.status, 200, controlRun.text);

      const graph = (await c.get(`/api/v1/datasets/${ds}/graph`, as)).body as { nodes: { id: string; type: string }[]; edges: unknown[] };
      const expected = (await c.get(`/api/v1/datasets/${controlDs}/graph`, as)).body as { nodes: { id: string; type: string }[]; edges: unknown[] };
      const ids = graph.nodes.map((n) => n.id);
      assert.equal(new Set(ids).size, ids.length, 'no node twice');
      const chunks = (g: { nodes: { type: string }[] }) => g.nodes.filter((n) => n.type === 'DocumentChunk').length;
      assert.ok(chunks(expected) >= 18, `the documents make several chunks each (${chunks(expected)})`);
      assert.equal(chunks(graph), chunks(expected), 'every chunk once');
      assert.equal(graph.nodes.length, expected.nodes.length);
      assert.equal(graph.edges.length, expected.edges.length);
      const search = await c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'Mars Report 3', datasetIds: [ds], topK: 50 }, ...as });
      const results = search.body[0].search_result as { id: string }[];
      assert.equal(new Set(results.map((r) => r.id)).size, results.length, 'no chunk twice in the vectors');
      assert.equal(results.length, chunks(expected), 'every chunk indexed once');
      // The run that completed is the interrupted one, finished under its own id.
      const summary = await c.get(`/api/v1/datasets/graph-summary?dataset_ids=${ds}`, as);
      assert.equal(summary.body[0].pipelineRunId, runId);
    });
  }
});
