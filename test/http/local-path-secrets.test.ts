import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TEST_DB, asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * D17 over real HTTP: the server's own state is never readable through `add_text`, whatever the
 * allowed roots. Single-user mode with authentication forced on (several accounts, one shared
 * store: the mode where any signed-in user could otherwise read the database, the generated JWT
 * secret and every other user's uploads), local paths accepted (the single-user default) and
 * COGNEE_ALLOWED_LOCAL_FILE_ROOTS set to the server's whole temporary root, which holds the
 * working directory with its `.env`, the system root, the data root and (DB_PATH) the SQLite file.
 *
 * A signed-in user who names any of those files, as a bare path or a file:// URI, is refused with
 * 415 IngestionError; nothing is stored; afterwards no search and no raw download shows any of
 * their bytes. On SQLite and on PostgreSQL (ENGRAM_TEST_DB).
 */

const PROTECTED = { detail: 'Local file path does not name a readable file inside the allowed roots. [IngestionError]' };
const FAKE_KEY = `sk-engram-fake-${randomBytes(12).toString('hex')}`;
const VICTIM_MARK = `The victim's private ledger code is Vermilion-${randomBytes(6).toString('hex')}.`;
const CONTROL = 'An ordinary note about the harbour tides, kept inside the allowed root.';

const actor = signUpActor;

/** Every regular file below `dir` (symlinks not followed). */
function regularFilesUnder(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    const info = lstatSync(p);
    if (info.isDirectory()) out.push(...regularFilesUnder(p));
    else if (info.isFile()) out.push(p);
  }
  return out;
}

