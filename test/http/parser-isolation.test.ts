/**
 * D22: a document that takes long to parse stalls nobody. Parsing runs in the parser pool, out of the
 * server's thread: while a hostile PDF is being parsed, /health and the dataset lists keep answering;
 * past PARSER_TIMEOUT_MS the parse is stopped, its item fails with a clear error in the run's answer,
 * and the other items of the same run are cognified.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ParserPool } from '../../src/memory/ingest/parser-pool.js';
import { asActor, eventually, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';
import { nestedFormsPdf } from '../helpers/pdf.js';

const DOC = 'Ada Lovelace worked with Charles Babbage in London in 1843.\n\nBabbage designed the Analytical Engine.';
// Far longer than a few requests take even on a loaded machine: the answers below come while the parse runs.
const TIMEOUT_MS = 90_000;

/** POST /api/v1/add with one file of raw bytes. */
async function addFile(server: TestServer, a: Actor, datasetName: string, name: string, bytes: Buffer, type: string) {
  const form = new FormData();
  form.append('datasetName', datasetName);
  form.append('data', new Blob([new Uint8Array(bytes)], { type }), name);
  const response = await fetch(`${server.url}/api/v1/add`, { method: 'POST', body: form, headers: { authorization: `Bearer ${a.token}` } });
  return { status: response.status, body: (await response.json()) as any };
}

describe('D22: parsing a hostile document stalls nobody', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { PARSER_TIMEOUT_MS: String(TIMEOUT_MS), PARSER_WORKERS: '1' } });
  });
  after(async () => server.close());

  test('requests are answered while the parse runs; past its time limit the item fails and the others are cognified', async () => {
    const a = await signUpActor(server, 'parse-a');
    const b = await signUpActor(server, 'parse-b');
    const mine = await b.c.post('/api/v1/add_text', { json: { textData: ['Cats purr.'], datasetName: 'mine' }, ...asActor(b) });
    assert.equal(mine.status, 200, mine.text);

    // The hostile PDF first, so the run parses it first; then a plain document of the same dataset.
    const hostile = await addFile(server, a, 'docs', 'hostile.pdf', nestedFormsPdf(7), 'application/pdf');
    assert.equal(hostile.status, 200, JSON.stringify(hostile.body));
    const hostileId = hostile.body.data_ingestion_info[0].data_id as string;
    const notes = await addFile(server, a, 'docs', 'notes.txt', Buffer.from(DOC), 'text/plain');
    assert.equal(notes.status, 200, JSON.stringify(notes.body));
    const notesId = notes.body.data_ingestion_info[0].data_id as string;
    const dataset = notes.body.dataset_id as string;

    const parsers = server.engram.memory.parsers as ParserPool;
    let settled = false;
    const cognify = a.c.post('/api/v1/cognify', { json: { datasetIds: [dataset] }, ...asActor(a) }).finally(() => (settled = true));
    // The pool's process may take a while to start on a busy machine; its start-up is not parse time.
    await eventually(async () => parsers.parsing === 1, 300_000, 50);

    const health = await server.client().get('/health');
    assert.equal(health.status, 200, health.text);
    const listB = await b.c.get('/api/v1/datasets', asActor(b));
    assert.equal(listB.status, 200, listB.text);
    assert.deepEqual(
      (listB.body as Array<{ name: string }>).map((d) => d.name),
      ['mine'],
    );
    const listA = await a.c.get('/api/v1/datasets', asActor(a));
    assert.equal(listA.status, 200, listA.text);
    // Those answers came while the hostile document was still being parsed.
    assert.equal(parsers.parsing, 1, 'the hostile parse is still running');
    assert.equal(settled, false, 'the cognify request is still waiting for it');

    const run = await cognify;
    assert.equal(run.status, 500, run.text);
    assert.equal(run.body.error, 'Pipeline run errored');
    assert.equal(
      run.body.detail,
      `Data item ${hostileId} (hostile) could not be processed: ParserLimitError: Parsing the document took longer than its time limit of ${TIMEOUT_MS} ms (PARSER_TIMEOUT_MS).`,
    );
    assert.ok(!String(run.body.detail).includes(notesId), 'only the hostile item failed');

    const status = await a.c.get(`/api/v1/datasets/status?dataset=${dataset}`, asActor(a));
    assert.deepEqual(status.body, { [dataset]: 'DATASET_PROCESSING_ERRORED' });
    // The plain document of the same run was cognified: its chunks are searchable.
    const chunks = await a.c.post('/api/v1/search', { json: { searchType: 'CHUNKS', query: 'Babbage', datasetIds: [dataset] }, ...asActor(a) });
    assert.equal(chunks.status, 200, chunks.text);
    assert.match(JSON.stringify(chunks.body), /Analytical Engine/);
    assert.ok(!JSON.stringify(chunks.body).includes(hostileId), 'nothing of the hostile document was written');

    // The pool goes on: the next run parses again (the hostile item is tried again and fails again).
    assert.equal((await server.client().get('/health')).status, 200);
  });
});
