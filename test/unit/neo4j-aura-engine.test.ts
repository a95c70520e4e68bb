import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { DatasetDatabases } from '../../src/memory/databases.js';
import { MemoryEngine, type DatasetInfo } from '../../src/memory/engine.js';
import { HashingEmbedder, OfflineModel } from '../../src/memory/providers/offline.js';
import { searchDataset, searchResultOf } from '../../src/memory/search.js';
import { FernetKeyring, isFernetToken } from '../../src/security/fernet.js';
import { openRelationalStore } from '../../src/storage/index.js';
import { startAuraStandIn } from '../helpers/aura-standin.js';
import { BoltStandIn } from '../helpers/bolt-standin.js';

/**
 * GRAPH_DATABASE_PROVIDER=neo4j end to end below HTTP, in both storage modes:
 * - multi-tenant with `neo4j_aura_dev`: the Aura API stand-in provisions an "instance" whose
 *   connection URL is a Bolt stand-in; add → cognify → search → delete runs through the engine, the
 *   graph lands in that instance's Kuzu, and the row holds the password as a Fernet token only;
 * - single-user: the shared Neo4j at GRAPH_DATABASE_URL holds two datasets apart.
 */

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const DOC = [
  'Ada Lovelace worked with Charles Babbage in London in 1843.',
  'Babbage designed the Analytical Engine, a mechanical computer.',
  '',
  'Lovelace wrote the first published algorithm for the Analytical Engine.',
].join('\n');

const DATASETS = [
  ['11111111-1111-4111-8111-111111111111', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'],
  ['22222222-2222-4222-8222-222222222222', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'],
] as const;

async function setup(env: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'engram-neo4j-engine-'));
  dirs.push(root);
  const logs: string[] = [];
  const config = loadConfig(
    { REQUIRE_AUTHENTICATION: 'true', SYSTEM_ROOT_DIRECTORY: join(root, 'system'), DATA_ROOT_DIRECTORY: join(root, 'data'), ALLOW_CYPHER_QUERY: 'true', ...env },
    root,
  );
  const store = openRelationalStore(config);
  await store.migrate();
  const databases = DatasetDatabases.create(config, store.db, undefined);
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  const engine = new MemoryEngine(config, store.db, logger, databases, new OfflineModel(), new HashingEmbedder());
  const now = new Date().toISOString();
  const datasets: DatasetInfo[] = [];
  for (const [id, owner] of DATASETS) {
    await store.db.insertInto('datasets').values({ id, name: `ds_${id.slice(0, 4)}`, owner_id: owner, tenant_id: null, created_at: now, updated_at: now }).execute();
    datasets.push({ id, ownerId: owner, name: `ds_${id.slice(0, 4)}`, tenantId: null });
  }
  return {
    store,
    engine,
    datasets,
    logs,
    async close() {
      await databases.close();
      await store.close();
    },
  };
}

const request = (type: 'CHUNKS' | 'GRAPH_COMPLETION', query: string, onlyContext: boolean) => ({ type, query, topK: 5, systemPrompt: 'Answer briefly.', onlyContext });

