import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, strongPassword, type TestServer } from '../helpers/harness.js';

/**
 * `GET /health` checks every store the server uses — the relational database, the vector store, the
 * graph store and file storage — and answers the reference's 503 `{"status":"not ready","health":
 * "unhealthy","version"}` when one is down. `GET /health/detailed` is the reference's component
 * report: anyone sees each component's status; only a superuser sees the version, uptime,
 * providers and timings. No answer holds a path, an error message or a secret.
 */

const VERSION = (await import('../../package.json', { with: { type: 'json' } })).default.version;
const STORES = ['relational_db', 'vector_db', 'graph_db', 'file_storage'];
const ADMIN = { email: 'default_user@example.com', password: strongPassword() };

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Puts a plain file where a directory is expected (a store that cannot write, even for root); returns the undo. */
function breakDirectory(dir: string): () => void {
  const aside = `${dir}.aside`;
  mkdirSync(dir, { recursive: true });
  renameSync(dir, aside);
  writeFileSync(dir, 'not a directory');
  return () => {
    rmSync(dir, { force: true });
    renameSync(aside, dir);
  };
}

describe('GET /health and /health/detailed check every store', () => {
  let server: TestServer;
  let adminToken: string;
  before(async () => {
    server = await startTestServer({ env: { REQUIRE_AUTHENTICATION: 'true', DEFAULT_USER_PASSWORD: ADMIN.password } });
    adminToken = await server.client().login(ADMIN.email, ADMIN.password);
  });
  after(async () => server.close());

  it('all stores up: 200 ready, and the detailed report says healthy for each', async () => {
    const c = server.client();
    const health = await c.get('/health');
    assert.deepEqual([health.status, health.body], [200, { status: 'ready', health: 'healthy', version: VERSION }]);
    const detailed = await c.get('/health/detailed', { bearer: adminToken, cookies: false });
    assert.equal(detailed.status, 200, detailed.text);
    assert.equal(detailed.body.status, 'healthy');
    for (const name of STORES) assert.equal(detailed.body.components[name].status, 'healthy', name);
  });

  it('file storage that cannot be written: 503 not ready; the report names file_storage only', async () => {
    const restore = breakDirectory(join(server.root, 'data'));
    try {
      const c = server.client();
      const health = await c.get('/health');
      assert.deepEqual([health.status, health.body], [503, { status: 'not ready', health: 'unhealthy', version: VERSION }]);
      const detailed = await c.get('/health/detailed', { bearer: adminToken, cookies: false });
      assert.equal(detailed.status, 503);
      assert.equal(detailed.body.status, 'unhealthy');
      assert.deepEqual(
        STORES.filter((n) => detailed.body.components[n].status !== 'healthy'),
        ['file_storage'],
      );
      assert.equal(detailed.body.components.file_storage.details, 'Check failed');
      assert.ok(!detailed.text.includes(server.root), 'no path in the answer');
      assert.ok(server.logs.text().includes('health check: a store did not answer'), 'the reason is logged');
    } finally {
      restore();
    }
    assert.equal((await server.client().get('/health')).status, 200, 'healthy again once the store is back');
  });

  it('the embedded graph and vector stores that cannot write: 503, both named', async () => {
    const restore = breakDirectory(join(server.root, 'system', 'databases'));
    try {
      const detailed = await server.client().get('/health/detailed', { bearer: adminToken, cookies: false });
      assert.equal(detailed.status, 503);
      assert.deepEqual(
        STORES.filter((n) => detailed.body.components[n].status !== 'healthy'),
        ['vector_db', 'graph_db'],
      );
      assert.equal((await server.client().get('/health')).status, 503);
    } finally {
      restore();
    }
  });

  it('anonymous and non-superuser callers see statuses only: no version, uptime, provider, timing or path', async () => {
    const c = server.client();
    const user = await c.signUp(`health-${Date.now()}@example.com`);
    for (const options of [{}, { bearer: user.token, cookies: false as const }, { bearer: 'not-a-valid-token', cookies: false as const }]) {
      const res = await server.client().get('/health/detailed', options);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), ['components', 'status', 'timestamp']);
      for (const name of STORES) assert.deepEqual(res.body.components[name], { status: 'healthy' });
      assert.ok(!res.text.includes(VERSION) && !res.text.includes(server.root));
    }
    const admin = await c.get('/health/detailed', { bearer: adminToken, cookies: false });
    assert.equal(admin.body.version, VERSION);
    assert.equal(typeof admin.body.uptime, 'number');
    assert.ok(!admin.text.includes(server.root), 'no path even for a superuser');
    for (const name of [...STORES, 'llm_provider', 'embedding_service']) {
      assert.deepEqual(Object.keys(admin.body.components[name]).sort(), ['details', 'provider', 'response_time_ms', 'status'], name);
    }
  });
});

describe('GET /health with a vector store server that does not answer (pgvector)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { VECTOR_DB_PROVIDER: 'pgvector', VECTOR_DB_HOST: '127.0.0.1', VECTOR_DB_PORT: String(await closedPort()) } });
  });
  after(async () => server.close());

  it('503 not ready, the report names vector_db, and the answer holds no address', async () => {
    const c = server.client();
    const health = await c.get('/health');
    assert.deepEqual([health.status, health.body], [503, { status: 'not ready', health: 'unhealthy', version: VERSION }]);
    const detailed = await c.get('/health/detailed');
    assert.equal(detailed.status, 503);
    assert.deepEqual(
      STORES.filter((n) => detailed.body.components[n].status !== 'healthy'),
      ['vector_db'],
    );
    assert.ok(!detailed.text.includes('127.0.0.1'));
  });
});
