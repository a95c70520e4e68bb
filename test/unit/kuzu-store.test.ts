import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GraphQueryTimeoutError, KuzuGraphStore, toJsonValue } from '../../src/memory/stores/kuzu.js';
import type { GraphEdge, GraphNode } from '../../src/memory/stores/types.js';
import { graphStoreContract } from '../helpers/graph-store-contract.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'engram-kuzu-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const LIMITS = { timeoutMs: 10_000, maxRows: 1000 };
/** A cartesian product of 10^10 rows: far beyond any test's patience. */
const EXPENSIVE = 'UNWIND range(1, 100000) AS a UNWIND range(1, 100000) AS b RETURN count(*) AS c';

function node(id: string, type = 'Entity', properties: Record<string, unknown> = {}, name = `name-${id}`): GraphNode {
  return { id, name, type, properties };
}
function edge(source: string, target: string, relationship = 'related_to', properties: Record<string, unknown> = {}): GraphEdge {
  return { source, target, relationship, properties };
}
const sortById = (nodes: GraphNode[]): GraphNode[] => [...nodes].sort((a, b) => a.id.localeCompare(b.id));
const edgeKey = (e: GraphEdge): string => `${e.source}-${e.relationship}->${e.target}`;

// The contract every graph store is held to (the Neo4j store runs it too, in test/unit/neo4j-store.test.ts).
graphStoreContract('KuzuGraphStore in memory', { shared: true, open: () => KuzuGraphStore.openInMemory() });
graphStoreContract('KuzuGraphStore single dataset', { shared: false, open: () => KuzuGraphStore.open(join(tempDir(), 'contract.kuzu'), { singleDataset: true }) });

