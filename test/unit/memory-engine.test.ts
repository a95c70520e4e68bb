import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DatasetInfo } from '../../src/memory/engine.js';
import { DomainError } from '../../src/errors.js';
import { RunStatus, latestRunStatus, latestRuns, recordRunStatus } from '../../src/memory/runs.js';
import { searchDataset, searchResultOf } from '../../src/memory/search.js';
import { DOC, removeEngineRoots, searchRequest, setupEngine } from '../helpers/engine.js';

/**
 * The engine below the HTTP layer, on SQLite + Kuzu + LanceDB with the offline providers, in both
 * storage modes: ingest → cognify → search → delete, isolation between two datasets holding the same
 * document (D16), and re-running an interrupted cognify without duplicating anything.
 */

after(removeEngineRoots);

const setup = (multiTenant: boolean, extraEnv: Record<string, string> = {}) =>
  setupEngine({ ENABLE_BACKEND_ACCESS_CONTROL: String(multiTenant), ...extraEnv }, { jobs: true });
const request = searchRequest;

for (const multiTenant of [true, false]) {
  describe(`memory engine, ${multiTenant ? 'per-dataset stores' : 'shared stores'}`, () => {
    it('ingests, cognifies, searches every type within its own dataset, and deletes', async () => {
      const t = await setup(multiTenant);
      try {
        const [a, b] = t.datasets as [DatasetInfo, DatasetInfo];
        const rowsA = await t.engine.ingest(a, a.ownerId, null, [{ kind: 'text', text: DOC }], null);
        const rowsB = await t.engine.ingest(
          b,
          b.ownerId,
          null,
          [
            { kind: 'text', text: DOC },
            { kind: 'file', filename: 'cats.md', bytes: Buffer.from('# Cats\nCats purr and sleep a lot.') },
          ],
          ['pets'],
        );
        assert.equal(rowsA.length, 1);
        assert.notEqual(rowsA[0]!.id, rowsB[0]!.id, 'the same content in two datasets is two items');
        // Dedup: the same content again in the same dataset is the same row.
        const again = await t.engine.ingest(a, a.ownerId, null, [{ kind: 'text', text: DOC }], null);
        assert.equal(again[0]!.id, rowsA[0]!.id);

        const runA = await t.engine.cognify(a, a.ownerId);
        assert.equal(runA.status, 'PipelineRunCompleted');
        const runB = await t.engine.cognify(b, b.ownerId);
        assert.equal(runB.status, 'PipelineRunCompleted');
        assert.equal((await latestRuns(t.store.db, 'cognify_pipeline', [a.id])).get(a.id)?.status, 'DATASET_PROCESSING_COMPLETED');

        const ownIdsA = new Set(rowsA.map((r) => r.id));
        const chunks = (await searchDataset(t.search, a, request('CHUNKS', 'Analytical Engine'))).context as Record<string, unknown>[];
        assert.ok(chunks.length > 0);
        for (const chunk of chunks) assert.ok(ownIdsA.has(String(chunk.document_id)), 'a chunk of dataset A belongs to A');
        const catsInA = (await searchDataset(t.search, a, request('CHUNKS', 'cats purr'))).context as Record<string, unknown>[];
        assert.ok(
          catsInA.every((c) => !String(c.text).includes('purr')),
          'B-only content never reaches A',
        );

        const lexical = (await searchDataset(t.search, b, request('CHUNKS_LEXICAL', 'purr'))).context as Record<string, unknown>[];
        assert.equal(lexical.length, 1);
        assert.match(String(lexical[0]!.text), /purr/);

        const summaries = (await searchDataset(t.search, a, request('SUMMARIES', 'Lovelace'))).context as unknown[];
        assert.ok(summaries.length > 0);

        for (const type of ['RAG_COMPLETION', 'GRAPH_COMPLETION', 'HYBRID_COMPLETION', 'GRAPH_SUMMARY_COMPLETION'] as const) {
          const outcome = await searchDataset(t.search, a, request(type, 'Who worked with Babbage?'));
          const result = searchResultOf(outcome, false) as string[];
          assert.ok(Array.isArray(result) && result.length === 1 && typeof result[0] === 'string', `${type} answers with one string`);
          assert.ok(result[0]!.length > 0, `${type} offline answer holds the retrieved context`);
          assert.ok(!result[0]!.includes('purr'), `${type} context stays in dataset A`);
          const context = searchResultOf(await searchDataset(t.search, a, request(type, 'Who worked with Babbage?', true)), true);
          assert.equal(typeof context, 'string');
        }

        const rows = (await searchDataset(t.search, a, request('CYPHER', 'MATCH (n:Node) RETURN n.id AS id'))).context as { id: string }[];
        const graphA = await t.engine.databases.with(a, ({ graph }) => graph.counts(a.id));
        assert.equal(rows.length, graphA.nodes, 'Cypher sees exactly the dataset graph');
        await assert.rejects(searchDataset(t.search, a, request('CYPHER', 'MATCH (n) DETACH DELETE n')), (error: unknown) => {
          // What a client gets: 400 with the reference's CypherSearchError envelope.
          assert.ok(error instanceof DomainError, String(error));
          assert.equal(error.status, 400);
          assert.match(String((error.toBody() as { detail: string }).detail), /^The Cypher query was refused: .*DETACH.* \[CypherSearchError\]$/);
          return true;
        });

        // Deleting A leaves B whole.
        const countsB = await t.engine.databases.with(b, ({ graph }) => graph.counts(b.id));
        await t.engine.deleteDataset(a);
        assert.deepEqual(await t.engine.databases.with(b, ({ graph }) => graph.counts(b.id)), countsB);
        assert.deepEqual(await t.engine.databases.with(a, ({ graph }) => graph.counts(a.id)), { nodes: 0, edges: 0 });
        const after = (await searchDataset(t.search, b, request('CHUNKS', 'Analytical Engine'))).context as unknown[];
        assert.ok(after.length > 0);
      } finally {
        await t.close();
      }
    });

    it('a re-run of an interrupted cognify rewrites the same nodes and vectors, never duplicates', async () => {
      const t = await setup(multiTenant);
      try {
        const [a] = t.datasets as [DatasetInfo];
        await t.engine.ingest(a, a.ownerId, null, [{ kind: 'text', text: DOC }], null);
        await t.engine.cognify(a, a.ownerId);
        const first = await t.engine.databases.with(a, ({ graph }) => graph.counts(a.id));
        const chunksFirst = ((await searchDataset(t.search, a, request('CHUNKS', 'Lovelace'))).context as unknown[]).length;
        // As after a crash: the item never got its completed mark, so the next run processes it again.
        await t.store.db.updateTable('data').set({ pipeline_status: '{}' }).where('dataset_id', '=', a.id).execute();
        const rerun = await t.engine.cognify(a, a.ownerId);
        assert.equal(rerun.data_ingestion_info?.[0]?.run_info.status, 'PipelineRunCompleted');
        assert.deepEqual(await t.engine.databases.with(a, ({ graph }) => graph.counts(a.id)), first);
        assert.equal(((await searchDataset(t.search, a, request('CHUNKS', 'Lovelace'))).context as unknown[]).length, chunksFirst);
        // Incremental: a third run skips the finished item.
        const third = await t.engine.cognify(a, a.ownerId);
        assert.equal(third.data_ingestion_info?.[0]?.run_info.status, 'PipelineRunAlreadyCompleted');
      } finally {
        await t.close();
      }
    });
  });
}

