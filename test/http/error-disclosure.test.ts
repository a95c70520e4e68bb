import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, isIP, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchPublicUrl } from '../../src/security/outbound.js';
import { asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Error answers are no oracle of the server's files and name none of its paths or DNS answers:
 * - a local file outside the allowed roots (or server state inside them) gets the same answer
 *   whether or not it exists;
 * - no answer carries an absolute server path (data root, system root, a stored file);
 * - a host refused after resolution is not answered with the address it resolved to, and a failed
 *   connection names no address.
 * Single-user mode with authentication forced on and local files accepted (its default).
 */

/** Private answers for test names: the guard refuses them after resolution, before any connection. */
const FAKE_DNS: Record<string, string[]> = {
  'intranet.test': ['10.20.30.40'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '192.168.77.88'],
};

function installFakeDns(): () => void {
  const original = dns.promises.lookup;
  dns.promises.lookup = (async (host: string, options?: unknown) => {
    const answer = FAKE_DNS[host.toLowerCase()];
    if (answer) return answer.map((address) => ({ address, family: isIP(address) }));
    return (original as (h: string, o?: unknown) => Promise<unknown>)(host, options);
  }) as typeof dns.promises.lookup;
  return () => {
    dns.promises.lookup = original;
  };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return lstatSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('error answers disclose no files, paths or addresses', () => {
  let server: TestServer;
  let root: string;
  let user: Actor;
  let ds: string;
  let restoreDns: () => void;

  /** The answer of add_text for one entry, with the checks every error answer passes. */
  async function addText(entry: string) {
    const r = await user.c.post('/api/v1/add_text', { json: { textData: [entry], datasetId: ds }, ...asActor(user) });
    assert.ok(!r.text.includes(root), `no server path in ${r.text}`);
    return r;
  }

  before(async () => {
    restoreDns = installFakeDns();
    root = realpathSync(mkdtempSync(join(tmpdir(), 'engram-disclosure-')));
    mkdirSync(join(root, 'allowed', 'folder'), { recursive: true });
    mkdirSync(join(root, 'outside'));
    writeFileSync(join(root, 'allowed', 'note.txt'), 'A note inside the allowed root.');
    writeFileSync(join(root, 'allowed', '.env'), 'SECRET=1\n');
    writeFileSync(join(root, 'outside', 'secret.txt'), 'A file outside the allowed roots.');
    server = await startTestServer({
      root,
      env: {
        ENABLE_BACKEND_ACCESS_CONTROL: 'false',
        REQUIRE_AUTHENTICATION: 'true',
        COGNEE_ALLOWED_LOCAL_FILE_ROOTS: join(root, 'allowed'),
        LLM_PROVIDER: 'offline',
      },
    });
    user = await signUpActor(server, 'disclosure');
    const created = await user.c.post('/api/v1/add_text', { json: { textData: ['A first note.'], datasetName: 'notes' }, ...asActor(user) });
    assert.equal(created.status, 200, created.text);
    ds = created.body.dataset_id;
  });

  after(async () => {
    restoreDns?.();
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('file:// URIs: an existing file outside the roots, a missing one, a directory and server state get one answer', async () => {
    const existing = await addText(pathToFileURL(join(root, 'outside', 'secret.txt')).href);
    assert.equal(existing.status, 415, existing.text);
    for (const other of [
      join(root, 'outside', 'missing.txt'),
      join(root, 'allowed', 'missing.txt'),
      join(root, 'allowed', 'folder'),
      join(root, 'allowed', '.env'),
      join(root, 'allowed', '.env.missing'),
      join(root, 'system', 'secrets', 'jwt_secret'),
      join(root, 'system', 'secrets', 'no_such_secret'),
      '/etc/passwd',
      '/etc/no-such-file-here',
    ]) {
      const r = await addText(pathToFileURL(other).href);
      assert.deepEqual([r.status, r.body], [existing.status, existing.body], other);
    }
    assert.deepEqual(existing.body, { detail: 'Local file path does not name a readable file inside the allowed roots. [IngestionError]' });
  });

  it('bare paths: server state inside the roots is refused whether or not it exists; outside the roots a path is text either way', async () => {
    const present = await addText(join(root, 'allowed', '.env'));
    const absent = await addText(join(root, 'allowed', 'folder', '.env.production'));
    assert.equal(present.status, 415, present.text);
    assert.deepEqual([absent.status, absent.body], [present.status, present.body]);

    for (const path of [join(root, 'outside', 'secret.txt'), join(root, 'outside', 'missing.txt')]) {
      const r = await addText(path);
      assert.equal(r.status, 200, r.text);
      const raw = await user.c.get(`/api/v1/datasets/${ds}/data/${r.body.data_ingestion_info[0].data_id}/raw`, asActor(user));
      assert.equal(raw.text, path, 'the path string is stored, never the file');
    }
  });

  it('a host refused after DNS resolution is answered without the address it resolved to', async () => {
    for (const [host, addresses] of Object.entries(FAKE_DNS)) {
      const r = await addText(`http://${host}/page`);
      assert.deepEqual([r.status, r.body], [403, { detail: `URL host '${host}' resolves to a non-public address and is blocked. [SSRFProtectionError]` }]);
      for (const address of addresses) assert.ok(!r.text.includes(address), r.text);
    }
  });

  it('a failed connection is reported by its code, without the address connected to', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      fetchPublicUrl('http://public.test/doc', {
        allowHttpRequests: true,
        lookup: async () => ['93.184.216.34'],
        connectOverride: () => ({ host: '127.0.0.1', port }),
      }),
      (error: Error) => {
        assert.equal(error.message, 'Fetching http://public.test/doc failed (ECONNREFUSED).');
        return true;
      },
    );
  });

  it('a run that cannot read a stored file answers without the file’s path', async () => {
    const added = await user.c.post('/api/v1/add_text', { json: { textData: ['Ada Lovelace wrote notes.'], datasetName: 'lost' }, ...asActor(user) });
    assert.equal(added.status, 200, added.text);
    const stored = filesUnder(join(root, 'data'));
    const items = await user.c.get(`/api/v1/datasets/${added.body.dataset_id}/data`, asActor(user));
    const location = new URL(items.body[0].rawDataLocation as string).pathname;
    assert.ok(stored.includes(location), 'the stored file is under the data root');
    rmSync(location);
    const run = await user.c.post('/api/v1/cognify', { json: { datasetIds: [added.body.dataset_id] }, ...asActor(user) });
    assert.equal(run.status, 500, run.text);
    assert.match(run.text, /ENOENT/);
    assert.ok(!run.text.includes(root) && !run.text.includes('/data/'), run.text);
    assert.match(run.text, /<server path>/);
  });
});