describe('KuzuGraphStore (in memory)', () => {
  let store: KuzuGraphStore;
  before(async () => {
    store = await KuzuGraphStore.openInMemory();
  });
  after(async () => {
    await store.close();
  });

  test('upsertNodes inserts, then replaces by id; created_at is kept and updated_at refreshed', async () => {
    const ds = 'ds-upsert';
    await store.upsertNodes(ds, [node('a', 'Entity', { description: 'first' }), node('b', 'EntityType')]);
    const [first] = await store.cypher(ds, "MATCH (n:Node {id: 'a'}) RETURN n.created_at AS c, n.updated_at AS u", LIMITS);
    assert.ok(first);
    assert.equal(first.c, first.u);
    assert.match(String(first.c), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // The timestamp keeps its time of day (not truncated to a date).
    assert.ok(Math.abs(Date.parse(String(first.c)) - Date.now()) < 60_000);

    await new Promise((done) => setTimeout(done, 20));
    await store.upsertNodes(ds, [{ id: 'a', name: 'renamed', type: 'Person', properties: { description: 'second', n: 2 } }]);
    const [again] = await store.getNodes(ds, ['a']);
    assert.deepEqual(again, { id: 'a', name: 'renamed', type: 'Person', properties: { description: 'second', n: 2 } });
    const [second] = await store.cypher(ds, "MATCH (n:Node {id: 'a'}) RETURN n.created_at AS c, n.updated_at AS u, n.pk AS pk, n.dataset_id AS d", LIMITS);
    assert.ok(second);
    assert.equal(second.c, first.c, 'created_at kept');
    assert.ok(Date.parse(String(second.u)) > Date.parse(String(first.u)), 'updated_at refreshed');
    assert.equal(second.pk, `${ds}:a`);
    assert.equal(second.d, ds);
    assert.deepEqual(await store.counts(ds), { nodes: 2, edges: 0 });
  });

  test('upsertNodes keeps the last occurrence of an id within one call', async () => {
    const ds = 'ds-dup';
    await store.upsertNodes(ds, [node('x', 'A', { v: 1 }), node('y'), node('x', 'B', { v: 2 })]);
    assert.deepEqual(await store.getNodes(ds, ['x']), [node('x', 'B', { v: 2 })]);
    assert.deepEqual(await store.counts(ds), { nodes: 2, edges: 0 });
    await store.upsertNodes(ds, []);
    assert.deepEqual(await store.counts(ds), { nodes: 2, edges: 0 });
  });

  test('upsertEdges keeps one edge per (source, target, relationship) and skips missing end nodes', async () => {
    const ds = 'ds-edges';
    await store.upsertNodes(ds, [node('a'), node('b'), node('c')]);
    await store.upsertEdges(ds, [
      edge('a', 'b', 'knows', { edge_text: 'one' }),
      edge('a', 'b', 'knows', { edge_text: 'two' }),
      edge('a', 'b', 'likes'),
      edge('b', 'a', 'knows'),
      edge('a', 'missing', 'knows'),
      edge('missing', 'a', 'knows'),
      edge('c', 'c', 'is_a'),
    ]);
    assert.deepEqual(await store.counts(ds), { nodes: 3, edges: 4 });
    await store.upsertEdges(ds, [edge('a', 'b', 'knows', { edge_text: 'three' }), edge('a', 'b', 'likes')]);
    assert.deepEqual(await store.counts(ds), { nodes: 3, edges: 4 });
    const graph = await store.getGraph(ds);
    assert.deepEqual(graph.edges.map(edgeKey).sort(), ['a-knows->b', 'a-likes->b', 'b-knows->a', 'c-is_a->c']);
    const knows = graph.edges.find((e) => edgeKey(e) === 'a-knows->b');
    assert.deepEqual(knows?.properties, { edge_text: 'three' }, 'the latest properties win');
    const [times] = await store.cypher(
      ds,
      "MATCH (:Node {id: 'a'})-[e:EDGE {relationship_name: 'knows'}]->(:Node {id: 'b'}) RETURN count(*) AS n, min(e.created_at) < max(e.updated_at) AS refreshed",
      LIMITS,
    );
    assert.deepEqual(times, { n: 1, refreshed: true });
  });

  test('getNodes returns the found nodes in the order asked; nodesOfType filters by type', async () => {
    const ds = 'ds-get';
    await store.upsertNodes(ds, [node('n1', 'Entity'), node('n2', 'EntityType'), node('n3', 'Entity'), node('n4', 'TextSummary', { text: 's' })]);
    assert.deepEqual(
      (await store.getNodes(ds, ['n3', 'nope', 'n1', 'n3'])).map((n) => n.id),
      ['n3', 'n1'],
    );
    assert.deepEqual(await store.getNodes(ds, []), []);
    assert.deepEqual((await store.nodesOfType(ds, ['Entity'])).map((n) => n.id), ['n1', 'n3']);
    assert.deepEqual((await store.nodesOfType(ds, ['EntityType', 'TextSummary'])).map((n) => n.id), ['n2', 'n4']);
    assert.deepEqual((await store.nodesOfType(ds)).map((n) => n.id), ['n1', 'n2', 'n3', 'n4']);
    assert.deepEqual(await store.nodesOfType(ds, []), []);
    assert.deepEqual(await store.nodesOfType(ds, ['Unknown']), []);
    assert.deepEqual((await store.nodesOfType(ds, ['TextSummary']))[0], node('n4', 'TextSummary', { text: 's' }));
  });

  test('edgesAround returns each touching edge once, in its direction, with both end nodes', async () => {
    const ds = 'ds-around';
    await store.upsertNodes(ds, [node('a'), node('b'), node('c'), node('d')]);
    await store.upsertEdges(ds, [edge('a', 'b', 'r1', { w: 1 }), edge('c', 'a', 'r2'), edge('b', 'c', 'r3'), edge('c', 'd', 'r4')]);
    const around = await store.edgesAround(ds, ['a']);
    assert.deepEqual(around.map((x) => edgeKey(x.edge)).sort(), ['a-r1->b', 'c-r2->a']);
    const r1 = around.find((x) => x.edge.relationship === 'r1');
    assert.deepEqual(r1, { source: node('a'), edge: edge('a', 'b', 'r1', { w: 1 }), target: node('b') });
    // An edge between two listed nodes comes back once.
    const ab = await store.edgesAround(ds, ['a', 'b', 'a']);
    assert.deepEqual(ab.map((x) => edgeKey(x.edge)).sort(), ['a-r1->b', 'b-r3->c', 'c-r2->a']);
    for (const x of ab) {
      assert.equal(x.source.id, x.edge.source);
      assert.equal(x.target.id, x.edge.target);
    }
    assert.deepEqual(await store.edgesAround(ds, ['missing']), []);
    assert.deepEqual(await store.edgesAround(ds, []), []);
  });

  test('deleteNodes removes the nodes and every edge touching them', async () => {
    const ds = 'ds-del';
    await store.upsertNodes(ds, [node('a'), node('b'), node('c')]);
    await store.upsertEdges(ds, [edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('a', 'c', 'other')]);
    assert.deepEqual(await store.counts(ds), { nodes: 3, edges: 4 });
    await store.deleteNodes(ds, ['b', 'missing']);
    assert.deepEqual(await store.counts(ds), { nodes: 2, edges: 2 });
    assert.deepEqual((await store.getGraph(ds)).edges.map(edgeKey).sort(), ['a-other->c', 'c-related_to->a']);
    await store.deleteNodes(ds, []);
    await store.deleteNodes(ds, ['a', 'c']);
    assert.deepEqual(await store.counts(ds), { nodes: 0, edges: 0 });
  });

  test('writes above one batch (1000 rows) are complete', async () => {
    const ds = 'ds-batch';
    const nodes = Array.from({ length: 2500 }, (_, i) => node(`n${i}`));
    await store.upsertNodes(ds, nodes);
    await store.upsertEdges(ds, nodes.slice(1).map((n, i) => edge(`n${i}`, n.id)));
    assert.deepEqual(await store.counts(ds), { nodes: 2500, edges: 2499 });
    assert.equal((await store.getNodes(ds, nodes.map((n) => n.id))).length, 2500);
    assert.equal((await store.edgesAround(ds, nodes.map((n) => n.id))).length, 2499);
    await store.deleteNodes(ds, nodes.slice(0, 1500).map((n) => n.id));
    assert.deepEqual(await store.counts(ds), { nodes: 1000, edges: 999 });
  });

  test('concurrent calls are serialised and all succeed', async () => {
    const ds = 'ds-concurrent';
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      calls.push(store.upsertNodes(ds, [node(`c${i}`), node(`d${i}`)]));
      calls.push(store.upsertEdges(ds, [edge(`c${i}`, `d${i}`)]));
      calls.push(store.counts(ds));
      if (i % 10 === 0) calls.push(store.cypher(ds, 'MATCH (n:Node) RETURN count(n) AS c', LIMITS));
    }
    await Promise.all(calls);
    assert.deepEqual(await store.counts(ds), { nodes: 80, edges: 40 });
  });

  test('cypher returns plain JSON rows and stops at maxRows', async () => {
    const ds = 'ds-cypher';
    await store.upsertNodes(ds, Array.from({ length: 30 }, (_, i) => node(`q${i}`, 'Entity', { i })));
    const rows = await store.cypher(ds, 'MATCH (n:Node) RETURN n.id AS id ORDER BY id', { timeoutMs: 5000, maxRows: 7 });
    assert.equal(rows.length, 7);
    assert.deepEqual(rows[0], { id: 'q0' });
    assert.deepEqual(await store.cypher(ds, 'MATCH (n:Node) RETURN n.id', { timeoutMs: 5000, maxRows: 0 }), []);
    // 9,000,000 result rows: only the first ones are read.
    const started = Date.now();
    const many = await store.cypher(ds, 'UNWIND range(1, 3000) AS a UNWIND range(1, 3000) AS b RETURN a, b', { timeoutMs: 5000, maxRows: 5 });
    assert.equal(many.length, 5);
    assert.ok(Date.now() - started < 5000);

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

    const [rel] = await store.cypher(ds, 'RETURN 1 AS one', LIMITS);
    assert.deepEqual(rel, { one: 1 });
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

  test('cypher enforces the time limit: an expensive query fails instead of hanging', async () => {
    const ds = 'ds-timeout';
    await store.upsertNodes(ds, [node('a')]);
    const started = Date.now();
    await assert.rejects(store.cypher(ds, EXPENSIVE, { timeoutMs: 50, maxRows: 10 }), (error: unknown) => {
      assert.ok(error instanceof GraphQueryTimeoutError);
      assert.equal(error.timeoutMs, 50);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    // The store still works afterwards.
    assert.deepEqual(await store.cypher(ds, 'MATCH (n:Node) RETURN n.id AS id', LIMITS), [{ id: 'a' }]);
  });

  test('cypher sees every write made before it (the kept dataset copy is refreshed)', async () => {
    const ds = 'ds-fresh';
    const other = 'ds-fresh-other';
    const count = async (dataset: string): Promise<unknown> =>
      (await store.cypher(dataset, 'MATCH (n:Node) RETURN count(n) AS c', LIMITS))[0]?.c;
    const edgeText = async (): Promise<unknown> =>
      (await store.cypher(ds, 'MATCH ()-[e:EDGE]->() RETURN e.properties AS p', LIMITS))[0]?.p;
    await store.upsertNodes(ds, [node('a'), node('b')]);
    assert.equal(await count(ds), 2);
    assert.equal(await count(ds), 2);
    await store.upsertNodes(ds, [node('c')]);
    assert.equal(await count(ds), 3);
    await store.upsertEdges(ds, [edge('a', 'b', 'r', { v: 1 })]);
    assert.equal(await edgeText(), JSON.stringify({ v: 1 }));
    await store.upsertEdges(ds, [edge('a', 'b', 'r', { v: 2 })]);
    assert.equal(await edgeText(), JSON.stringify({ v: 2 }));
    // A query on another dataset in between, and writes to it, change nothing here.
    await store.upsertNodes(other, [node('x')]);
    assert.equal(await count(other), 1);
    assert.equal(await count(ds), 3);
    await store.upsertNodes(other, [node('y')]);
    assert.equal(await count(ds), 3);
    await store.deleteNodes(ds, ['c']);
    assert.equal(await count(ds), 2);
    await store.deleteDataset(ds);
    assert.equal(await count(ds), 0);
    assert.equal(await count(other), 2);
  });

  test('cypher cannot write, even on its copy', async () => {
    const ds = 'ds-readonly';
    await store.upsertNodes(ds, [node('a')]);
    await assert.rejects(store.cypher(ds, "CREATE (:Node {pk: 'x', id: 'x', dataset_id: 'ds-readonly'})", LIMITS), /read-only/i);
    await assert.rejects(store.cypher(ds, 'MATCH (n:Node) DETACH DELETE n', LIMITS), /read-only/i);
    await assert.rejects(store.cypher(ds, 'MATCH (n) RETURN nonsense(', LIMITS), /parser|exception/i);
    // One statement only: a query cannot end the read-only transaction and write after it.
    await assert.rejects(store.cypher(ds, "COMMIT; CREATE (:Node {pk: 'x', id: 'x', dataset_id: 'ds-readonly'})", LIMITS), /multiple statements/);
    await assert.rejects(store.cypher(ds, 'RETURN 1 AS a; RETURN 2 AS b', LIMITS), /multiple statements/);
    assert.deepEqual(await store.counts(ds), { nodes: 1, edges: 0 });
    assert.deepEqual(await store.cypher(ds, 'MATCH (n:Node) RETURN n.id AS id', LIMITS), [{ id: 'a' }]);
  });

  test('cypher validates its limits', async () => {
    await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: 0, maxRows: 1 }), /timeout/);
    await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: Number.NaN, maxRows: 1 }), /timeout/);
    await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: 100, maxRows: -1 }), /row limit/);
    await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: 100, maxRows: 1.5 }), /row limit/);
    await assert.rejects(store.cypher('ds', '  ', LIMITS), /empty/);
  });

  test('invalid dataset ids and node ids are refused', async () => {
    await assert.rejects(store.upsertNodes('', [node('a')]), /dataset id/);
    await assert.rejects(store.upsertNodes('a:b', [node('a')]), /dataset id/);
    await assert.rejects(store.counts('x:y'), /dataset id/);
    await assert.rejects(store.upsertNodes('ok', [node('')]), /id/);
    await assert.rejects(store.upsertEdges('ok', [edge('a', '')]), /id/);
    await assert.rejects(store.upsertEdges('ok', [edge('a', 'b', '')]), /relationship/);
  });
});

