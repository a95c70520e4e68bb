import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Many datasets on one instance (multi-tenant mode, Kuzu + LanceDB per dataset, the default pool
 * and Kuzu limits): one user searching 32 of their datasets at once, and ten users searching their
 * own at once, all answered 200 with each dataset's own content — never the 500 "Mmap … failed"
 * of Kuzu's default 8 TiB per database — and the instance still opens datasets afterwards. The
 * pool never holds more than DATABASE_MAX_LRU_CACHE_SIZE datasets open; a dataset never cognified
 * is answered without opening any.
 */

const DATASETS = 32;
const USERS = 10;

describe('many datasets at once (multi-tenant, Kuzu + LanceDB)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true', REQUIRE_AUTHENTICATION: 'true' } });
  });
  after(() => server.close());

  const pool = () => server.engram.memory.databases;

  /** A dataset of `a` named `name` holding one sentence with `word`, cognified. */
  async function cognifiedDataset(a: Actor, name: string, word: string): Promise<string> {
    const added = await a.c.post('/api/v1/add_text', {
      json: { textData: [`The ${word} archive keeps the ${word} records.`], datasetName: name },
      ...asActor(a),
    });
    assert.equal(added.status, 200, added.text);
    return added.body.dataset_id as string;
  }

  it('a dataset never cognified answers every search as an empty one does, without opening or creating its stores', async () => {
    const a = await signUpActor(server, 'never-cognified');
    const add = async (name: string) => {
      const added = await a.c.post('/api/v1/add_text', { json: { textData: ['The quiet archive.'], datasetName: name }, ...asActor(a) });
      assert.equal(added.status, 200, added.text);
      return added.body.dataset_id as string;
    };
    const fresh = await add('fresh');
    // The other one's stores are opened (and created) empty, by reading its graph.
    const opened = await add('opened');
    const graph = await a.c.get(`/api/v1/datasets/${opened}/graph`, asActor(a));
    assert.equal(graph.status, 200, graph.text);
    assert.ok(pool().isOpen(opened));
    const openedBefore = pool().stats().opened;
    const types = ['CHUNKS', 'SUMMARIES', 'CHUNKS_LEXICAL', 'RAG_COMPLETION', 'GRAPH_COMPLETION', 'HYBRID_COMPLETION', 'GRAPH_SUMMARY_COMPLETION'];
    for (const searchType of types) {
      for (const verbose of [false, true]) {
        const answer = async (id: string) => {
          const r = await a.c.post('/api/v1/search', { json: { searchType, query: 'archive', datasetIds: [id], verbose }, ...asActor(a) });
          assert.equal(r.status, 200, r.text);
          const { dataset_id, dataset_name, ...rest } = r.body[0];
          assert.deepEqual([dataset_id, dataset_name], [id, id === fresh ? 'fresh' : 'opened']);
          return rest;
        };
        assert.deepEqual(await answer(fresh), await answer(opened), `${searchType}${verbose ? ' verbose' : ''}: the same answer`);
      }
    }
    assert.equal(pool().stats().opened, openedBefore, 'no store was opened');
    assert.equal(pool().isOpen(fresh), false);
    const owner = join(server.engram.config.systemRoot, 'databases', a.id);
    assert.equal(existsSync(join(owner, `${fresh}.kuzu`)) || existsSync(join(owner, `${fresh}.lance.db`)), false, 'no database was created');
    assert.ok(existsSync(join(owner, `${opened}.kuzu`)));
  });

  it(`one user searches ${DATASETS} datasets at once: 200, each dataset answers with its own content`, async () => {
    const a = await signUpActor(server, 'many-ds');
    const names = Array.from({ length: DATASETS }, (_, i) => `set_${i}`);
    const ids: string[] = [];
    for (const [i, name] of names.entries()) ids.push(await cognifiedDataset(a, name, `word${i}x`));
    const cognified = await a.c.post('/api/v1/cognify', { json: { datasets: names }, ...asActor(a) });
    assert.equal(cognified.status, 200, cognified.text);
    for (const id of ids) assert.equal(cognified.body[id].status, 'PipelineRunCompleted');

    const search = await a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'archive records', topK: 3 }, ...asActor(a) });
    assert.equal(search.status, 200, search.text);
    assert.equal(search.body.length, DATASETS, 'one answer per dataset');
    const byId = new Map<string, unknown>(search.body.map((r: { dataset_id: string; search_result: unknown }) => [r.dataset_id, r.search_result]));
    for (const [i, id] of ids.entries()) {
      const text = JSON.stringify(byId.get(id));
      assert.ok(text.includes(`word${i}x`), `dataset ${i} answers with its own sentence`);
      assert.ok(!text.includes(`word${(i + 1) % DATASETS}x `), 'and no other dataset');
    }
    const max = server.engram.config.memory.maxOpenDatasets;
    assert.ok(pool().stats().peakOpen <= max, `at most ${max} datasets open at once (saw ${pool().stats().peakOpen})`);

    // Afterwards the instance still opens datasets, for this user and another.
    const again = await a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'archive', datasetIds: [ids[0]] }, ...asActor(a) });
    assert.equal(again.status, 200, again.text);
    const b = await signUpActor(server, 'many-ds-b');
    const idB = await cognifiedDataset(b, 'mine', 'other');
    assert.equal((await b.c.post('/api/v1/cognify', { json: { datasetIds: [idB] }, ...asActor(b) })).status, 200);
    const mine = await b.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'archive' }, ...asActor(b) });
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.body.length, 1);
  });

  it(`${USERS} users each search their own dataset at the same time: all 200`, async () => {
    const users = await Promise.all(Array.from({ length: USERS }, (_, i) => signUpActor(server, `many-user-${i}`)));
    const ids = await Promise.all(users.map((u, i) => cognifiedDataset(u, 'notes', `user${i}y`)));
    const cognified = await Promise.all(users.map((u, i) => u.c.post('/api/v1/cognify', { json: { datasetIds: [ids[i]] }, ...asActor(u) })));
    for (const r of cognified) assert.equal(r.status, 200, r.text);
    const searches = await Promise.all(
      users.map((u) => u.c.post('/api/v1/search', { json: { searchType: 'GRAPH_COMPLETION', query: 'What does the archive keep?' }, ...asActor(u) })),
    );
    for (const [i, r] of searches.entries()) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.length, 1);
      assert.equal(r.body[0].dataset_id, ids[i]);
    }
    const max = server.engram.config.memory.maxOpenDatasets;
    assert.ok(pool().stats().peakOpen <= max);
  });
});
