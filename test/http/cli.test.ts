import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { BASE_ENV, TEST_DB, createPgDatabase, eventually, startTestServer, strongPassword, uniqueEmail } from '../helpers/harness.js';
import { processExists, sandboxProcesses } from '../helpers/processes.js';

/**
 * The `engram` command, run as a child process (`node --import tsx src/cli/main.ts …`) in its own
 * working directory, against the same system root and database as servers started by the harness.
 */
const MAIN = join(process.cwd(), 'src/cli/main.ts');
const TSX = import.meta.resolve('tsx');
const VERSION = (JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-cli-'));
  dirs.push(dir);
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('the engram command', () => {
  /** The shared working directory; its system root and database are shared with test servers. */
  let root: string;
  let dbEnv: Record<string, string> = {};
  let dropDb: (() => Promise<void>) | undefined;
  let env: Record<string, string>;
  /** The superuser made by `user create`, reused by the `serve` test. */
  let admin: { email: string; password: string; id: string } | undefined;

  /** Runs `engram <args>` to completion with the shared environment plus `extra`. */
  function run(args: string[], extra: Record<string, string> = {}, cwd = root): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
        cwd,
        env: { PATH: process.env.PATH ?? '', ...env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('error', reject);
      child.once('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  }

  before(async () => {
    root = tempDir();
    if (TEST_DB === 'postgres') {
      const db = await createPgDatabase();
      dbEnv = db.env;
      dropDb = db.drop;
    }
    env = {
      ...BASE_ENV,
      ...dbEnv,
      SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
      DATA_ROOT_DIRECTORY: join(root, 'data'),
      LOG_LEVEL: 'warn',
    };
  });
  after(async () => {
    await dropDb?.();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('help lists the commands; an unknown command exits non-zero with the usage', async () => {
    const [help, unknown] = await Promise.all([run(['help']), run(['frobnicate'])]);
    assert.equal(help.status, 0, help.stderr);
    for (const command of ['engram serve', 'engram migrate', 'engram token --user-id', 'engram user create --email']) {
      assert.ok(help.stdout.includes(command), command);
    }
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^engram: unknown command frobnicate\n/);
    assert.equal(unknown.stdout, '');
  });

  it('migrate applies the migrations on the first run, and a second run succeeds with nothing to apply (idempotent)', async () => {
    const first = await run(['migrate'], { LOG_LEVEL: 'info' });
    assert.equal(first.status, 0, first.stderr);
    // The log line may reach stdout after the last line (the logger writes asynchronously).
    assert.match(first.stdout, /^migrations are up to date$/m);
    assert.match(first.stdout, /"msg":"applied database migrations"/, 'the first run applies them');
    const second = await run(['migrate'], { LOG_LEVEL: 'info' });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, 'migrations are up to date\n', 'the second run applies nothing');
  });

  it('user create --superuser makes an administrator who logs in to a server on the same store and reaches superuser-only routes', async () => {
    const email = uniqueEmail('admin');
    const password = strongPassword();
    const res = await run(['user', 'create', '--email', email, '--password', password, '--superuser']);
    assert.equal(res.status, 0, res.stderr);
    const created = /^created superuser (\S+) \((\S+)\)\n$/.exec(res.stdout);
    assert.ok(created, res.stdout);
    assert.equal(created[1], email);
    assert.match(created[2]!, UUID);
    assert.ok(!res.stdout.includes(password) && !res.stderr.includes(password), 'a given password is never echoed');
    admin = { email, password, id: created[2]! };

    const again = await run(['user', 'create', '--email', email, '--password', strongPassword()]);
    assert.equal(again.status, 2);
    assert.equal(again.stderr, `engram: user create: a user with e-mail ${email} already exists\n`);

    const server = await startTestServer({ root, dbEnv });
    try {
      const c = server.client();
      const token = await c.login(email, password);
      const me = await c.get('/api/v1/users/me', { bearer: token });
      assert.equal(me.status, 200);
      assert.equal(me.body.id, admin.id);
      assert.equal(me.body.email, email);
      assert.equal(me.body.is_superuser, true);
      assert.equal(me.body.is_active, true);
      assert.equal(me.body.is_verified, true);
      const byId = await c.get(`/api/v1/users/${admin.id}`, { bearer: token });
      assert.equal(byId.status, 200, 'GET /api/v1/users/{id} is superuser-only');
      assert.equal(byId.body.email, email);
    } finally {
      await server.close();
    }
  });

  it('user create without --password prints a generated password that logs in; without --superuser the account is not an administrator', async () => {
    const email = uniqueEmail('gen');
    const res = await run(['user', 'create', '--email', email]);
    assert.equal(res.status, 0, res.stderr);
    const match = /^created user (\S+) \((\S+)\)\npassword: (\S+)\n/.exec(res.stdout);
    assert.ok(match, res.stdout);
    assert.equal(match[1], email);
    const [id, password] = [match[2]!, match[3]!];
    assert.ok(password.length >= 16, 'a generated password is long');

    const server = await startTestServer({ root, dbEnv });
    try {
      const c = server.client();
      const token = await c.login(email, password);
      const me = await c.get('/api/v1/users/me', { bearer: token });
      assert.deepEqual([me.body.id, me.body.is_superuser], [id, false]);
      const byId = await c.get(`/api/v1/users/${id}`, { bearer: token });
      assert.deepEqual([byId.status, byId.body], [403, { detail: 'Forbidden' }], 'not a superuser');
    } finally {
      await server.close();
    }
  });

  it('D8, D25: user create refuses weak passwords, bad e-mail addresses and server-assigned ones with a message and a non-zero exit, creating nothing', async () => {
    const email = uniqueEmail('weakling');
    const local = email.split('@')[0]!;
    const [common, short, containsEmail, badEmail] = await Promise.all([
      run(['user', 'create', '--email', email, '--password', 'password']),
      run(['user', 'create', '--email', email, '--password', 'x7!q']),
      run(['user', 'create', '--email', email, '--password', `${local}-2024`]),
      run(['user', 'create', '--email', 'not-an-email', '--password', strongPassword()]),
    ]);
    const agentEmail = await run(['user', 'create', '--email', `helper+${randomUUID()}@Cognee.Agent`, '--password', strongPassword()]);
    assert.deepEqual([common.status, common.stderr], [2, 'engram: user create: Password is too common: it appears in lists of breached passwords\n']);
    assert.deepEqual([short.status, short.stderr], [2, 'engram: user create: Password should be at least 8 characters\n']);
    assert.deepEqual([containsEmail.status, containsEmail.stderr], [2, 'engram: user create: Password should not contain the e-mail address\n']);
    assert.deepEqual([badEmail.status, badEmail.stderr], [2, 'engram: user create: --email with a valid address is required\n']);
    assert.deepEqual(
      [agentEmail.status, agentEmail.stderr],
      [2, 'engram: user create: addresses in @cognee.agent and @external.invalid are assigned by the server (agents, external users)\n'],
    );
    for (const res of [common, short, containsEmail, badEmail, agentEmail]) assert.equal(res.stdout, '');

    // None of the refused attempts created the account: the address is still free.
    const ok = await run(['user', 'create', '--email', email, '--password', strongPassword()]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^created user ${email.replace(/[.]/g, '\\.')} `));
  });

  it('D2: token mints an external token (user_id, tenant_id, roles, exp = now + 3600, no aud) that a server sharing the generated secret accepts, provisioning the user', async () => {
    const userId = '6763554c-91bd-432c-aba8-d42cd72ed659';
    const before = Math.floor(Date.now() / 1000);
    const res = await run(['token', '--user-id', userId, '--tenant-id', 'tenant_456', '--roles', 'admin,reader']);
    const afterRun = Math.ceil(Date.now() / 1000);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'one JWT on its own line');
    const token = res.stdout.trim();

    assert.equal(decodeProtectedHeader(token).alg, 'HS256');
    const claims = decodeJwt(token);
    assert.equal(claims.user_id, userId);
    assert.equal(claims.tenant_id, 'tenant_456');
    assert.deepEqual(claims.roles, ['admin', 'reader']);
    assert.equal('aud' in claims, false, 'no aud: an external token');
    assert.equal('sub' in claims, false);
    assert.equal(claims.exp! - claims.iat!, 3600);
    assert.ok(claims.iat! >= before && claims.iat! <= afterRun, 'issued now');

    // The command created the secret under the shared system root; a server on that root uses it.
    const server = await startTestServer({ root, dbEnv });
    try {
      const c = server.client();
      const me = await c.get('/api/v1/auth/me', { bearer: token });
      assert.deepEqual([me.status, me.body], [200, { email: `${userId}@external.invalid` }]);
      const user = await c.get('/api/v1/users/me', { bearer: token });
      assert.deepEqual([user.status, user.body.id], [200, userId], 'the just-in-time user');
      assert.ok(server.logs.find(/^provisioned user from external token$/), 'the provisioning is logged');
    } finally {
      await server.close();
    }

    // A server with another secret refuses the same token.
    const stranger = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: 's'.repeat(48) } });
    try {
      const me = await stranger.client().get('/api/v1/auth/me', { bearer: token });
      assert.deepEqual([me.status, me.body], [401, { detail: 'Unauthorized' }]);
    } finally {
      await stranger.close();
    }
  });

  it('D2: token signs with FASTAPI_USERS_JWT_SECRET when set, so a server with the same value and another system root accepts it; --lifetime sets exp', async () => {
    const secret = `shared-${'z'.repeat(40)}`;
    const userId = 'b2c4a1de-5f7e-4c1a-9d2b-3e4f5a6b7c8d';
    const elsewhere = tempDir();
    const before = Math.floor(Date.now() / 1000);
    const res = await run(
      ['token', '--user-id', userId, '--lifetime', '60'],
      { SYSTEM_ROOT_DIRECTORY: join(elsewhere, 'system'), FASTAPI_USERS_JWT_SECRET: secret },
      elsewhere,
    );
    assert.equal(res.status, 0, res.stderr);
    const token = res.stdout.trim();
    const claims = decodeJwt(token);
    assert.equal(claims.exp! - claims.iat!, 60);
    assert.ok(claims.exp! >= before + 60 && claims.exp! <= Math.ceil(Date.now() / 1000) + 60);
    assert.equal(claims.user_id, userId);
    assert.equal(claims.tenant_id, null, 'no --tenant-id: null');
    assert.deepEqual(claims.roles, []);

    const server = await startTestServer({ env: { FASTAPI_USERS_JWT_SECRET: secret } });
    try {
      const me = await server.client().get('/api/v1/auth/me', { bearer: token });
      assert.deepEqual([me.status, me.body], [200, { email: `${userId}@external.invalid` }]);
    } finally {
      await server.close();
    }
  });

  it('token refuses a missing or non-UUID --user-id and a bad --lifetime, printing no token', async () => {
    const uuid = '6763554c-91bd-432c-aba8-d42cd72ed659';
    const cases: [string[], string][] = [
      [['token'], 'engram: token: --user-id is required\n'],
      [['token', '--user-id', 'nope'], 'engram: token: userId must be a UUID\n'],
      [['token', '--user-id', uuid, '--lifetime', '0'], 'engram: token: --lifetime must be a positive integer\n'],
      [['token', '--user-id', uuid, '--lifetime', '1.5'], 'engram: token: --lifetime must be a positive integer\n'],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    cases.forEach(([args, message], i) => {
      const res = results[i]!;
      assert.deepEqual([res.status, res.stderr, res.stdout], [2, message, ''], args.join(' '));
    });
  });

  it('D12/D4: serve (and every other command) refuses an invalid variable with exit code 78 and a message naming it', async () => {
    const [ebac, secret, token] = await Promise.all([
      run(['serve'], { ENABLE_BACKEND_ACCESS_CONTROL: 'maybe' }),
      run(['serve'], { FASTAPI_USERS_JWT_SECRET: 'super_secret' }),
      run(['token', '--user-id', '6763554c-91bd-432c-aba8-d42cd72ed659'], { ENABLE_BACKEND_ACCESS_CONTROL: 'maybe' }),
    ]);
    const expected = 'engram: configuration error: ENABLE_BACKEND_ACCESS_CONTROL: expected a boolean (true/false, 1/0, yes/no, on/off), got "maybe"\n';
    assert.deepEqual([ebac.status, ebac.stderr], [78, expected]);
    // D4: the reference's default secret is a configuration error too, and the message does not repeat it.
    assert.equal(secret.status, 78);
    assert.match(secret.stderr, /^engram: configuration error: FASTAPI_USERS_JWT_SECRET: /);
    assert.ok(!secret.stderr.includes('super_secret'), 'the refused secret is not repeated');
    assert.deepEqual([token.status, token.stderr, token.stdout], [78, expected, '']);
  });

  it('serve listens on HTTP_API_PORT, answers /health, serves the accounts made by the command, and stops cleanly on SIGTERM, leaving no sandbox process', async () => {
    assert.ok(admin, 'the superuser from the user create test');
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'serve'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env, HTTP_API_PORT: String(port), ALLOW_CYPHER_QUERY: 'true', CYPHER_SANDBOX_POOL_SIZE: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    let waiting: number[] = [];
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`serve exited early (${child.exitCode}): ${stderr}`);
          try {
            return (await fetch(`${base}/health`)).status === 200;
          } catch {
            return false;
          }
        },
        30_000,
        100,
      );
      const health = await fetch(`${base}/health`);
      assert.deepEqual(await health.json(), { status: 'ready', health: 'healthy', version: VERSION });
      const anonymous = await fetch(`${base}/api/v1/auth/me`);
      assert.deepEqual([anonymous.status, await anonymous.json()], [401, { detail: 'Unauthorized' }]);

      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: admin.email, password: admin.password }).toString(),
      });
      assert.equal(login.status, 200);
      const { access_token: token } = (await login.json()) as { access_token: string };
      const byId = await fetch(`${base}/api/v1/users/${admin.id}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(byId.status, 200);

      // A Cypher query fills the sandbox pool: two processes wait for the next query.
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const added = await fetch(`${base}/api/v1/add_text`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ textData: ['Ada Lovelace.'], datasetName: 'cli-cypher' }),
      });
      assert.equal(added.status, 200, await added.clone().text());
      const { dataset_id: ds } = (await added.json()) as { dataset_id: string };
      const cypher = await fetch(`${base}/api/v1/search`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ search_type: 'CYPHER', query: 'RETURN 1 AS one', datasetIds: [ds] }),
      });
      assert.equal(cypher.status, 200, await cypher.clone().text());
      await eventually(async () => sandboxProcesses(child.pid!).length === 2, 60_000, 100);
      waiting = sandboxProcesses(child.pid!);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `a clean shutdown; stderr: ${stderr}`);
    // No sandbox process outlives the server (an orphan would live on under another parent).
    assert.equal(waiting.length, 2);
    for (const pid of waiting) assert.ok(!processExists(pid), `sandbox process ${pid} outlived the server`);
  });
});
