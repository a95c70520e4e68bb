import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import neo4j from 'neo4j-driver';
import { Neo4jGraphStore } from '../../../src/storage/stores/neo4j.js';
import { Neo4jConnectionError, safeUrl } from '../../../src/storage/stores/neo4j-connection.js';
import { fromNeo4jValue } from '../../../src/storage/stores/neo4j-values.js';
import { BoltStandIn, type BoltStandInOptions } from '../../helpers/bolt/index.js';
import { LIMITS, edge, graphStoreContract, node } from '../../helpers/graph-store-contract.js';
import { CypherSandbox } from '../../../src/storage/cypher-sandbox/sandbox.js';

/** Where the stores under test run user Cypher (D18). */
const sandbox = new CypherSandbox();

/**
 * The Neo4j graph store through the official driver against the Bolt stand-in (the real Bolt
 * protocol; every statement really runs on the stand-in's Kuzu): the whole GraphStore contract in
 * both modes (shared: many datasets in one database, Cypher confined to an in-memory copy of the
 * dataset; single dataset: Cypher read-only on the server), then what only a server store has:
 * credentials, protocol versions, routing URLs, value conversion, sessions closed.
 */

const USER = 'engram-user';
const PASSWORD = 'S3cret-bolt-pw!';

const standIns: BoltStandIn[] = [];
after(async () => {
  for (const s of standIns) await s.close();
});
async function standIn(options: BoltStandInOptions = {}): Promise<BoltStandIn> {
  const s = await BoltStandIn.start({ username: USER, password: PASSWORD, ...options });
  standIns.push(s);
  return s;
}

graphStoreContract('Neo4jGraphStore shared (bolt://, Bolt 5)', {
  shared: true,
  open: async () => Neo4jGraphStore.open({ url: (await standIn()).url, username: USER, password: PASSWORD, cypherRunner: sandbox }),
});

graphStoreContract('Neo4jGraphStore single dataset (neo4j:// routing, Bolt 5)', {
  shared: false,
  open: async () =>
    Neo4jGraphStore.open({
      url: (await standIn()).routingUrl,
      username: USER,
      password: PASSWORD,
      database: 'neo4j',
      singleDataset: true,
      cypherRunner: sandbox,
    }),
});

