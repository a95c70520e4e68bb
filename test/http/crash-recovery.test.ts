import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASE_ENV, Client, spawnServer, TEST_DB, createPgDatabase, eventually, uniqueEmail } from '../helpers/harness.js';
import { startOpenAIStub } from '../helpers/openai-stub.js';

/**
 * A server process killed with SIGKILL in the middle of a background cognify, then started again:
 * the interrupted run is found at start, run again under the same run id, completes, and the graph
 * holds exactly what an uninterrupted run of the same documents holds (no node or chunk twice).
 * The language model is the real OpenAI-compatible client against a slow stand-in on loopback, so
 * the kill lands while the run is under way.
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

describe('crash recovery: SIGKILL during a background cognify', () => {
  let root: string;
  let dropDb: (() => Promise<void>) | undefined;
  let instance: Instance | undefined;
  const stubs: { close(): Promise<void> }[] = [];

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'engram-crash-'));
  });
  after(async () => {
    if (instance && instance.child.exitCode === null) {
      const exited = new Promise((r) => instance!.child.once('exit', r));
      instance.child.kill('SIGTERM');
      await exited;
    }
    for (const stub of stubs) await stub.close();
    await dropDb?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('the interrupted run is recovered at restart and nothing is duplicated', async () => {
    const stub = await startOpenAIStub({ chat: () => ({ delayMs: 120 }) });
    stubs.push(stub);
    let dbEnv: Record<string, string> = {};
    if (TEST_DB === 'postgres') {
      const db = await createPgDatabase();
      dbEnv = db.env;
      dropDb = db.drop;
    }
    const env = {
      ...BASE_ENV,
      ...dbEnv,
      LOG_LEVEL: 'info',
      FASTAPI_USERS_JWT_SECRET: 'crash-recovery-secret-0123456789-abcdefghij',
      SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
      DATA_ROOT_DIRECTORY: join(root, 'data'),
      HTTP_API_PORT: '0',
      LLM_ENDPOINT: stub.url,
      LLM_API_KEY: 'stub-key',
      LLM_MODEL: 'stub-model',
      EMBEDDING_DIMENSIONS: '64',
      CHUNK_SIZE: '24',
    };
    instance = await spawnInstance(env, root);
    let c = new Client(instance.url);
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
    // Kill once the run is well under way: past the first document, before the last.
    await eventually(async () => stub.requests.filter((r) => r.path.endsWith('/chat/completions')).length >= 16, 60_000, 20);
    const exited = new Promise((r) => instance!.child.once('exit', r));
    instance.child.kill('SIGKILL');
    await exited;

    instance = await spawnInstance(env, root);
    c = new Client(instance.url);
    await eventually(async () => {
      const status = await c.get(`/api/v1/datasets/status?dataset=${ds}`, as);
      return status.body?.[ds] === 'DATASET_PROCESSING_COMPLETED';
    }, 120_000, 100);

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
    // The run that completed is the interrupted one, recovered under its own id.
    const summary = await c.get(`/api/v1/datasets/graph-summary?dataset_ids=${ds}`, as);
    assert.equal(summary.body[0].pipelineRunId, runId);
  });
});