describe('KuzuGraphStore dataset isolation', () => {
  let store: KuzuGraphStore;
  const one = 'dataset-one';
  const two = 'dataset-two';
  before(async () => {
    store = await KuzuGraphStore.openInMemory();
    // The same ids in both datasets, with different content and edges.
    await store.upsertNodes(one, [node('a', 'Entity', { in: 1 }, 'one-a'), node('b', 'Entity', { in: 1 }, 'one-b'), node('only1', 'Person')]);
    await store.upsertEdges(one, [edge('a', 'b', 'r_one'), edge('b', 'only1', 'r_one')]);
    await store.upsertNodes(two, [node('a', 'Entity', { in: 2 }, 'two-a'), node('b', 'Concept', { in: 2 }, 'two-b')]);
    await store.upsertEdges(two, [edge('b', 'a', 'r_two')]);
    // An edge to a node of the other dataset is not created.
    await store.upsertEdges(two, [edge('a', 'only1', 'cross')]);
  });
  after(async () => {
    await store.close();
  });

  test('getNodes, nodesOfType, getGraph and counts see only their dataset', async () => {
    assert.deepEqual(await store.getNodes(one, ['a', 'b', 'only1']), [
      node('a', 'Entity', { in: 1 }, 'one-a'),
      node('b', 'Entity', { in: 1 }, 'one-b'),
      node('only1', 'Person'),
    ]);
    assert.deepEqual(await store.getNodes(two, ['a', 'b', 'only1']), [node('a', 'Entity', { in: 2 }, 'two-a'), node('b', 'Concept', { in: 2 }, 'two-b')]);
    assert.deepEqual((await store.nodesOfType(one, ['Entity'])).map((n) => n.name), ['one-a', 'one-b']);
    assert.deepEqual((await store.nodesOfType(two, ['Entity'])).map((n) => n.name), ['two-a']);
    assert.deepEqual((await store.nodesOfType(two, ['Person'])), []);
    const g1 = await store.getGraph(one);
    const g2 = await store.getGraph(two);
    assert.deepEqual(sortById(g1.nodes).map((n) => n.name), ['one-a', 'one-b', 'name-only1']);
    assert.deepEqual(g1.edges.map(edgeKey).sort(), ['a-r_one->b', 'b-r_one->only1']);
    assert.deepEqual(sortById(g2.nodes).map((n) => n.name), ['two-a', 'two-b']);
    assert.deepEqual(g2.edges.map(edgeKey), ['b-r_two->a']);
    assert.deepEqual(await store.counts(one), { nodes: 3, edges: 2 });
    assert.deepEqual(await store.counts(two), { nodes: 2, edges: 1 });
    assert.deepEqual(await store.counts('dataset-three'), { nodes: 0, edges: 0 });
  });

  test('edgesAround sees only its dataset', async () => {
    const a1 = await store.edgesAround(one, ['a', 'b']);
    assert.deepEqual(a1.map((x) => edgeKey(x.edge)).sort(), ['a-r_one->b', 'b-r_one->only1']);
    assert.ok(a1.every((x) => x.source.name.startsWith('one-') || x.source.id === 'only1'));
    const a2 = await store.edgesAround(two, ['a', 'b']);
    assert.deepEqual(a2.map((x) => edgeKey(x.edge)), ['b-r_two->a']);
    assert.deepEqual(a2[0]?.source, node('b', 'Concept', { in: 2 }, 'two-b'));
    assert.deepEqual(a2[0]?.target, node('a', 'Entity', { in: 2 }, 'two-a'));
    assert.deepEqual(await store.edgesAround(two, ['only1']), []);
  });

  test('cypher sees only its dataset, even with an unfiltered MATCH', async () => {
    const rows1 = await store.cypher(one, 'MATCH (n:Node) RETURN n.dataset_id AS d, n.name AS name ORDER BY name', LIMITS);
    assert.deepEqual(rows1, [
      { d: one, name: 'name-only1' },
      { d: one, name: 'one-a' },
      { d: one, name: 'one-b' },
    ]);
    const rows2 = await store.cypher(two, 'MATCH (n) RETURN n ORDER BY n.id', LIMITS);
    assert.deepEqual(rows2.map((r) => (r.n as Record<string, unknown>).name), ['two-a', 'two-b']);
    assert.deepEqual(await store.cypher(two, 'MATCH ()-[e]->() RETURN e.relationship_name AS r', LIMITS), [{ r: 'r_two' }]);
    assert.deepEqual(await store.cypher(one, 'MATCH ()-[e:EDGE]->() RETURN count(e) AS c', LIMITS), [{ c: 2 }]);
    assert.deepEqual(await store.cypher('dataset-three', 'MATCH (n) RETURN count(n) AS c', LIMITS), [{ c: 0 }]);
  });

  test('writes, deleteNodes and deleteDataset touch only their dataset', async () => {
    await store.upsertNodes(two, [node('a', 'Entity', { in: 2, changed: true }, 'two-a2')]);
    assert.deepEqual(await store.getNodes(one, ['a']), [node('a', 'Entity', { in: 1 }, 'one-a')]);
    await store.deleteNodes(two, ['b']);
    assert.deepEqual(await store.counts(two), { nodes: 1, edges: 0 });
    assert.deepEqual(await store.counts(one), { nodes: 3, edges: 2 });
    assert.equal((await store.getNodes(one, ['b'])).length, 1);
    await store.deleteDataset(two);
    assert.deepEqual(await store.counts(two), { nodes: 0, edges: 0 });
    assert.deepEqual(await store.counts(one), { nodes: 3, edges: 2 });
    assert.deepEqual(await store.getGraph(two), { nodes: [], edges: [] });
    assert.equal((await store.getGraph(one)).nodes.length, 3);
    await store.deleteDataset(one);
    assert.deepEqual(await store.counts(one), { nodes: 0, edges: 0 });
  });
});

