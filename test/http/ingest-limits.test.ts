/**
 * One ingestion request can bring at most UPLOAD_MAX_REQUEST_BYTES in all (files of add and
 * remember; pages and local files of add_text), on top of UPLOAD_MAX_BYTES per file: past it the
 * answer is 413 and nothing of the request is stored, so no request can make the server hold an
 * unbounded amount in memory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

const FILE = 1500;
const LIMITS = { UPLOAD_MAX_BYTES: '2048', UPLOAD_MAX_REQUEST_BYTES: '4096' };
const TOO_MUCH = { detail: 'The request brings more than 4096 bytes in all (UPLOAD_MAX_REQUEST_BYTES).' };

const filesOf = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ name: `${tag}-${i}.txt`, text: `${tag} ${i} `.padEnd(FILE, 'x') }));

async function datasetItems(server: TestServer, a: Actor, name: string): Promise<number | undefined> {
  const list = await a.c.get('/api/v1/datasets', asActor(a));
  const dataset = (list.body as Array<{ id: string; name: string }>).find((d) => d.name === name);
  if (!dataset) return undefined;
  const data = await a.c.get(`/api/v1/datasets/${dataset.id}/data`, asActor(a));
  return (data.body as unknown[]).length;
}

describe('multipart add and remember', () => {
  let server: TestServer;
  let a: Actor;
  before(async () => {
    server = await startTestServer({ env: LIMITS });
    a = await signUpActor(server, 'limits');
  });
  after(async () => server.close());

  test('add: files within the request limit are stored; past it, 413 and none of them is', async () => {
    const ok = await upload(server, a, { datasetName: 'within' }, filesOf(2, 'within'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(await datasetItems(server, a, 'within'), 2);

    const refused = await upload(server, a, { datasetName: 'beyond' }, filesOf(3, 'beyond'));
    assert.deepEqual([refused.status, refused.body], [413, TOO_MUCH]);
    assert.equal(await datasetItems(server, a, 'beyond'), undefined, 'no dataset was created and nothing stored');
  });

  test('add: one file over UPLOAD_MAX_BYTES is still refused on its own', async () => {
    const refused = await upload(server, a, { datasetName: 'big' }, [{ name: 'big.txt', text: 'y'.repeat(3000) }]);
    assert.deepEqual([refused.status, refused.body], [413, { detail: 'File big.txt exceeds 2048 bytes (UPLOAD_MAX_BYTES).' }]);
  });

  test('remember: the same request limit', async () => {
    const refused = await upload(server, a, { datasetName: 'remembered' }, filesOf(3, 'remember'), '/api/v1/remember');
    assert.deepEqual([refused.status, refused.body], [413, TOO_MUCH]);
    assert.equal(await datasetItems(server, a, 'remembered'), undefined);
    const ok = await upload(server, a, { datasetName: 'remembered' }, filesOf(2, 'remember'), '/api/v1/remember');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(await datasetItems(server, a, 'remembered'), 2);
  });
});

describe('add_text with local files', () => {
  let server: TestServer;
  let a: Actor;
  let root: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'engram-ingest-roots-'));
    for (let i = 0; i < 3; i++) writeFileSync(join(root, `note-${i}.txt`), `note ${i} `.padEnd(FILE, 'z'));
    server = await startTestServer({
      env: {
        ...LIMITS,
        ENABLE_BACKEND_ACCESS_CONTROL: 'false',
        REQUIRE_AUTHENTICATION: 'true',
        ACCEPT_LOCAL_FILE_PATH: 'true',
        COGNEE_ALLOWED_LOCAL_FILE_ROOTS: root,
      },
    });
    a = await signUpActor(server, 'local-limits');
  });
  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('files read for one request count together: past the limit, 413 and nothing is stored', async () => {
    const paths = [0, 1, 2].map((i) => join(root, `note-${i}.txt`));
    const refused = await a.c.post('/api/v1/add_text', { ...asActor(a), json: { textData: paths, datasetName: 'local_beyond' } });
    assert.deepEqual([refused.status, refused.body], [413, TOO_MUCH]);
    assert.equal(await datasetItems(server, a, 'local_beyond'), 0, 'the dataset holds nothing of the refused request');
    const ok = await a.c.post('/api/v1/add_text', { ...asActor(a), json: { textData: paths.slice(0, 2), datasetName: 'local_within' } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(await datasetItems(server, a, 'local_within'), 2);
  });
});
