import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { guardAnswerHeaders, installErrorHandling } from '../../src/http/errors.js';
import { BASE_ENV, Client, TEST_DB, createPgDatabase, eventually, signUpActor, spawnServer, startTestServer, uniqueEmail, upload } from '../helpers/harness.js';

const FAULTS = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), '../helpers/faults.mjs')).href;

/**
 * D22: nothing a user sends ends the process. These run against a real `engram serve` process, so a
 * throw that escapes the server shows as the process exiting (not as a failure inside the test
 * runner's own process):
 *
 *   - names outside Latin-1, or holding quotes, semicolons or emoji, are uploaded through
 *     POST /api/v1/add and downloaded through the raw route: 200, the same bytes, and a
 *     Content-Disposition (RFC 6266) whose `filename*` (RFC 5987) decodes back to the name and whose
 *     `filename` fallback is plain quoted ASCII; the process is alive and answering afterwards;
 *   - the last-resort guard: an error thrown from a timer, a promise rejected with no handler and an
 *     `error` event nobody listens to, in the server's own process (test/helpers/faults.mjs), are
 *     logged, and the process keeps serving;
 *   - an answer carrying a header Node cannot write becomes 500 in the reference's envelope;
 *   - a stored media type that is not a plain `type/subtype` is downloaded as bytes.
 */

const CRLF = '\r\n';

