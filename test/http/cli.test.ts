import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { BASE_ENV, TEST_DB, createPgDatabase, eventually, startTestServer, strongPassword, uniqueEmail } from '../helpers/harness.js';

/** The `engram` command, run as a child process against the same system root and database as a server. */
const MAIN = join(process.cwd(), 'src/cli/main.ts');
const TSX = import.meta.resolve('tsx');

describe('the engram command', () => {
  let root: string;
  let dbEnv: Record<string, string> = {};
  let dropDb: (() => Promise<void>) | undefined;
  let env: Record<string, string>;

  const run = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env, ...extra },
      encoding: 'utf8',
      timeout: 60_000,
    });

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'engram-cli-'));
    if (TEST_DB === 'postgres') {
      const db = await createPgDatabase();
      dbEnv = db.env;
      dropDb = db.drop;
    }
    env = { ...BASE_ENV, ...dbEnv, SYSTEM_ROOT_DIRECTORY: join(root, 'system'), LOG_LEVEL: 'warn' };
  });
  after(async () => {
    await dropDb?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('help and unknown commands', () => {
    const help = run(['help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /engram serve/);
    const unknown = run(['frobnicate']);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /unknown command frobnicate/);
  });

  it('migrate applies migrations and is idempotent', () => {
    for (let i = 0; i < 2; i++) {
      const res = run(['migrate']);
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, /migrations are up to date/);
    }
  });

  it('user create makes a superuser that logs in to a server on the same store', async () => {
    const email = uniqueEmail('admin');
    const password = strongPassword();
    const res = run(['user', 'create', '--email', email, '--password', password, '--superuser']);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`created superuser ${email.replace('.', '\\.')}`));
    assert.ok(!res.stdout.includes(password), 'a given password is not echoed');
    const again = run(['user', 'create', '--email', email, '--password', strongPassword()]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already exists/);

    const generated = run(['user', 'create', '--email', uniqueEmail('gen')]);
    assert.equal(generated.status, 0, generated.stderr);
    const genPassword = /password: (\S+)/.exec(generated.stdout)![1]!;
    const genEmail = /created user (\S+)/.exec(generated.stdout)![1]!;

    const server = await startTestServer({ root, dbEnv });
    try {
      const c = server.client();
      const token = await c.login(email, password);
      const me = await c.get('/api/v1/users/me', { bearer: token });
      assert.equal(me.body.is_superuser, true);
      assert.equal((await c.get(`/api/v1/users/${me.body.id}`, { bearer: token })).status, 200, 'a superuser-only route');
      await c.login(genEmail, genPassword);
    } finally {
      await server.engram.close();
    }
  });

  it('user create refuses weak passwords and bad e-mails', () => {
    const weak = run(['user', 'create', '--email', uniqueEmail('weak'), '--password', 'password']);
    assert.notEqual(weak.status, 0);
    assert.match(weak.stderr, /too common/);
    const bad = run(['user', 'create', '--email', 'not-an-email', '--password', strongPassword()]);
    assert.notEqual(bad.status, 0);
  });

  it('D2: token mints an external token that a server with the same secret accepts', async () => {
    const userId = '6763554c-91bd-432c-aba8-d42cd72ed659';
    const res = run(['token', '--user-id', userId, '--tenant-id', 'tenant_456', '--roles', 'admin,reader']);
    assert.equal(res.status, 0, res.stderr);
    const token = res.stdout.trim();
    const claims = decodeJwt(token);
    assert.equal(claims.user_id, userId);
    assert.equal(claims.tenant_id, 'tenant_456');
    assert.deepEqual(claims.roles, ['admin', 'reader']);
    assert.equal(claims.aud, undefined);
    assert.ok(Math.abs(claims.exp! - (Date.now() / 1000 + 3600)) < 60);
    const short = decodeJwt(run(['token', '--user-id', userId, '--lifetime', '60']).stdout.trim());
    assert.equal(short.exp! - short.iat!, 60);

    // The generated secret under the system root is shared by the command and the server.
    const server = await startTestServer({ root, dbEnv });
    try {
      const me = await server.client().get('/api/v1/auth/me', { bearer: token });
      assert.deepEqual([me.status, me.body], [200, { email: `${userId}@external.invalid` }]);
    } finally {
      await server.engram.close();
    }
  });

  it('token refuses a missing or non-UUID user id and a bad lifetime', () => {
    for (const args of [['token'], ['token', '--user-id', 'nope'], ['token', '--user-id', '6763554c-91bd-432c-aba8-d42cd72ed659', '--lifetime', '0']]) {
      const res = run(args);
      assert.notEqual(res.status, 0, args.join(' '));
      assert.ok(res.stderr.length > 0);
    }
  });

  it('D12: serve refuses an invalid variable with a message naming it', () => {
    const res = run(['serve'], { ENABLE_BACKEND_ACCESS_CONTROL: 'maybe' });
    assert.equal(res.status, 78);
    assert.match(res.stderr, /configuration error: ENABLE_BACKEND_ACCESS_CONTROL: /);
  });

  it('serve listens on HTTP_API_PORT and stops on SIGTERM', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'serve'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env, HTTP_API_PORT: String(port) },
      stdio: 'ignore',
    });
    try {
      await eventually(async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200;
        } catch {
          return false;
        }
      }, 20_000, 100);
    } finally {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'a clean shutdown');
    }
  });
});
