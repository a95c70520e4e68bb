import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { DatasetInfo } from '../../src/memory/engine.js';
import { searchDataset, searchResultOf } from '../../src/memory/search.js';
import { FernetKeyring, isFernetToken } from '../../src/storage/fernet.js';
import { startAuraStandIn } from '../helpers/aura-standin.js';
import { BoltStandIn } from '../helpers/bolt/index.js';
import { DOC, removeEngineRoots, searchRequest, setupEngine } from '../helpers/engine.js';

/**
 * GRAPH_DATABASE_PROVIDER=neo4j end to end below HTTP, in both storage modes:
 * - multi-tenant with `neo4j_aura_dev`: the Aura API stand-in provisions an "instance" whose
 *   connection URL is a Bolt stand-in; add → cognify → search → delete runs through the engine, the
 *   graph lands in that instance's Kuzu, and the row holds the password as a Fernet token only;
 * - single-user: the shared Neo4j at GRAPH_DATABASE_URL holds two datasets apart.
 */

after(removeEngineRoots);

const setup = (env: Record<string, string>) => setupEngine(env, { captureLogs: true });
const request = searchRequest;

/** Multi-tenant mode with the neo4j_aura_dev handler on the Aura API stand-in at `auraUrl`. */
const auraEnv = (auraUrl: string): Record<string, string> => ({
  ENABLE_BACKEND_ACCESS_CONTROL: 'true',
  GRAPH_DATABASE_PROVIDER: 'neo4j',
  NEO4J_CLIENT_ID: 'client-id',
  NEO4J_CLIENT_SECRET: 'client-secret',
  NEO4J_TENANT_ID: 'tenant-1',
  NEO4J_AURA_API_URL: auraUrl,
  NEO4J_AURA_POLL_INTERVAL_MS: '5',
});

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
    const t = await setup({ ...auraEnv(aura.url), NEO4J_ENCRYPTION_KEY: 'engine-test-key' });
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
      const chunks = searchResultOf(await searchDataset(t.search, a, request('CHUNKS', 'Analytical Engine', true)), true) as Record<string, unknown>[];
      assert.ok(chunks.length > 0);
      assert.ok(chunks.some((c) => String(c.text).includes('Analytical Engine')));
      const queriesBefore = bolt.stats.queries;
      const context = searchResultOf(await searchDataset(t.search, a, request('GRAPH_COMPLETION', 'Who worked with Babbage?', true)), true);
      assert.equal(typeof context, 'string');
      assert.match(String(context), /Babbage/);
      assert.ok(bolt.stats.queries > queriesBefore, 'graph completion read the graph from the instance');
      const answer = searchResultOf(await searchDataset(t.search, a, request('GRAPH_COMPLETION', 'Who worked with Babbage?', false)), false) as string[];
      assert.equal(answer.length, 1);
      assert.match(answer[0]!, /Babbage/);
      // Cypher runs read-only on the instance.
      const cypher = (
        await searchDataset(t.search, a, {
          type: 'CYPHER' as never,
          query: 'MATCH (n:Node) RETURN count(n) AS c',
          topK: 5,
          systemPrompt: '',
          onlyContext: true,
        })
      ).context;
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
    const t = await setup(auraEnv(aura.url));
    try {
      const [a] = t.datasets as [DatasetInfo];
      await assert.rejects(
        t.engine.databases.with(a, ({ graph }) => graph.counts(a.id)),
        (error: Error) => {
          assert.match(error.message, /refused the credentials of user "neo4j" \(Neo\.ClientError\.Security\.Unauthorized\)/);
          assert.ok(!error.message.includes('a-stale-password'));
          return true;
        },
      );
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
      await t.engine.ingest(
        b,
        b.ownerId,
        null,
        [
          { kind: 'text', text: DOC },
          { kind: 'text', text: 'Cats purr and sleep a lot.' },
        ],
        null,
      );
      await t.engine.cognify(a, a.ownerId);
      await t.engine.cognify(b, b.ownerId);
      const counts = async (ds: DatasetInfo) => t.engine.databases.with(ds, ({ graph }) => graph.counts(ds.id));
      const ca = await counts(a);
      const cb = await counts(b);
      assert.ok(cb.nodes > ca.nodes);
      const total = await bolt.query('MATCH (n:Node) RETURN count(n) AS c');
      assert.deepEqual(total, [{ c: ca.nodes + cb.nodes }], 'both datasets in the one shared database');
      const seen = (
        await searchDataset(t.search, a, { type: 'CYPHER' as never, query: 'MATCH (n) RETURN n.properties AS p', topK: 5, systemPrompt: '', onlyContext: true })
      ).context as Record<string, unknown>[];
      assert.equal(seen.length, ca.nodes, 'Cypher sees only dataset A');
      assert.ok(seen.every((r) => !String(r.p).includes('purr')));
      const context = searchResultOf(await searchDataset(t.search, a, request('GRAPH_COMPLETION', 'Do cats purr?', true)), true);
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