describe('KuzuGraphStore on a file', () => {
  test('open creates the parent directory; the data survives a reopen; close is idempotent', async () => {
    const path = join(tempDir(), 'databases', 'owner', 'dataset.kuzu');
    const first = await KuzuGraphStore.open(path);
    assert.ok(existsSync(join(path, '..')));
    await first.upsertNodes('ds', [node('a', 'Entity', { text: 'héllo' }), node('b')]);
    await first.upsertEdges('ds', [edge('a', 'b', 'knows', { edge_text: 'x' })]);
    await first.close();
    await first.close();
    await assert.rejects(first.counts('ds'), /closed/);
    await assert.rejects(first.cypher('ds', 'RETURN 1', LIMITS), /closed/);

    const second = await KuzuGraphStore.open(path);
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
    const store = await KuzuGraphStore.open(join(tempDir(), 'g.kuzu'));
    const write = store.upsertNodes('ds', Array.from({ length: 3000 }, (_, i) => node(`n${i}`)));
    const closing = store.close();
    await write;
    await closing;
    const reopened = await KuzuGraphStore.open(join(dirs[dirs.length - 1]!, 'g.kuzu'));
    try {
      assert.deepEqual(await reopened.counts('ds'), { nodes: 3000, edges: 0 });
    } finally {
      await reopened.close();
    }
  });

  test('singleDataset mode runs cypher on the file, read-only and within the limits', async () => {
    const path = join(tempDir(), 'single.kuzu');
    const store = await KuzuGraphStore.open(path, { singleDataset: true });
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
      await store.upsertEdges('ds', many.slice(1).map((n, i) => edge(`m${i}`, n.id)));
      assert.deepEqual(await store.counts('ds'), { nodes: 5002, edges: 5000 });
    } finally {
      await store.close();
    }
  });
});

describe('KuzuGraphStore performance', () => {
  test('10,000 nodes and 20,000 edges', async (t) => {
    const store = await KuzuGraphStore.open(join(tempDir(), 'perf.kuzu'));
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
      await store.upsertEdges(ds, edges.map((e) => ({ ...e, properties: { ...e.properties, weight: 2 } })));
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
