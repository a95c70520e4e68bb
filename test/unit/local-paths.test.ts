import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import { IngestionError, classifyInput, parseAllowedRoots, readLocalFile, serverStatePaths, type LocalFilePolicy } from '../../src/security/local-paths.js';

/**
 * D17: local file paths in ingestion input. Local files are read only when ACCEPT_LOCAL_FILE_PATH
 * allows it and the file's real path lies inside an allowed root; a bare path outside the roots is
 * plain text, so it is never read.
 */

/** Asserts that `work` rejects with an IngestionError carrying exactly `message`. */
async function assertRefused(work: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof IngestionError, `expected IngestionError, got ${String(error)}`);
    assert.equal(error.status, 415);
    assert.equal(error.name, 'IngestionError');
    assert.equal(error.message, message);
    return true;
  });
}

const NOT_ACCEPTED = 'Local files are not accepted.';
const NOT_A_FILE = 'Local file path does not name a readable file inside the allowed roots.';
const OUTSIDE = 'Local file path does not name a readable file inside the allowed roots.';

describe('classifyInput', () => {
  let base: string; // real path of a private temp directory
  let root: string; // the allowed root
  let evil: string; // a sibling whose name starts with the root's name
  let inside: string; // a regular file inside the root
  let spaced: string; // a file whose name needs percent-encoding in a URI
  let link: string; // a symlink inside the root pointing at /etc/passwd
  let linkedRoot: string; // a symlink to the root, used as the configured root
  let accept: LocalFilePolicy;
  let refuse: LocalFilePolicy;

  before(() => {
    base = realpathSync(mkdtempSync(path.join(tmpdir(), 'engram-local-paths-')));
    root = path.join(base, 'allowed');
    evil = path.join(base, 'allowed-evil');
    mkdirSync(root);
    mkdirSync(evil);
    mkdirSync(path.join(root, 'sub'));
    inside = path.join(root, 'note.txt');
    writeFileSync(inside, 'inside the root');
    spaced = path.join(root, 'x y.txt');
    writeFileSync(spaced, 'spaced');
    writeFileSync(path.join(evil, 'secret.txt'), 'outside');
    link = path.join(root, 'passwd-link');
    symlinkSync('/etc/passwd', link);
    linkedRoot = path.join(base, 'root-link');
    symlinkSync(root, linkedRoot);
    accept = { acceptLocalFilePath: true, allowedRoots: [root] };
    refuse = { acceptLocalFilePath: false, allowedRoots: [root] };
  });

  after(() => rmSync(base, { recursive: true, force: true }));

  it('classifies http(s) URLs, case-insensitively and trimmed', async () => {
    assert.deepEqual(await classifyInput('https://example.com/a', refuse), { kind: 'url', url: 'https://example.com/a' });
    assert.deepEqual(await classifyInput('  HTTP://Example.com/\n', refuse), { kind: 'url', url: 'HTTP://Example.com/' });
    assert.deepEqual(await classifyInput('hTtPs://x.test', accept), { kind: 'url', url: 'hTtPs://x.test' });
    // Not a URL: other schemes and text mentioning URLs.
    assert.equal((await classifyInput('ftp://example.com/', accept)).kind, 'text');
    assert.equal((await classifyInput('see https://example.com', accept)).kind, 'text');
  });

  it('reads a regular file inside the root as a file, by absolute and relative path', async () => {
    assert.deepEqual(await classifyInput(inside, accept), { kind: 'file', path: inside });
    assert.deepEqual(await classifyInput(`  ${inside}  `, accept), { kind: 'file', path: inside });
    const relative = path.relative(process.cwd(), inside);
    assert.ok(!path.isAbsolute(relative));
    assert.deepEqual(await classifyInput(relative, accept), { kind: 'file', path: inside });
    // A root given through a symlink is resolved too.
    assert.deepEqual(await classifyInput(inside, { acceptLocalFilePath: true, allowedRoots: [linkedRoot] }), { kind: 'file', path: inside });
    // A path through the symlinked root yields the real path.
    assert.deepEqual(await classifyInput(path.join(linkedRoot, 'note.txt'), accept), { kind: 'file', path: inside });
  });

  it('refuses a file inside the root when local files are not accepted', async () => {
    await assertRefused(classifyInput(inside, refuse), NOT_ACCEPTED);
    await assertRefused(classifyInput(pathToFileURL(inside).href, refuse), NOT_ACCEPTED);
  });

  it('/etc/passwd: refused when not accepted and inside a root; text when outside the roots', async () => {
    await assertRefused(classifyInput('/etc/passwd', { acceptLocalFilePath: false, allowedRoots: ['/etc'] }), NOT_ACCEPTED);
    assert.deepEqual(await classifyInput('/etc/passwd', refuse), { kind: 'text', text: '/etc/passwd' });
    assert.deepEqual(await classifyInput('/etc/passwd', { acceptLocalFilePath: true, allowedRoots: [tmpdir()] }), {
      kind: 'text',
      text: '/etc/passwd',
    });
    // Allowed when a root really contains it.
    assert.deepEqual(await classifyInput('/etc/passwd', { acceptLocalFilePath: true, allowedRoots: ['/etc'] }), {
      kind: 'file',
      path: realpathSync('/etc/passwd'),
    });
  });

  it('file:///etc/passwd is refused in both modes', async () => {
    await assertRefused(classifyInput('file:///etc/passwd', refuse), NOT_ACCEPTED);
    await assertRefused(classifyInput('file:///etc/passwd', accept), OUTSIDE);
    await assertRefused(classifyInput('FILE:///etc/passwd', accept), OUTSIDE);
  });

  it('does not let ../ escape the root', async () => {
    const escape = `${root}/../../../../../../etc/passwd`;
    assert.deepEqual(await classifyInput(escape, accept), { kind: 'text', text: escape });
    await assertRefused(classifyInput(`file://${escape}`, accept), OUTSIDE);
    const sibling = `${root}/../allowed-evil/secret.txt`;
    assert.deepEqual(await classifyInput(sibling, accept), { kind: 'text', text: sibling });
    // ../ that stays inside the root is fine.
    assert.deepEqual(await classifyInput(`${root}/sub/../note.txt`, accept), { kind: 'file', path: inside });
  });

  it('follows symlinks before checking containment', async () => {
    assert.deepEqual(await classifyInput(link, accept), { kind: 'text', text: link });
    assert.deepEqual(await classifyInput(link, refuse), { kind: 'text', text: link });
    await assertRefused(classifyInput(pathToFileURL(link).href, accept), OUTSIDE);
  });

  it('does not treat a prefix-sibling directory as inside the root', async () => {
    const secret = path.join(evil, 'secret.txt');
    assert.deepEqual(await classifyInput(secret, accept), { kind: 'text', text: secret });
    await assertRefused(classifyInput(pathToFileURL(secret).href, accept), OUTSIDE);
    await assertRefused(classifyInput(pathToFileURL(secret).href, refuse), NOT_ACCEPTED);
  });

  it('file:// to a missing file or a directory', async () => {
    await assertRefused(classifyInput(pathToFileURL(path.join(root, 'missing.txt')).href, accept), NOT_A_FILE);
    await assertRefused(classifyInput(pathToFileURL(path.join(root, 'sub')).href, accept), NOT_A_FILE);
    await assertRefused(classifyInput('file://remote-host/share/file.txt', accept), NOT_A_FILE);
    await assertRefused(classifyInput(pathToFileURL(path.join(root, 'missing.txt')).href, refuse), NOT_ACCEPTED);
  });

  it('a directory or a missing bare path is text', async () => {
    assert.deepEqual(await classifyInput(root, accept), { kind: 'text', text: root });
    assert.deepEqual(await classifyInput(path.join(root, 'sub'), accept), { kind: 'text', text: path.join(root, 'sub') });
    const missing = path.join(root, 'missing.txt');
    assert.deepEqual(await classifyInput(missing, accept), { kind: 'text', text: missing });
    assert.deepEqual(await classifyInput(missing, refuse), { kind: 'text', text: missing });
  });

  it('decodes a percent-encoded file URI', async () => {
    const uri = pathToFileURL(spaced).href;
    assert.ok(uri.includes('x%20y.txt'), uri);
    assert.deepEqual(await classifyInput(uri, accept), { kind: 'file', path: spaced });
    await assertRefused(classifyInput('file:///tmp/x%20y-engram-surely-missing.txt', accept), NOT_A_FILE);
  });

  it('sentences, multi-line strings, NUL and very long strings are text and never touch the disk', async () => {
    const sentence = '/remember to call Bob';
    assert.deepEqual(await classifyInput(sentence, accept), { kind: 'text', text: sentence });
    assert.deepEqual(await classifyInput(sentence, refuse), { kind: 'text', text: sentence });
    // An existing file's path followed by more lines is text, not a file read.
    const multi = `${inside}\nand more`;
    assert.deepEqual(await classifyInput(multi, accept), { kind: 'text', text: multi });
    const withNul = `${inside}\0`;
    assert.deepEqual(await classifyInput(withNul, accept), { kind: 'text', text: withNul });
    const long = `${root}/${'a/'.repeat(2100)}`;
    assert.ok(long.length > 4096);
    assert.deepEqual(await classifyInput(long, accept), { kind: 'text', text: long });
    assert.deepEqual(await classifyInput('', accept), { kind: 'text', text: '' });
    assert.deepEqual(await classifyInput('   ', accept), { kind: 'text', text: '   ' });
    // Text is returned untrimmed.
    assert.deepEqual(await classifyInput('  hello world \n', accept), { kind: 'text', text: '  hello world \n' });
  });

  it('with no allowed roots every bare path is text and every file URI is outside', async () => {
    const none = { acceptLocalFilePath: true, allowedRoots: [] };
    assert.deepEqual(await classifyInput(inside, none), { kind: 'text', text: inside });
    await assertRefused(classifyInput(pathToFileURL(inside).href, none), OUTSIDE);
    // A root that does not exist contains nothing.
    const ghost = { acceptLocalFilePath: true, allowedRoots: [path.join(base, 'ghost')] };
    assert.deepEqual(await classifyInput(inside, ghost), { kind: 'text', text: inside });
  });
});