describe('memory engine: orphaned runs are put back to work', () => {
  it('a run cut off without a job is queued under its id; a held dataset is left alone; a run out of attempts is ERRORED', async () => {
    const t = await setup(false, { JOB_ORPHAN_GRACE_SECONDS: '0', JOB_ORPHAN_SCAN_SECONDS: '3600', JOB_RETRY_LIMIT: '0' });
    try {
      const [a, b] = t.datasets as [DatasetInfo, DatasetInfo];
      await t.engine.ingest(a, a.ownerId, null, [{ kind: 'text', text: DOC }], null);
      await t.engine.ingest(b, b.ownerId, null, [{ kind: 'text', text: DOC }], null);
      await t.engine.startJobs();
      await t.engine.idle(); // the scan at start found nothing to do

      // A blocking run cut off by a crash: STARTED, no job. Dataset B is being cognified here right now.
      const cutOff = '33333333-3333-4333-8333-333333333333';
      await recordRunStatus(t.store.db, { pipelineRunId: cutOff, pipelineName: 'cognify_pipeline', datasetId: a.id, userId: a.ownerId }, RunStatus.STARTED);
      const heldRun = '44444444-4444-4444-8444-444444444444';
      await recordRunStatus(t.store.db, { pipelineRunId: heldRun, pipelineName: 'cognify_pipeline', datasetId: b.id, userId: b.ownerId }, RunStatus.STARTED);
      const release = await t.engine.runLock.acquire(b.id);
      try {
        assert.equal(await t.engine.recoverOrphans(), 1, 'only the cut-off run is acted on');
        await t.engine.idle();
        assert.equal(await latestRunStatus(t.store.db, cutOff), RunStatus.COMPLETED, 'recovered and finished under its own id');
        assert.equal(await latestRunStatus(t.store.db, heldRun), RunStatus.STARTED, 'a run whose dataset is held is alive');
      } finally {
        await release();
      }

      // A run whose job failed for good (attempts used up) ends ERRORED, not STARTED forever.
      const doomed = '55555555-5555-4555-8555-555555555555';
      await recordRunStatus(t.store.db, { pipelineRunId: doomed, pipelineName: 'cognify_pipeline', datasetId: b.id, userId: b.ownerId }, RunStatus.STARTED);
      const now = new Date().toISOString();
      await t.store.db
        .insertInto('jobs')
        .values({
          id: doomed,
          name: 'cognify',
          singleton_key: b.id,
          data: '{}',
          state: 'failed',
          attempts: 1,
          last_error: 'x',
          run_after: null,
          started_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await t.engine.recoverOrphans();
      assert.equal(await latestRunStatus(t.store.db, doomed), RunStatus.ERRORED);
    } finally {
      await t.engine.stopJobs();
      await t.close();
    }
  });
});

describe('memory engine: batched writes', () => {
  it('a run writing 50 items per batch with 8 chunks at once builds the same graph and vectors as one item and one chunk at a time', async () => {
    const t = await setup(true);
    try {
      const [a, b] = t.datasets as [DatasetInfo, DatasetInfo];
      const docs = Array.from({ length: 7 }, (_, i) => `${DOC}\n\nReport ${i}: Grace Hopper met Alan Turing in Boston ${i}.`);
      for (const ds of [a, b])
        await t.engine.ingest(
          ds,
          ds.ownerId,
          null,
          docs.map((text) => ({ kind: 'text' as const, text })),
          null,
        );
      const one = await t.engine.cognify(a, a.ownerId, undefined, { dataPerBatch: 1, chunksPerBatch: 1 });
      const many = await t.engine.cognify(b, b.ownerId, undefined, { dataPerBatch: 50, chunksPerBatch: 8 });
      assert.deepEqual([one.status, many.status], ['PipelineRunCompleted', 'PipelineRunCompleted']);
      assert.equal(many.data_ingestion_info?.length, docs.length);

      const shape = async (ds: DatasetInfo) =>
        t.engine.databases.with(ds, async ({ graph, vector }) => {
          const g = await graph.getGraph(ds.id);
          const nodes = g.nodes.map((n) => `${n.type}|${n.name}|${n.type === 'Entity' || n.type === 'EntityType' ? n.id : ''}`).sort();
          const edges = g.edges.map((e) => e.relationship).sort();
          const collections = (await vector.collections(ds.id)).sort();
          return { nodes, edges, collections };
        });
      const sa = await shape(a);
      assert.ok(sa.nodes.filter((n) => n.startsWith('DocumentChunk|')).length >= docs.length, 'every document was chunked');
      assert.ok(
        sa.nodes.some((n) => n.startsWith('Entity|')),
        'entities were extracted',
      );
      assert.deepEqual(await shape(b), sa);
      const hits = async (ds: DatasetInfo) =>
        ((await searchDataset(t.search, ds, request('CHUNKS', 'Grace Hopper Boston'))).context as Record<string, unknown>[]).map((c) => c.text).sort();
      assert.deepEqual(await hits(b), await hits(a));
    } finally {
      await t.close();
    }
  });
});