/** A multipart body with one field and one file part per name, each name as RFC 5987 `filename*`. */
function multipart(fields: Record<string, string>, files: { name: string; bytes: Buffer; raw?: boolean }[]) {
  const boundary = `----engram${Date.now().toString(16)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}${CRLF}Content-Disposition: form-data; name="${k}"${CRLF}${CRLF}${v}${CRLF}`));
  }
  for (const f of files) {
    // `raw`: the UTF-8 bytes of the name in the quoted `filename`, as browsers send it.
    const disposition = f.raw
      ? `filename="${f.name}"`
      : `filename*=UTF-8''${encodeURIComponent(f.name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}`;
    parts.push(Buffer.from(`--${boundary}${CRLF}Content-Disposition: form-data; name="data"; ${disposition}${CRLF}Content-Type: text/plain${CRLF}${CRLF}`));
    parts.push(f.bytes, Buffer.from(CRLF));
  }
  parts.push(Buffer.from(`--${boundary}--${CRLF}`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The name a client reads from a Content-Disposition: `filename*` when present (RFC 6266 §4.3). */
function dispositionName(header: string): { extended: string; fallback: string } {
  const extended = /;\s*filename\*=UTF-8''([^;\s]+)/i.exec(header);
  const fallback = /;\s*filename="([^"\\]*)"/.exec(header);
  assert.ok(extended, `no filename* in ${header}`);
  assert.ok(fallback, `no quoted filename fallback in ${header}`);
  assert.match(extended[1]!, /^[A-Za-z0-9!#$&+\-.^_`|~%]+$/, 'filename* holds attr-chars and percent escapes only');
  return { extended: decodeURIComponent(extended[1]!), fallback: fallback[1]! };
}

describe('D22: user text in headers never ends the process', () => {
  let root: string;
  let child: ChildProcess;
  let url: string;
  let output = '';
  let drop: (() => Promise<void>) | undefined;
  let c: Client;
  let token: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'engram-availability-'));
    let dbEnv: Record<string, string> = {};
    if (TEST_DB === 'postgres') {
      const db = await createPgDatabase();
      dbEnv = db.env;
      drop = db.drop;
    }
    const started = await spawnServer(
      {
        ...BASE_ENV,
        ...dbEnv,
        FASTAPI_USERS_JWT_SECRET: 'availability-secret-0123456789-abcdefghijkl',
        SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
        DATA_ROOT_DIRECTORY: join(root, 'data'),
        HTTP_API_HOST: '127.0.0.1',
        HTTP_API_PORT: '0',
        // The fault injector (SIGUSR2) of the last test.
        NODE_OPTIONS: `--import=${FAULTS}`,
      },
      root,
      // Only a bound against hanging: a loaded machine may take long to start a process.
      300_000,
    );
    child = started.child;
    url = started.url;
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    c = new Client(url);
    ({ token } = await c.signUp(uniqueEmail('availability')));
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await drop?.();
    rmSync(root, { recursive: true, force: true });
  });

  const alive = async () => {
    assert.equal(child.exitCode, null, `the server exited:\n${output.slice(-4000)}`);
    assert.equal(child.signalCode, null, `the server was killed:\n${output.slice(-4000)}`);
    const health = await c.get('/health');
    assert.equal(health.status, 200, 'the server still answers');
  };

  const NAMES = ['日本.txt', 'quote".txt', 'semi;colon.txt', 'emoji 😀 party.txt', 'mixé 100%.txt', "it's (x)*.txt"];

  for (const name of NAMES) {
    it(`D22: an upload named ${JSON.stringify(name)} downloads with its name encoded and the same bytes`, async () => {
      const bytes = Buffer.from(`Contents of ${name}, unique ${Math.random()}\n`, 'utf8');
      const form = multipart({ datasetName: 'names' }, [{ name, bytes }]);
      const added = await c.post('/api/v1/add', { raw: form.body, headers: { 'content-type': form.contentType }, bearer: token, cookies: false });
      assert.equal(added.status, 200, added.text);
      const datasetId = added.body.dataset_id as string;
      const dataId = added.body.data_ingestion_info[0].data_id as string;

      const items = await c.get(`/api/v1/datasets/${datasetId}/data`, { bearer: token, cookies: false });
      const item = (items.body as { id: string; name: string; extension: string }[]).find((i) => i.id === dataId);
      assert.equal(`${item?.name}.${item?.extension}`, name, 'the item keeps the name it was uploaded with');

      const response = await fetch(`${url}/api/v1/datasets/${datasetId}/data/${dataId}/raw`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
      const header = response.headers.get('content-disposition') ?? '';
      assert.match(header, /^attachment;/);
      assert.doesNotMatch(header, /[\r\n]/);
      const { extended, fallback } = dispositionName(header);
      assert.equal(extended, name, 'filename* decodes back to the uploaded name');
      assert.match(fallback, /^[\x20-\x7e]+$/, 'the fallback is printable ASCII');
      assert.doesNotMatch(fallback, /["\\%]/);
      await alive();
    });
  }

  it('D22: a browser-style upload (raw UTF-8 in filename="...") downloads with its name encoded', async () => {
    const name = '日本語のメモ.txt';
    const bytes = Buffer.from('メモ\n', 'utf8');
    const form = multipart({ datasetName: 'browser_names' }, [{ name, bytes, raw: true }]);
    const added = await c.post('/api/v1/add', { raw: form.body, headers: { 'content-type': form.contentType }, bearer: token, cookies: false });
    assert.equal(added.status, 200, added.text);
    const dataId = added.body.data_ingestion_info[0].data_id as string;
    const response = await fetch(`${url}/api/v1/datasets/${added.body.dataset_id}/data/${dataId}/raw`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
    assert.equal(dispositionName(response.headers.get('content-disposition') ?? '').extended, name);
    await alive();
  });

  it('D22: a file part whose name holds CR or LF is not taken as a file, and the server answers (no crash, no header injection)', async () => {
    const form = multipart({ datasetName: 'crlf_names' }, [{ name: 'line\r\nX-Injected: 1.txt', bytes: Buffer.from('crlf\n') }]);
    const added = await c.post('/api/v1/add', { raw: form.body, headers: { 'content-type': form.contentType }, bearer: token, cookies: false });
    assert.equal(added.status, 400, added.text);
    assert.equal(added.headers.get('x-injected'), null);
    await alive();
  });

  it('D22: errors nothing catches (a timer, a rejected promise, an error event) are logged and the process keeps serving', async () => {
    const before = output.length;
    child.kill('SIGUSR2');
    const guarded = () => (output.slice(before).match(/the server keeps serving/g) ?? []).length;
    // Bounded by the guard's contract (three lines, one per fault), not by this machine's speed.
    await eventually(async () => guarded() >= 3 || child.exitCode !== null, 120_000, 50);
    await alive();
    const lines = output.slice(before);
    for (const fault of ['thrown from a timer', 'rejected with no handler', 'error event with no listener'])
      assert.match(lines, new RegExp(`injected fault: ${fault}`));
    // Still serving requests that touch the stores.
    const list = await c.get('/api/v1/datasets', { bearer: token, cookies: false });
    assert.equal(list.status, 200);
  });
});

describe('D22: an answer whose headers cannot be written', () => {
  it('D22: becomes 500 {"detail":"Internal Server Error"} and the server keeps serving', async () => {
    const app = Fastify({ logger: false });
    installErrorHandling(app);
    app.addHook('onSend', guardAnswerHeaders);
    app.get('/named/:name', async (request, reply) => {
      reply.header('x-name', (request.params as { name: string }).name);
      return reply.send(Buffer.from('payload'));
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const bad = await fetch(`${base}/named/${encodeURIComponent('日本')}`);
      assert.equal(bad.status, 500);
      assert.deepEqual(await bad.json(), { detail: 'Internal Server Error' });
      assert.equal(bad.headers.get('x-name'), null);
      const good = await fetch(`${base}/named/plain`);
      assert.equal(good.status, 200);
      assert.equal(good.headers.get('x-name'), 'plain');
      assert.equal(await good.text(), 'payload');
      // A header found writable once is remembered by value: another value of it is still checked.
      const badAgain = await fetch(`${base}/named/${encodeURIComponent('caf\u00e9\u2014')}`);
      assert.equal(badAgain.status, 500);
      assert.equal(badAgain.headers.get('x-name'), null);
      const goodAgain = await fetch(`${base}/named/plain`);
      assert.equal(goodAgain.headers.get('x-name'), 'plain');
    } finally {
      await app.close();
    }
  });

  it('D22: a stored media type that is not a plain type/subtype downloads as application/octet-stream', async () => {
    const server = await startTestServer();
    try {
      const a = await signUpActor(server, 'mime');
      const added = await upload(server, a, { datasetName: 'mimes' }, [{ name: 'm.txt', text: 'bytes\n' }]);
      assert.equal(added.status, 200);
      const dataId = added.body.data_ingestion_info[0].data_id as string;
      // A row another server wrote (the reference keeps the uploader's content type).
      await server.engram.store.db.updateTable('data').set({ mime_type: 'text/日本; x="\r\n"' }).where('id', '=', dataId).execute();
      const res = await fetch(`${server.url}/api/v1/datasets/${added.body.dataset_id}/data/${dataId}/raw`, { headers: { authorization: `Bearer ${a.token}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      assert.equal(await res.text(), 'bytes\n');
    } finally {
      await server.close();
    }
  });
});