describe('parseAllowedRoots', () => {
  it('splits on the path delimiter, trims, drops empties and resolves to absolute paths', () => {
    const d = path.delimiter;
    assert.deepEqual(parseAllowedRoots(` /srv/data ${d}${d} relative/dir ${d}/tmp/`, ['/default']), ['/srv/data', path.resolve('relative/dir'), '/tmp']);
    assert.deepEqual(parseAllowedRoots('/a/../b', []), ['/b']);
  });

  it('falls back to the defaults when unset or empty', () => {
    const defaults = ['/x', '/y'];
    assert.deepEqual(parseAllowedRoots(undefined, defaults), defaults);
    assert.deepEqual(parseAllowedRoots('', defaults), defaults);
    assert.deepEqual(parseAllowedRoots(`  ${path.delimiter} `, defaults), defaults);
    const copy = parseAllowedRoots(undefined, defaults);
    copy.push('/z');
    assert.deepEqual(defaults, ['/x', '/y'], 'the defaults array is not shared');
  });
});

/**
 * D17: the server's own state is never read through the gate, whatever the allowed roots: here the
 * one allowed root is the whole temporary directory holding the system root, the data root, a
 * SQLite file placed elsewhere by DB_PATH and the working directory with its `.env`.
 */
describe('server state is never read, even inside an allowed root', () => {
  const PROTECTED = 'Local file path does not name a readable file inside the allowed roots.';
  let base: string;
  let cwd: string;
  let systemRoot: string;
  let dataRoot: string;
  let dbFile: string;
  let jwtSecret: string;
  let upload: string;
  let notes: string;
  let ok: string;
  let policy: LocalFilePolicy;
  const MAX = 4096;

  /** Refused as a bare path and as a file:// URI with `message`; and readLocalFile refuses it too. */
  async function refusedEverywhere(target: string, message = PROTECTED): Promise<void> {
    await assertRefused(classifyInput(target, policy), message);
    await assertRefused(classifyInput(pathToFileURL(target).href, policy), message);
    await assertRefused(readLocalFile(realpathSync(target), policy, MAX), message);
  }

  /** Fails instead of hanging when `work` does not settle within two seconds. */
  function within2s<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('did not settle within 2 s (blocked on a read?)')), 2000);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  before(() => {
    base = realpathSync(mkdtempSync(path.join(tmpdir(), 'engram-server-state-')));
    cwd = path.join(base, 'work');
    systemRoot = path.join(cwd, '.engram', 'system');
    dataRoot = path.join(cwd, '.engram', 'data');
    notes = path.join(base, 'notes');
    for (const dir of [path.join(systemRoot, 'secrets'), path.join(systemRoot, 'databases'), dataRoot, notes, path.join(base, 'db'), path.join(notes, 'sub')]) {
      mkdirSync(dir, { recursive: true });
    }
    jwtSecret = path.join(systemRoot, 'secrets', 'jwt_secret');
    writeFileSync(jwtSecret, 'generated-jwt-secret-value-0123456789abcdef');
    writeFileSync(path.join(systemRoot, 'databases', 'engram_db'), 'SQLite format 3\0 in the system root');
    upload = path.join(dataRoot, 'text_0123456789abcdef0123456789abcdef.txt');
    writeFileSync(upload, 'another user upload');
    dbFile = path.join(base, 'db', 'engram_db');
    writeFileSync(dbFile, 'SQLite format 3\0 placed by DB_PATH');
    writeFileSync(`${dbFile}-wal`, 'write-ahead log');
    writeFileSync(`${dbFile}-shm`, 'shared memory');
    writeFileSync(path.join(cwd, '.env'), 'LLM_API_KEY=sk-fake-key-in-dotenv\n');
    writeFileSync(path.join(notes, '.env'), 'LLM_API_KEY=sk-fake-key-elsewhere\n');
    writeFileSync(path.join(notes, '.env.local'), 'FASTAPI_USERS_JWT_SECRET=fake\n');
    writeFileSync(path.join(notes, '.ENV.Production'), 'FAKE=1\n');
    ok = path.join(notes, 'ok.txt');
    writeFileSync(ok, 'An ordinary note inside the allowed root.');
    symlinkSync(jwtSecret, path.join(notes, 'innocent.txt'));
    symlinkSync(systemRoot, path.join(notes, 'system-link'));
    symlinkSync(path.join(notes, '.env'), path.join(notes, 'dotenv-link.txt'));
    linkSync(dbFile, path.join(notes, 'hardlinked-db.txt'));
    execFileSync('mkfifo', [path.join(notes, 'pipe')]);
    policy = {
      acceptLocalFilePath: true,
      allowedRoots: [base],
      protectedPaths: serverStatePaths({ cwd, systemRoot, dataRoot, db: { provider: 'sqlite', path: dbFile } }),
    };
  });

  after(() => rmSync(base, { recursive: true, force: true }));

  it('positive control: an ordinary file inside the allowed root is read, as a path and as a file:// URI', async () => {
    assert.deepEqual(await classifyInput(ok, policy), { kind: 'file', path: ok });
    assert.deepEqual(await classifyInput(pathToFileURL(ok).href, policy), { kind: 'file', path: ok });
    assert.equal((await readLocalFile(ok, policy, MAX)).toString('utf8'), 'An ordinary note inside the allowed root.');
    // A file named like a dotenv file only in a directory name is fine.
    mkdirSync(path.join(notes, '.env.d'), { recursive: true });
    writeFileSync(path.join(notes, '.env.d', 'readme.txt'), 'not a dotenv file');
    assert.equal((await classifyInput(path.join(notes, '.env.d', 'readme.txt'), policy)).kind, 'file');
  });

  it('refuses the system root: generated secrets and the SQLite file kept there', async () => {
    await refusedEverywhere(jwtSecret);
    await refusedEverywhere(path.join(systemRoot, 'databases', 'engram_db'));
  });

  it('refuses the data root: stored uploads', async () => {
    await refusedEverywhere(upload);
  });

  it('refuses the SQLite file placed elsewhere by DB_PATH and its -wal and -shm files', async () => {
    await refusedEverywhere(dbFile);
    await refusedEverywhere(`${dbFile}-wal`);
    await refusedEverywhere(`${dbFile}-shm`);
  });

  it('refuses the .env the configuration reads and any .env or .env.* file anywhere', async () => {
    await refusedEverywhere(path.join(cwd, '.env'));
    await refusedEverywhere(path.join(notes, '.env'));
    await refusedEverywhere(path.join(notes, '.env.local'));
    await refusedEverywhere(path.join(notes, '.ENV.Production'));
    // Also without any server-state locations configured.
    const bare: LocalFilePolicy = { acceptLocalFilePath: true, allowedRoots: [base] };
    await assertRefused(classifyInput(path.join(notes, '.env.local'), bare), PROTECTED);
  });

  it('refuses a symlink inside the allowed root pointing into the system root or at a .env file', async () => {
    await assertRefused(classifyInput(path.join(notes, 'innocent.txt'), policy), PROTECTED);
    await assertRefused(classifyInput(pathToFileURL(path.join(notes, 'innocent.txt')).href, policy), PROTECTED);
    await assertRefused(classifyInput(path.join(notes, 'system-link', 'secrets', 'jwt_secret'), policy), PROTECTED);
    await assertRefused(classifyInput(path.join(notes, 'dotenv-link.txt'), policy), PROTECTED);
  });

  it('refuses a hard link to the SQLite file when reading it', async () => {
    const link = path.join(notes, 'hardlinked-db.txt');
    // Its path is ordinary, so only the descriptor's identity gives it away.
    await assertRefused(readLocalFile(link, policy, MAX), PROTECTED);
  });

  it('a system root reached through a symlinked configuration is still refused', async () => {
    const linkedCwd = path.join(base, 'work-link');
    symlinkSync(cwd, linkedCwd);
    const viaLink: LocalFilePolicy = {
      acceptLocalFilePath: true,
      allowedRoots: [base],
      protectedPaths: serverStatePaths({
        cwd: linkedCwd,
        systemRoot: path.join(linkedCwd, '.engram', 'system'),
        dataRoot: path.join(linkedCwd, '.engram', 'data'),
        db: { provider: 'postgres' },
      }),
    };
    await assertRefused(classifyInput(jwtSecret, viaLink), PROTECTED);
    await assertRefused(classifyInput(upload, viaLink), PROTECTED);
  });

  it('a directory is text as a bare path and refused as a file:// URI; never read', async () => {
    assert.deepEqual(await classifyInput(path.join(notes, 'sub'), policy), { kind: 'text', text: path.join(notes, 'sub') });
    await assertRefused(classifyInput(pathToFileURL(path.join(notes, 'sub')).href, policy), NOT_A_FILE);
    await assertRefused(readLocalFile(path.join(notes, 'sub'), policy, MAX), NOT_A_FILE);
  });

  it('a FIFO is never opened in a way that blocks: text as a bare path, refused as a URI and when read', async () => {
    const pipe = path.join(notes, 'pipe');
    assert.deepEqual(await within2s(classifyInput(pipe, policy)), { kind: 'text', text: pipe });
    await within2s(assertRefused(classifyInput(pathToFileURL(pipe).href, policy), NOT_A_FILE));
    await within2s(assertRefused(readLocalFile(pipe, policy, MAX), NOT_A_FILE));
  });

  it('/dev/zero is never read, even with /dev as an allowed root', async () => {
    const dev: LocalFilePolicy = { acceptLocalFilePath: true, allowedRoots: ['/dev'] };
    assert.deepEqual(await within2s(classifyInput('/dev/zero', dev)), { kind: 'text', text: '/dev/zero' });
    await within2s(assertRefused(classifyInput('file:///dev/zero', dev), NOT_A_FILE));
    await within2s(assertRefused(readLocalFile('/dev/zero', dev, MAX), NOT_A_FILE));
  });

  it('a file swapped after the check for a symlink into the system root or a FIFO is not read', async () => {
    const swapped = path.join(notes, 'swapped.txt');
    writeFileSync(swapped, 'harmless at check time');
    const classified = await classifyInput(swapped, policy);
    assert.deepEqual(classified, { kind: 'file', path: swapped });
    rmSync(swapped);
    symlinkSync(jwtSecret, swapped);
    await assertRefused(readLocalFile(swapped, policy, MAX), NOT_A_FILE);
    rmSync(swapped);
    execFileSync('mkfifo', [swapped]);
    await within2s(assertRefused(readLocalFile(swapped, policy, MAX), NOT_A_FILE));
  });

  it('bounds the size read', async () => {
    const big = path.join(notes, 'big.txt');
    writeFileSync(big, 'x'.repeat(MAX + 1));
    await assertRefused(readLocalFile(big, policy, MAX), `Local file exceeds ${MAX} bytes.`);
    const exact = path.join(notes, 'exact.txt');
    writeFileSync(exact, 'y'.repeat(MAX));
    assert.equal((await readLocalFile(exact, policy, MAX)).length, MAX);
  });

  it('readLocalFile refuses outside the roots and when local files are not accepted', async () => {
    await assertRefused(readLocalFile('/etc/passwd', policy, MAX), OUTSIDE);
    await assertRefused(readLocalFile(ok, { ...policy, acceptLocalFilePath: false }, MAX), NOT_ACCEPTED);
  });

  it('serverStatePaths lists the roots, the SQLite file with its companions and the .env', () => {
    assert.deepEqual(
      serverStatePaths({ cwd: '/srv/app', systemRoot: '/srv/app/.engram/system', dataRoot: '/data', db: { provider: 'sqlite', path: '/var/db/engram_db' } }),
      {
        dirs: ['/srv/app/.engram/system', '/data'],
        files: ['/srv/app/.env', '/var/db/engram_db', '/var/db/engram_db-wal', '/var/db/engram_db-shm', '/var/db/engram_db-journal'],
      },
    );
    assert.deepEqual(serverStatePaths({ cwd: '/srv/app', systemRoot: '/s', dataRoot: '/d', db: { provider: 'postgres' } }), {
      dirs: ['/s', '/d'],
      files: ['/srv/app/.env'],
    });
  });
});

describe('COGNEE_ALLOWED_LOCAL_FILE_ROOTS defaults (loadConfig)', () => {
  let cwd: string;
  before(() => {
    cwd = realpathSync(mkdtempSync(path.join(tmpdir(), 'engram-roots-config-')));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('unset: no allowed roots at all (neither the working nor the temp directory nor the data root)', () => {
    const config = loadConfig({ ENABLE_BACKEND_ACCESS_CONTROL: 'false' }, cwd);
    assert.equal(config.memory.acceptLocalFilePath, true);
    assert.deepEqual(config.memory.allowedLocalRoots, []);
  });

  it('set: exactly the listed roots, resolved against the working directory; the data root is not added', () => {
    const config = loadConfig({ ENABLE_BACKEND_ACCESS_CONTROL: 'false', COGNEE_ALLOWED_LOCAL_FILE_ROOTS: `/srv/docs${path.delimiter}incoming` }, cwd);
    assert.deepEqual(config.memory.allowedLocalRoots, ['/srv/docs', path.join(cwd, 'incoming')]);
  });
});