describe('D17: server state is never readable through add_text (single-user, auth forced on, the whole server root allowed)', () => {
  let server: TestServer;
  let root: string;
  let attacker: Actor;
  let victim: Actor;
  let loot: string;
  let victimUpload: string;
  let secrets: Record<string, string>;
  let dbFile: string;

  before(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'engram-local-secrets-')));
    // The working directory's .env, read by the configuration; the real environment wins over it,
    // so LLM_PROVIDER=offline below keeps the fake key from ever being used.
    writeFileSync(join(root, '.env'), `# deployment settings\nLLM_API_KEY=${FAKE_KEY}\n`);
    mkdirSync(join(root, 'notes'));
    writeFileSync(join(root, 'notes', 'ok.txt'), CONTROL);
    server = await startTestServer({
      root,
      env: {
        ENABLE_BACKEND_ACCESS_CONTROL: 'false',
        REQUIRE_AUTHENTICATION: 'true',
        COGNEE_ALLOWED_LOCAL_FILE_ROOTS: root,
        DB_PATH: join(root, 'db'),
        LLM_PROVIDER: 'offline',
      },
    });
    dbFile = join(root, 'db', 'engram_db');

    attacker = await actor(server, 'attacker');
    victim = await actor(server, 'victim');

    // The victim uploads a document; its stored copy lands under the data root.
    const form = new FormData();
    form.append('datasetName', 'private');
    form.append('data', new Blob([VICTIM_MARK], { type: 'text/plain' }), 'ledger.txt');
    const uploaded = await fetch(`${server.url}/api/v1/add`, { method: 'POST', body: form, headers: { authorization: `Bearer ${victim.token}` } });
    const body = (await uploaded.json()) as any;
    assert.equal(uploaded.status, 200, JSON.stringify(body));
    const listed = await victim.c.get(`/api/v1/datasets/${body.dataset_id}/data`, asActor(victim));
    assert.equal(listed.status, 200, listed.text);
    victimUpload = fileURLToPath(listed.body[0].rawDataLocation);
    assert.equal(readFileSync(victimUpload, 'utf8'), VICTIM_MARK);

    const created = await attacker.c.post('/api/v1/add_text', {
      json: { textData: ['The attacker keeps a harmless note here.'], datasetName: 'loot' },
      ...asActor(attacker),
    });
    assert.equal(created.status, 200, created.text);
    loot = created.body.dataset_id;

    const secretsDir = join(root, 'system', 'secrets');
    secrets = Object.fromEntries(
      ['jwt_secret', 'reset_password_secret', 'verification_secret'].map((f) => [f, readFileSync(join(secretsDir, f), 'utf8').trim()]),
    );
    for (const value of Object.values(secrets)) assert.ok(value.length >= 32);
  });

  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('the startup log names the roots in effect', () => {
    const messages = server.logs.messages();
    assert.ok(
      messages.includes('local file paths: accepted within COGNEE_ALLOWED_LOCAL_FILE_ROOTS (ACCEPT_LOCAL_FILE_PATH, multi-tenant default)'),
      messages.join('\n'),
    );
    assert.ok(messages.includes(`local file roots: ${root} (server state, data root and .env files always refused)`), messages.join('\n'));
  });

  it("the database, the generated secrets, the .env and another user's upload are refused as paths and file:// URIs, and nothing is stored", async () => {
    const baseline = (await attacker.c.get(`/api/v1/datasets/${loot}/data`, asActor(attacker))).body;
    assert.equal(baseline.length, 1);

    const named = [
      join(root, 'system', 'secrets', 'jwt_secret'),
      join(root, 'system', 'secrets', 'reset_password_secret'),
      join(root, 'system', 'secrets', 'verification_secret'),
      join(root, '.env'),
      victimUpload,
      ...(TEST_DB === 'sqlite' ? [dbFile, `${dbFile}-wal`] : []),
    ];
    for (const file of named) assert.ok(existsSync(file), `${file} exists, so refusing it means something`);
    // Every other file the server keeps (graph and vector stores, the -shm file, ...).
    const everything = [
      ...new Set([...named, ...regularFilesUnder(join(root, 'system')), ...regularFilesUnder(join(root, 'data')), ...regularFilesUnder(join(root, 'db'))]),
    ];

    for (const file of everything) {
      for (const input of [file, pathToFileURL(file).href, `file://${file}`]) {
        const r = await attacker.c.post('/api/v1/add_text', { json: { textData: [input], datasetId: loot }, ...asActor(attacker) });
        assert.deepEqual([r.status, r.body], [415, PROTECTED], input);
      }
    }
    // Other spellings of the same files: traversal, a symlink planted inside the root, and a
    // refused item after a harmless one (the whole request is refused).
    symlinkSync(join(root, 'system', 'secrets', 'jwt_secret'), join(root, 'notes', 'innocent.txt'));
    symlinkSync(join(root, 'system'), join(root, 'notes', 'sys'));
    for (const input of [
      `${root}/notes/../system/secrets/jwt_secret`,
      `file://${root}/notes/../.env`,
      `${root}/notes/innocent.txt`,
      `file://${root}/notes/innocent.txt`,
      `${root}/notes/sys/secrets/jwt_secret`,
      `file://${root}/notes/sys/secrets/jwt_secret`,
      `  ${root}/.env  `,
    ]) {
      const r = await attacker.c.post('/api/v1/add_text', { json: { textData: [input], datasetId: loot }, ...asActor(attacker) });
      assert.deepEqual([r.status, r.body], [415, PROTECTED], input);
    }
    const mixed = await attacker.c.post('/api/v1/add_text', {
      json: { textData: ['a harmless sentence', join(root, '.env')], datasetId: loot },
      ...asActor(attacker),
    });
    assert.deepEqual([mixed.status, mixed.body], [415, PROTECTED]);

    assert.deepEqual((await attacker.c.get(`/api/v1/datasets/${loot}/data`, asActor(attacker))).body, baseline, 'nothing was ingested');
  });

  it('positive control: an ordinary file inside the allowed root is read', async () => {
    const r = await attacker.c.post('/api/v1/add_text', { json: { textData: [join(root, 'notes', 'ok.txt')], datasetId: loot }, ...asActor(attacker) });
    assert.equal(r.status, 200, r.text);
    const raw = await attacker.c.get(`/api/v1/datasets/${loot}/data/${r.body.data_ingestion_info[0].data_id}/raw`, asActor(attacker));
    assert.equal(raw.text, CONTROL);
  });

  it('afterwards no search and no raw download shows a byte of those files', async () => {
    const cognified = await attacker.c.post('/api/v1/cognify', { json: { datasetIds: [loot] }, ...asActor(attacker) });
    assert.equal(cognified.status, 200, cognified.text);

    // The graph and vector stores now exist under the system root: refused as well.
    const stores = regularFilesUnder(join(root, 'system', 'databases'));
    assert.ok(stores.length > 0, 'cognify wrote store files');
    for (const file of stores) {
      for (const input of [file, pathToFileURL(file).href]) {
        const r = await attacker.c.post('/api/v1/add_text', { json: { textData: [input], datasetId: loot }, ...asActor(attacker) });
        assert.deepEqual([r.status, r.body], [415, PROTECTED], input);
      }
    }

    const forbidden = [FAKE_KEY, 'LLM_API_KEY', VICTIM_MARK, 'Vermilion', 'SQLite format 3', '$argon2', ...Object.values(secrets)];
    const leaks = (text: string) => forbidden.filter((f) => text.includes(f));

    let sawControl = false;
    for (const query of ['harbour tides', 'LLM_API_KEY', 'secret', 'SQLite format', 'private ledger code Vermilion', secrets.jwt_secret!]) {
      for (const json of [
        { searchType: 'CHUNKS', query, datasetIds: [loot], onlyContext: true, topK: 100 },
        { searchType: 'CHUNKS', query, onlyContext: true, topK: 100 },
      ]) {
        const r = await attacker.c.post('/api/v1/search', { json, ...asActor(attacker) });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(leaks(r.text), [], `${JSON.stringify(json)}: ${r.text.slice(0, 500)}`);
        if (r.text.includes('harbour tides')) sawControl = true;
      }
    }
    assert.ok(sawControl, 'search does return the content of files that were read, so the checks above are not vacuous');

    const items = (await attacker.c.get(`/api/v1/datasets/${loot}/data`, asActor(attacker))).body as { id: string }[];
    assert.equal(items.length, 2, 'the note and the control file only');
    for (const item of items) {
      const raw = await attacker.c.get(`/api/v1/datasets/${loot}/data/${item.id}/raw`, asActor(attacker));
      assert.equal(raw.status, 200);
      assert.deepEqual(leaks(raw.text), [], raw.text.slice(0, 300));
    }
  });
});