describe('neo4j_aura_dev: a dataset on its own (stand-in) Aura instance, through the engine', () => {
  it('add → cognify → search → delete; the graph lands in the instance; the row holds a Fernet token', async () => {
    const instancePassword = `aura-${randomBytes(12).toString('hex')}`;
    const bolt = await BoltStandIn.start({ username: 'neo4j', password: instancePassword });
    // The handler takes the instance id from the first label of the URL's host, as the reference
    // does: on loopback that is "127".
    const aura = await startAuraStandIn({
      instance: () => ({ id: '127', connection_url: bolt.routingUrl, username: 'neo4j', password: instancePassword }),
      // Deleting an instance deletes its database.
      onDelete: async () => {
        await bolt.query('MATCH (n) DETACH DELETE n');
      },
    });
    const t = await setup({
      ENABLE_BACKEND_ACCESS_CONTROL: 'true',
      GRAPH_DATABASE_PROVIDER: 'neo4j',
      NEO4J_CLIENT_ID: 'client-id',
      NEO4J_CLIENT_SECRET: 'client-secret',
      NEO4J_TENANT_ID: 'tenant-1',
      NEO4J_AURA_API_URL: aura.url,
      NEO4J_AURA_POLL_INTERVAL_MS: '5',
      NEO4J_ENCRYPTION_KEY: 'engine-test-key',
    });
    try {
      const [a] = t.datasets as [DatasetInfo];
      const rows = await t.engine.ingest(a, a.ownerId, null, [{ kind: 'text', text: DOC }], null);
      assert.equal(rows.length, 1);
      const run = await t.engine.cognify(a, a.ownerId);
      assert.equal(run.status, 'PipelineRunCompleted');

      // The dataset_database row: the instance's URL, and its password only as a Fernet token.
      const row = await t.store.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', a.id).executeTakeFirstOrThrow();
      assert.equal(row.graph_dataset_database_handler, 'neo4j_aura_dev');
      assert.equal(row.graph_database_provider, 'neo4j');
      assert.equal(row.graph_database_url, bolt.routingUrl);
      const info = JSON.parse(row.graph_database_connection_info) as Record<string, string>;
      assert.ok(isFernetToken(info.graph_database_password!), 'a Fernet token');
      assert.equal(FernetKeyring.fromSecrets('engine-test-key').decrypt(info.graph_database_password!), instancePassword);
      assert.ok(!JSON.stringify(row).includes(instancePassword), 'no plaintext password in the row');
      assert.ok(!t.logs.join('\n').includes(instancePassword), 'no password in the logs');

      // The graph is in the instance's database, under the dataset's id.
      const [{ c: nodes } = { c: 0 }] = await bolt.query('MATCH (n:Node) WHERE n.dataset_id = $d RETURN count(n) AS c', { d: a.id });
      const [{ c: edges } = { c: 0 }] = await bolt.query('MATCH (:Node)-[e:EDGE]->(:Node) RETURN count(e) AS c');
      assert.ok(Number(nodes) > 5, `nodes in the instance: ${nodes}`);
      assert.ok(Number(edges) > 0);
      assert.deepEqual(await t.engine.databases.with(a, ({ graph }) => graph.counts(a.id)), { nodes: Number(nodes), edges: Number(edges) });
      const types = (await bolt.query('MATCH (n:Node) RETURN DISTINCT n.type AS t')).map((r) => r.t).sort();
      for (const type of ['DocumentChunk', 'Entity', 'TextDocument', 'TextSummary']) assert.ok(types.includes(type), `${type} in ${types.join(', ')}`);
      assert.ok(bolt.stats.authenticated > 0 && bolt.stats.routes > 0, 'the store connected with the decrypted password over a routing URL');

      // Search: chunks from the vectors, graph completion context from the graph in the instance.
      const chunks = searchResultOf(await searchDataset(t.engine, a, request('CHUNKS', 'Analytical Engine', true)), true) as Record<string, unknown>[];
      assert.ok(chunks.length > 0);
      assert.ok(chunks.some((c) => String(c.text).includes('Analytical Engine')));
      const queriesBefore = bolt.stats.queries;
      const context = searchResultOf(await searchDataset(t.engine, a, request('GRAPH_COMPLETION', 'Who worked with Babbage?', true)), true);
      assert.equal(typeof context, 'string');
      assert.match(String(context), /Babbage/);
      assert.ok(bolt.stats.queries > queriesBefore, 'graph completion read the graph from the instance');
      const answer = searchResultOf(await searchDataset(t.engine, a, request('GRAPH_COMPLETION', 'Who worked with Babbage?', false)), false) as string[];
      assert.equal(answer.length, 1);
      assert.match(answer[0]!, /Babbage/);
      // Cypher runs read-only on the instance.
      const cypher = (await searchDataset(t.engine, a, { type: 'CYPHER' as never, query: 'MATCH (n:Node) RETURN count(n) AS c', topK: 5, systemPrompt: '', onlyContext: true })).context;
      assert.deepEqual(cypher, [{ c: Number(nodes) }]);
      assert.equal(bolt.stats.modes.at(-1), 'r');

      // Deleting the dataset deletes the instance (and so its graph) and the row.
      await t.engine.deleteDataset(a);
      assert.ok(aura.seen.some((s) => s.method === 'DELETE' && s.path === '/v1/instances/127' && s.auth === 'Bearer aura-access-token'));
      assert.deepEqual(await bolt.query('MATCH (n:Node) RETURN count(n) AS c'), [{ c: 0 }]);
      assert.equal(await t.store.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', a.id).executeTakeFirst(), undefined);
    } finally {
      await t.close();
      await aura.close();
      await bolt.close();
    }
  });

  it('an instance refusing the stored credentials is a clear error, never showing the password', async () => {
    const bolt = await BoltStandIn.start({ username: 'neo4j', password: 'the-real-one' });
    const aura = await startAuraStandIn({ instance: () => ({ id: '127', connection_url: bolt.url, username: 'neo4j', password: 'a-stale-password' }) });
    const t = await setup({
      ENABLE_BACKEND_ACCESS_CONTROL: 'true',
      GRAPH_DATABASE_PROVIDER: 'neo4j',
      NEO4J_CLIENT_ID: 'client-id',
      NEO4J_CLIENT_SECRET: 'client-secret',
      NEO4J_TENANT_ID: 'tenant-1',
      NEO4J_AURA_API_URL: aura.url,
      NEO4J_AURA_POLL_INTERVAL_MS: '5',
    });
    try {
      const [a] = t.datasets as [DatasetInfo];
      await assert.rejects(t.engine.databases.with(a, ({ graph }) => graph.counts(a.id)), (error: Error) => {
        assert.match(error.message, /refused the credentials of user "neo4j" \(Neo\.ClientError\.Security\.Unauthorized\)/);
        assert.ok(!error.message.includes('a-stale-password'));
        return true;
      });
      assert.equal(bolt.stats.authFailures, 1);
    } finally {
      await t.close();
      await aura.close();
      await bolt.close();
    }
  });
});

describe('GRAPH_DATABASE_PROVIDER=neo4j in single-user mode: one shared Neo4j', () => {
  it('two datasets with the same document stay apart; deleting one leaves the other', async () => {
    const bolt = await BoltStandIn.start({ username: 'shared-user', password: 'shared-pw' });
    const t = await setup({
      ENABLE_BACKEND_ACCESS_CONTROL: 'false',
      GRAPH_DATABASE_PROVIDER: 'neo4j',
      GRAPH_DATABASE_URL: bolt.url,
      GRAPH_DATABASE_USERNAME: 'shared-user',
      GRAPH_DATABASE_PASSWORD: 'shared-pw',
    });
    try {
      const [a, b] = t.datasets as [DatasetInfo, DatasetInfo];
      await t.engine.ingest(a, a.ownerId, null, [{ kind: 'text', text: DOC }], null);
      await t.engine.ingest(b, b.ownerId, null, [{ kind: 'text', text: DOC }, { kind: 'text', text: 'Cats purr and sleep a lot.' }], null);
      await t.engine.cognify(a, a.ownerId);
      await t.engine.cognify(b, b.ownerId);
      const counts = async (ds: DatasetInfo) => t.engine.databases.with(ds, ({ graph }) => graph.counts(ds.id));
      const ca = await counts(a);
      const cb = await counts(b);
      assert.ok(cb.nodes > ca.nodes);
      const total = await bolt.query('MATCH (n:Node) RETURN count(n) AS c');
      assert.deepEqual(total, [{ c: ca.nodes + cb.nodes }], 'both datasets in the one shared database');
      const seen = (await searchDataset(t.engine, a, { type: 'CYPHER' as never, query: 'MATCH (n) RETURN n.properties AS p', topK: 5, systemPrompt: '', onlyContext: true })).context as Record<string, unknown>[];
      assert.equal(seen.length, ca.nodes, 'Cypher sees only dataset A');
      assert.ok(seen.every((r) => !String(r.p).includes('purr')));
      const context = searchResultOf(await searchDataset(t.engine, a, request('GRAPH_COMPLETION', 'Do cats purr?', true)), true);
      assert.ok(!String(context).includes('purr'), 'B-only content never reaches A');
      await t.engine.deleteDataset(a);
      assert.deepEqual(await counts(a), { nodes: 0, edges: 0 });
      assert.deepEqual(await counts(b), cb);
    } finally {
      await t.close();
      await bolt.close();
    }
  });
});
