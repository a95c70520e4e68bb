import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GraphQueryTimeoutError, KuzuGraphStore, toJsonValue } from '../../../src/storage/stores/kuzu.js';
import type { GraphEdge } from '../../../src/storage/types.js';
import { EXPENSIVE, LIMITS, edge, graphStoreContract, node } from '../../helpers/graph-store-contract.js';
import { CypherSandbox } from '../../../src/storage/cypher-sandbox/sandbox.js';

/** Where the stores under test run user Cypher (D18). */
const sandbox = new CypherSandbox();

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-kuzu-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// The contract every graph store is held to (the Neo4j store runs it too, in test/unit/neo4j-store.test.ts):
// writes, reads, batches, call order, Cypher's rows, limits, freshness and read-only refusal, and
// dataset isolation in memory. What follows is only what is Kuzu's own.
graphStoreContract('KuzuGraphStore in memory', {
  shared: true,
  readOnlyRefusal: /read-only/i,
  open: () => KuzuGraphStore.openInMemory({ cypherRunner: sandbox }),
});
graphStoreContract('KuzuGraphStore single dataset', {
  shared: false,
  readOnlyRefusal: /read-only/i,
  open: () => KuzuGraphStore.open(join(tempDir(), 'contract.kuzu'), { singleDataset: true, cypherRunner: sandbox }),
});

describe('KuzuGraphStore (in memory)', () => {
  let store: KuzuGraphStore;
  before(async () => {
    store = await KuzuGraphStore.openInMemory({ cypherRunner: sandbox });
  });
  after(async () => {
    await store.close();
  });

  test("cypher answers Kuzu's own values (INT128, TIMESTAMP, BLOB, internal ids) as plain JSON", async () => {
    const ds = 'ds-cypher';
    await store.upsertNodes(
      ds,
      Array.from({ length: 30 }, (_, i) => node(`q${i}`, 'Entity', { i })),
    );
    const [row] = await store.cypher(
      ds,
      "MATCH (n:Node {id: 'q1'}) RETURN n, cast(9007199254740993 AS INT128) AS big, cast(5 AS INT128) AS small, timestamp('2024-01-02 03:04:05.678') AS ts, BLOB('abc') AS bytes, [1, 2] AS list, {k: 'v'} AS struct",
      LIMITS,
    );
    assert.ok(row);
    // The rows survive a JSON round trip unchanged: plain JSON only.
    assert.deepEqual(JSON.parse(JSON.stringify(row)), row);
    assert.equal(row.big, '9007199254740993');
    assert.equal(row.small, 5);
    assert.equal(row.ts, '2024-01-02T03:04:05.678Z');
    assert.equal(row.bytes, Buffer.from('abc').toString('base64'));
    assert.deepEqual(row.list, [1, 2]);
    assert.deepEqual(row.struct, { k: 'v' });
    const n = row.n as Record<string, unknown>;
    assert.equal(n._label, 'Node');
    assert.ok(n._id !== null && typeof n._id === 'object');
    assert.equal(n.id, 'q1');
    assert.equal(n.dataset_id, ds);
    assert.equal(n.properties, JSON.stringify({ i: 1 }));
  });

  test('cypher relationships and paths come back in Kuzu shape', async () => {
    const ds = 'ds-paths';
    await store.upsertNodes(ds, [node('a'), node('b')]);
    await store.upsertEdges(ds, [edge('a', 'b', 'knows', { edge_text: 't' })]);
    const [row] = await store.cypher(ds, 'MATCH (a:Node)-[e:EDGE]->(b:Node) RETURN e', LIMITS);
    const e = row?.e as Record<string, unknown>;
    assert.equal(e._label, 'EDGE');
    assert.equal(e.relationship_name, 'knows');
    assert.equal(e.properties, JSON.stringify({ edge_text: 't' }));
    assert.ok(e._src && e._dst);
    const [path] = await store.cypher(ds, 'MATCH p = (a:Node)-[:EDGE*1..2]->(b:Node) RETURN p', LIMITS);
    const p = path?.p as { _nodes: unknown[]; _rels: unknown[] };
    assert.equal(p._nodes.length, 2);
    assert.equal(p._rels.length, 1);
  });
});