describe('D17: with COGNEE_ALLOWED_LOCAL_FILE_ROOTS unset no local file is read (single-user, auth forced on)', () => {
  let server: TestServer;
  let root: string;
  let user: Actor;
  let ds: string;

  before(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'engram-local-default-')));
    writeFileSync(join(root, '.env'), `LLM_API_KEY=${FAKE_KEY}\n`);
    writeFileSync(join(root, 'note.txt'), CONTROL);
    server = await startTestServer({ root, env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'true', LLM_PROVIDER: 'offline' } });
    user = await actor(server, 'default-roots');
    const created = await user.c.post('/api/v1/add_text', { json: { textData: ['A first note.'], datasetName: 'notes' }, ...asActor(user) });
    assert.equal(created.status, 200, created.text);
    ds = created.body.dataset_id;
  });

  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('the startup log says so; bare paths in the working or temp directory are plain text and file:// URIs are outside the roots', async () => {
    assert.ok(
      server.logs.messages().includes('local file roots: none (COGNEE_ALLOWED_LOCAL_FILE_ROOTS is unset): no local file is read'),
      server.logs.messages().join('\n'),
    );
    const outside = { detail: 'Local file path does not name a readable file inside the allowed roots. [IngestionError]' };
    for (const file of [join(root, '.env'), join(root, 'note.txt'), join(root, 'system', 'secrets', 'jwt_secret')]) {
      const uri = await user.c.post('/api/v1/add_text', { json: { textData: [pathToFileURL(file).href], datasetId: ds }, ...asActor(user) });
      assert.deepEqual([uri.status, uri.body], [415, outside], file);
      const bare = await user.c.post('/api/v1/add_text', { json: { textData: [file], datasetId: ds }, ...asActor(user) });
      assert.equal(bare.status, 200, bare.text);
      const raw = await user.c.get(`/api/v1/datasets/${ds}/data/${bare.body.data_ingestion_info[0].data_id}/raw`, asActor(user));
      assert.equal(raw.text, file, 'the path string is stored, never the file');
    }
  });
});