describe('Neo4jGraphStore against the Bolt stand-in', () => {
  test('writes land in the server as the documented layout, with parameters only', async () => {
    const s = await standIn();
    const store = await Neo4jGraphStore.open({ url: s.url, username: USER, password: PASSWORD, cypherRunner: sandbox });
    try {
      await store.upsertNodes('ds-x', [node('a', 'Entity', { quote: "it's" }), node('b')]);
      await store.upsertEdges('ds-x', [edge('a', 'b', 'knows', { edge_text: 't' })]);
      const rows = await s.query('MATCH (n:Node) RETURN n.pk AS pk, n.dataset_id AS d, n.properties AS p ORDER BY pk');
      assert.deepEqual(rows, [
        { pk: 'ds-x:a', d: 'ds-x', p: JSON.stringify({ quote: "it's" }) },
        { pk: 'ds-x:b', d: 'ds-x', p: '{}' },
      ]);
      assert.deepEqual(await s.query('MATCH (a:Node)-[e:EDGE]->(b:Node) RETURN a.id AS a, e.relationship_name AS r, b.id AS b'), [
        { a: 'a', r: 'knows', b: 'b' },
      ]);
      // No value is ever written into the statement text.
      assert.ok(s.stats.statements.length > 0);
      for (const statement of s.stats.statements) {
        assert.ok(!statement.includes('ds-x') && !statement.includes("it's"), `a value in the statement: ${statement}`);
      }
      assert.ok(
        s.stats.statements.some((q) => q.includes('UNWIND $rows AS r')),
        'batched writes',
      );
      assert.deepEqual(s.stats.schemaCommands, [
        'CREATE CONSTRAINT engram_node_pk IF NOT EXISTS FOR (n:Node) REQUIRE n.pk IS UNIQUE',
        'CREATE INDEX engram_node_dataset IF NOT EXISTS FOR (n:Node) ON (n.dataset_id)',
      ]);
    } finally {
      await store.close();
    }
  });

  test('a wrong password is refused with a clear error that never holds the password', async () => {
    const s = await standIn();
    await assert.rejects(Neo4jGraphStore.open({ url: s.url, username: USER, password: 'not-the-password', cypherRunner: sandbox }), (error: unknown) => {
      assert.ok(error instanceof Neo4jConnectionError);
      assert.equal(error.code, 'Neo.ClientError.Security.Unauthorized');
      assert.match(error.message, /refused the credentials of user "engram-user"/);
      assert.ok(error.message.includes(s.url));
      assert.ok(!error.message.includes('not-the-password') && !error.message.includes(PASSWORD));
      return true;
    });
    assert.equal(s.stats.authFailures, 1);
    assert.equal(s.stats.authenticated, 0);
    assert.equal(s.stats.queries, 0, 'nothing ran');
    await assert.rejects(
      Neo4jGraphStore.open({ url: s.url, username: 'someone-else', password: PASSWORD, cypherRunner: sandbox }),
      /refused the credentials of user "someone-else"/,
    );
    assert.equal(s.stats.authFailures, 2);
  });

  test('an unreachable server and an unknown database are clear errors', async () => {
    const s = await standIn();
    const port = s.port;
    const closed = await BoltStandIn.start();
    const deadPort = closed.port;
    await closed.close();
    await assert.rejects(Neo4jGraphStore.open({ url: `bolt://127.0.0.1:${deadPort}`, username: USER, password: PASSWORD }), (error: unknown) => {
      assert.ok(error instanceof Neo4jConnectionError);
      assert.match(error.message, /cannot connect to the Neo4j server at bolt:\/\/127\.0\.0\.1:\d+/);
      return true;
    });
    await assert.rejects(
      Neo4jGraphStore.open({ url: `bolt://127.0.0.1:${port}`, username: USER, password: PASSWORD, database: 'other' }),
      /Database does not exist/,
    );
    assert.equal(safeUrl('neo4j+s://user:pw@host:7687'), 'neo4j+s://host:7687');
  });

  for (const version of ['5.0', '4.4']) {
    test(`Bolt ${version} (credentials in HELLO${version === '4.4' ? ', Node without element id' : ''}) works end to end`, async () => {
      const s = await standIn({ versions: [version] });
      const store = await Neo4jGraphStore.open({ url: s.url, username: USER, password: PASSWORD, singleDataset: true, cypherRunner: sandbox });
      try {
        await store.upsertNodes('ds', [node('a', 'Entity', { k: 1 }), node('b')]);
        await store.upsertEdges('ds', [edge('a', 'b', 'knows')]);
        assert.deepEqual(await store.counts('ds'), { nodes: 2, edges: 1 });
        const [row] = await store.cypher('ds', "MATCH (a:Node {id: 'a'})-[e:EDGE]->(b:Node) RETURN a, e, b.id AS b", LIMITS);
        assert.equal((row?.a as Record<string, unknown>).properties, JSON.stringify({ k: 1 }));
        assert.equal((row?.e as Record<string, unknown>).relationship_name, 'knows');
        assert.equal(row?.b, 'b');
        assert.ok(s.stats.versions.length > 0 && s.stats.versions.every((v) => v === version));
        await assert.rejects(Neo4jGraphStore.open({ url: s.url, username: USER, password: 'wrong', cypherRunner: sandbox }), /refused the credentials/);
      } finally {
        await store.close();
      }
    });
  }

  test('single-dataset Cypher runs on the server in a read transaction with the time limit', async () => {
    const s = await standIn();
    const store = await Neo4jGraphStore.open({ url: s.url, username: USER, password: PASSWORD, singleDataset: true, cypherRunner: sandbox });
    try {
      await store.upsertNodes('ds', [node('a')]);
      const before = s.stats.queries;
      await store.cypher('ds', 'MATCH (n:Node) RETURN n.id AS id', { timeoutMs: 1234, maxRows: 10 });
      assert.equal(s.stats.queries, before + 1, 'one statement, on the server');
      assert.equal(s.stats.statements.at(-1), 'MATCH (n:Node) RETURN n.id AS id');
      assert.equal(s.stats.modes.at(-1), 'r');
      assert.equal(s.stats.txTimeouts.at(-1), 1234);
    } finally {
      await store.close();
    }
  });

  test("shared-mode Cypher never reaches the server: the dataset is read with the store's own statements", async () => {
    const s = await standIn();
    const store = await Neo4jGraphStore.open({ url: s.url, username: USER, password: PASSWORD, cypherRunner: sandbox });
    try {
      await store.upsertNodes('ds-1', [node('a')]);
      await store.upsertNodes('ds-2', [node('secret')]);
      const rows = await store.cypher('ds-1', 'MATCH (n) RETURN n.id AS id', LIMITS);
      assert.deepEqual(rows, [{ id: 'a' }]);
      assert.ok(!s.stats.statements.includes('MATCH (n) RETURN n.id AS id'));
    } finally {
      await store.close();
    }
  });

  test('server values come back as plain JSON (integers, floats, nodes, relationships, paths, temporals, lists, maps)', async () => {
    const s = await standIn();
    const store = await Neo4jGraphStore.open({ url: s.url, username: USER, password: PASSWORD, singleDataset: true, cypherRunner: sandbox });
    try {
      await store.upsertNodes('ds', [node('a'), node('b')]);
      await store.upsertEdges('ds', [edge('a', 'b', 'knows', { edge_text: 't' })]);
      const [row] = await store.cypher(
        'ds',
        "MATCH p = (a:Node {id: 'a'})-[e:EDGE]->(b:Node) RETURN a, e, p, count(*) AS c, cast(9007199254740993 AS INT128) AS big, 2.5 AS f, timestamp('2024-01-02 03:04:05.678') AS ts, date('2024-05-06') AS d, [1, 2] AS list, {k: 'v', n: [true, null]} AS m",
        LIMITS,
      );
      assert.ok(row);
      assert.deepEqual(JSON.parse(JSON.stringify(row)), row, 'plain JSON only');
      assert.equal(row.c, 1);
      assert.equal(row.big, '9007199254740993');
      assert.equal(row.f, 2.5);
      assert.equal(row.ts, '2024-01-02T03:04:05.678000000Z');
      assert.equal(row.d, '2024-05-06');
      assert.deepEqual(row.list, [1, 2]);
      assert.deepEqual(row.m, { k: 'v', n: [true, null] });
      const a = row.a as Record<string, unknown>;
      const e = row.e as Record<string, unknown>;
      assert.equal(a._label, 'Node');
      assert.equal(typeof a._id, 'string');
      assert.equal(a.pk, 'ds:a');
      assert.equal(e._label, 'EDGE');
      assert.equal(e.relationship_name, 'knows');
      assert.equal(e._src, a._id);
      const p = row.p as { _nodes: Record<string, unknown>[]; _rels: Record<string, unknown>[] };
      assert.deepEqual(
        p._nodes.map((n) => n.id),
        ['a', 'b'],
      );
      assert.deepEqual(
        p._rels.map((r) => r.relationship_name),
        ['knows'],
      );
    } finally {
      await store.close();
    }
  });

  test('fromNeo4jValue converts driver values', () => {
    assert.equal(fromNeo4jValue(neo4j.int(42)), 42);
    assert.equal(fromNeo4jValue(neo4j.int('9223372036854775807')), '9223372036854775807');
    assert.equal(fromNeo4jValue(12n), 12);
    assert.equal(fromNeo4jValue(Number.NaN), null);
    assert.equal(fromNeo4jValue(new neo4j.types.DateTime(2024, 1, 2, 3, 4, 5, 6_000_000, 0)), '2024-01-02T03:04:05.006000000Z');
    assert.equal(fromNeo4jValue(new neo4j.types.Duration(1, 2, 3, 4)), 'P1M2DT3.000000004S');
    assert.deepEqual(fromNeo4jValue(new neo4j.types.Point(7203, 1, 2)), { srid: 7203, x: 1, y: 2 });
    assert.equal(fromNeo4jValue(new Int8Array([1, 2, -1])), 'AQL/');
    assert.deepEqual(fromNeo4jValue(new neo4j.types.Node(neo4j.int(1), ['Node'], { id: 'x', n: neo4j.int(3) }, 'e1')), {
      _id: 'e1',
      _label: 'Node',
      id: 'x',
      n: 3,
    });
    assert.deepEqual(fromNeo4jValue({ list: [neo4j.int(1), null], nested: { t: new neo4j.types.Date(2024, 5, 6) } }), {
      list: [1, null],
      nested: { t: '2024-05-06' },
    });
  });

  test('sessions are closed: connections stay within the pool, and close() ends them all', async () => {
    const s = await standIn();
    const store = await Neo4jGraphStore.open({ url: s.url, username: USER, password: PASSWORD, maxConnectionPoolSize: 3, cypherRunner: sandbox });
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      const ds = `pool-${i % 6}`;
      work.push(store.upsertNodes(ds, [node(`n${i}`)]), store.counts(ds), store.getGraph(ds));
    }
    await Promise.all(work);
    assert.ok(s.stats.connections <= 4, `connections opened: ${s.stats.connections}`);
    assert.ok(s.stats.queries >= 90);
    await store.close();
    await store.close();
    await assert.rejects(store.counts('pool-0'), /closed/);
    for (let i = 0; i < 50 && s.stats.open > 0; i++) await new Promise((done) => setTimeout(done, 20));
    assert.equal(s.stats.open, 0, 'every connection closed');
  });
});

describe('Neo4jGraphStore deleteDataset in batches', () => {
  let s: BoltStandIn;
  let store: Neo4jGraphStore;
  before(async () => {
    s = await standIn();
    store = await Neo4jGraphStore.open({ url: s.url, username: USER, password: PASSWORD, cypherRunner: sandbox });
  });
  after(async () => {
    await store.close();
  });
  test('more nodes than one delete transaction are all removed, another dataset kept', async () => {
    const many = Array.from({ length: 5200 }, (_, i) => node(`n${i}`));
    await store.upsertNodes('big', many);
    await store.upsertEdges(
      'big',
      many.slice(1).map((n, i) => edge(`n${i}`, n.id)),
    );
    await store.upsertNodes('keep', [node('n1')]);
    const before = s.stats.queries;
    await store.deleteDataset('big');
    assert.ok(s.stats.queries - before >= 2, 'more than one delete statement');
    assert.deepEqual(await store.counts('big'), { nodes: 0, edges: 0 });
    assert.deepEqual(await store.counts('keep'), { nodes: 1, edges: 0 });
    assert.deepEqual(await s.query('MATCH (n:Node) RETURN count(n) AS c'), [{ c: 1 }]);
  });
});