describe('KuzuGraphStore on a file', () => {
  test('open creates the parent directory; the data survives a reopen; close is idempotent', async () => {
    const path = join(tempDir(), 'databases', 'owner', 'dataset.kuzu');
    const first = await KuzuGraphStore.open(path, { cypherRunner: sandbox });
    assert.ok(existsSync(join(path, '..')));
    await first.upsertNodes('ds', [node('a', 'Entity', { text: 'héllo' }), node('b')]);
    await first.upsertEdges('ds', [edge('a', 'b', 'knows', { edge_text: 'x' })]);
    await first.close();
    await first.close();
    await assert.rejects(first.counts('ds'), /closed/);
    await assert.rejects(first.cypher('ds', 'RETURN 1', LIMITS), /closed/);

    const second = await KuzuGraphStore.open(path, { cypherRunner: sandbox });
    try {
      assert.deepEqual(await second.counts('ds'), { nodes: 2, edges: 1 });
      assert.deepEqual(await second.getNodes('ds', ['a']), [node('a', 'Entity', { text: 'héllo' })]);
      assert.deepEqual((await second.getGraph('ds')).edges, [edge('a', 'b', 'knows', { edge_text: 'x' })]);
    } finally {
      await second.close();
    }
  });

  test('open refuses an empty or in-memory path', async () => {
    await assert.rejects(KuzuGraphStore.open(''), /path/);
    await assert.rejects(KuzuGraphStore.open(':memory:'), /path/);
  });

  test('close waits for the calls under way', async () => {
    const store = await KuzuGraphStore.open(join(tempDir(), 'g.kuzu'), { cypherRunner: sandbox });
    const write = store.upsertNodes(
      'ds',
      Array.from({ length: 3000 }, (_, i) => node(`n${i}`)),
    );
    const closing = store.close();
    await write;
    await closing;
    const reopened = await KuzuGraphStore.open(join(dirs[dirs.length - 1]!, 'g.kuzu'), { cypherRunner: sandbox });
    try {
      assert.deepEqual(await reopened.counts('ds'), { nodes: 3000, edges: 0 });
    } finally {
      await reopened.close();
    }
  });

  test("singleDataset mode: Cypher sees the dataset read-only and within its limits; a query's time limit does not carry over to the store's own writes", async () => {
    const path = join(tempDir(), 'single.kuzu');
    const store = await KuzuGraphStore.open(path, { singleDataset: true, cypherRunner: sandbox });
    try {
      await store.upsertNodes('ds', [node('a'), node('b')]);
      await store.upsertEdges('ds', [edge('a', 'b')]);
      assert.deepEqual(await store.cypher('ds', 'MATCH (n:Node) RETURN n.id AS id ORDER BY id', LIMITS), [{ id: 'a' }, { id: 'b' }]);
      assert.equal((await store.cypher('ds', 'UNWIND range(1, 100) AS x RETURN x', { timeoutMs: 5000, maxRows: 3 })).length, 3);
      await assert.rejects(store.cypher('ds', "CREATE (:Node {pk: 'x'})", LIMITS), /read-only/i);
      await assert.rejects(store.cypher('ds', "COMMIT; CREATE (:Node {pk: 'x'})", LIMITS), /multiple statements/);
      await assert.rejects(store.cypher('ds', 'MATCH (n:Node) DETACH DELETE n', LIMITS), /read-only/i);
      await assert.rejects(store.cypher('ds', EXPENSIVE, { timeoutMs: 50, maxRows: 1 }), GraphQueryTimeoutError);
      // The query's time limit does not carry over to the store's own statements.
      const many = Array.from({ length: 5000 }, (_, i) => node(`m${i}`));
      await store.upsertNodes('ds', many);
      await store.upsertEdges(
        'ds',
        many.slice(1).map((n, i) => edge(`m${i}`, n.id)),
      );
      assert.deepEqual(await store.counts('ds'), { nodes: 5002, edges: 5000 });
    } finally {
      await store.close();
    }
  });
});

