import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { IngestionError, classifyInput, parseAllowedRoots, type LocalFilePolicy } from '../../src/security/local-paths.js';

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
const NOT_A_FILE = 'Local file does not exist or is not a file.';
const OUTSIDE = 'Local file path is outside allowed roots.';

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
    assert.deepEqual(parseAllowedRoots(` /srv/data ${d}${d} relative/dir ${d}/tmp/`, ['/default']), [
      '/srv/data',
      path.resolve('relative/dir'),
      '/tmp',
    ]);
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