describe('KuzuGraphStore performance', () => {
  test('10,000 nodes and 20,000 edges', async (t) => {
    const store = await KuzuGraphStore.open(join(tempDir(), 'perf.kuzu'), { cypherRunner: sandbox });
    try {
      const ds = 'perf';
      const nodes = Array.from({ length: 10_000 }, (_, i) =>
        node(`node-${i}`, i % 10 === 0 ? 'EntityType' : 'Entity', { description: `description of node ${i}`, chunk_index: i }),
      );
      const edges: GraphEdge[] = [];
      for (let i = 0; i < 10_000; i++) {
        edges.push(edge(`node-${i}`, `node-${(i + 1) % 10_000}`, 'next', { edge_text: `edge ${i}` }));
        edges.push(edge(`node-${i}`, `node-${(i * 7 + 3) % 10_000}`, 'related_to'));
      }
      let started = performance.now();
      await store.upsertNodes(ds, nodes);
      const nodeMs = performance.now() - started;
      started = performance.now();
      await store.upsertEdges(ds, edges);
      const edgeMs = performance.now() - started;
      assert.deepEqual(await store.counts(ds), { nodes: 10_000, edges: 20_000 });

      started = performance.now();
      await store.upsertNodes(ds, nodes);
      const nodesAgainMs = performance.now() - started;
      started = performance.now();
      await store.upsertEdges(ds, edges);
      const againMs = performance.now() - started;
      started = performance.now();
      await store.upsertEdges(
        ds,
        edges.map((e) => ({ ...e, properties: { ...e.properties, weight: 2 } })),
      );
      const changedMs = performance.now() - started;
      assert.deepEqual(await store.counts(ds), { nodes: 10_000, edges: 20_000 });

      started = performance.now();
      const graph = await store.getGraph(ds);
      const graphMs = performance.now() - started;
      assert.equal(graph.nodes.length, 10_000);
      assert.equal(graph.edges.length, 20_000);

      started = performance.now();
      const [count] = await store.cypher(ds, 'MATCH (a:Node)-[e:EDGE]->(b:Node) RETURN count(e) AS c', LIMITS);
      const cypherMs = performance.now() - started;
      assert.deepEqual(count, { c: 20_000 });
      started = performance.now();
      const [weights] = await store.cypher(ds, 'MATCH ()-[e:EDGE]->() WHERE e.properties CONTAINS \'"weight":2\' RETURN count(e) AS c', LIMITS);
      const keptMs = performance.now() - started;
      assert.deepEqual(weights, { c: 20_000 });

      t.diagnostic(
        `upsert 10,000 nodes: ${nodeMs.toFixed(0)} ms; 20,000 edges: ${edgeMs.toFixed(0)} ms; ` +
          `the same nodes again: ${nodesAgainMs.toFixed(0)} ms; the same edges again: ${againMs.toFixed(0)} ms; ` +
          `the edges with new properties: ${changedMs.toFixed(0)} ms; getGraph: ${graphMs.toFixed(0)} ms; ` +
          `cypher with the dataset copy: ${cypherMs.toFixed(0)} ms; cypher on the kept copy: ${keptMs.toFixed(0)} ms`,
      );
    } finally {
      await store.close();
    }
  });
});

describe('toJsonValue', () => {
  test('converts Kuzu values to plain JSON', () => {
    assert.equal(toJsonValue(5n), 5);
    assert.equal(toJsonValue(-(2n ** 60n)), (-(2n ** 60n)).toString());
    assert.equal(toJsonValue(new Date('2024-05-06T07:08:09.010Z')), '2024-05-06T07:08:09.010Z');
    assert.equal(toJsonValue(new Date(Number.NaN)), null);
    assert.equal(toJsonValue(Number.POSITIVE_INFINITY), null);
    assert.equal(toJsonValue(undefined), null);
    assert.equal(toJsonValue(Buffer.from([1, 2, 255])), 'AQL/');
    assert.deepEqual(toJsonValue({ _id: { offset: 1n, table: 0 }, _label: 'Node', when: new Date(0), list: [1n, null] }), {
      _id: { offset: 1, table: 0 },
      _label: 'Node',
      when: '1970-01-01T00:00:00.000Z',
      list: [1, null],
    });
  });
});
