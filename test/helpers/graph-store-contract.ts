/**
 * The GraphStore contract (src/storage/types.ts) as one suite, run against every graph store:
 * the Kuzu store (test/unit/kuzu-store.test.ts) and the Neo4j store against the Bolt stand-in in
 * both of its modes (test/unit/neo4j-store.test.ts). A store is opened fresh for each describe block.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GraphQueryTimeoutError } from '../../src/storage/stores/kuzu.js';
import type { GraphEdge, GraphNode, GraphStore } from '../../src/storage/types.js';

export const LIMITS = { timeoutMs: 10_000, maxRows: 1000 };
/** A cartesian product of 10^10 rows: far beyond any test's patience. */
export const EXPENSIVE = 'UNWIND range(1, 100000) AS a UNWIND range(1, 100000) AS b RETURN count(*) AS c';

export function node(id: string, type = 'Entity', properties: Record<string, unknown> = {}, name = `name-${id}`): GraphNode {
  return { id, name, type, properties };
}
export function edge(source: string, target: string, relationship = 'related_to', properties: Record<string, unknown> = {}): GraphEdge {
  return { source, target, relationship, properties };
}
export const sortById = (nodes: GraphNode[]): GraphNode[] => [...nodes].sort((a, b) => a.id.localeCompare(b.id));
export const edgeKey = (e: GraphEdge): string => `${e.source}-${e.relationship}->${e.target}`;

export interface ContractOptions {
  /** Opens a new, empty store. */
  readonly open: () => Promise<GraphStore>;
  /**
   * The store holds several datasets and must keep them apart (shared mode); false for a store
   * whose database is one dataset (its Cypher queries see the whole database).
   */
  readonly shared: boolean;
  /**
   * What the store's refusal of a write through cypher says; by default either Kuzu's
   * (`read-only`) or Neo4j's (`read access mode`) wording.
   */
  readonly readOnlyRefusal?: RegExp;
}

export function graphStoreContract(label: string, options: ContractOptions): void {
  const readOnlyRefusal = options.readOnlyRefusal ?? /read-only|read access mode/i;
  describe(`${label}: GraphStore contract`, () => {
    let store: GraphStore;
    before(async () => {
      store = await options.open();
    });
    after(async () => {
      await store.close();
    });
    // A store whose database is one dataset gets one dataset id for every test, cleared between them.
    let counter = 0;
    const dataset = async (name: string): Promise<string> => {
      if (options.shared) return `${name}-${counter++}`;
      await store.deleteDataset('only');
      return 'only';
    };

    test('upsertNodes inserts, then replaces by id; created_at is kept and updated_at refreshed', async () => {
      const ds = await dataset('ds-upsert');
      await store.upsertNodes(ds, [node('a', 'Entity', { description: 'first' }), node('b', 'EntityType')]);
      const [first] = await store.cypher(ds, "MATCH (n:Node {id: 'a'}) RETURN n.created_at AS c, n.updated_at AS u", LIMITS);
      assert.ok(first);
      assert.equal(first.c, first.u);
      assert.match(String(first.c), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
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
      const ds = await dataset('ds-dup');
      await store.upsertNodes(ds, [node('x', 'A', { v: 1 }), node('y'), node('x', 'B', { v: 2 })]);
      assert.deepEqual(await store.getNodes(ds, ['x']), [node('x', 'B', { v: 2 })]);
      assert.deepEqual(await store.counts(ds), { nodes: 2, edges: 0 });
      await store.upsertNodes(ds, []);
      assert.deepEqual(await store.counts(ds), { nodes: 2, edges: 0 });
    });

    test('upsertEdges keeps one edge per (source, target, relationship) and skips missing end nodes', async () => {
      const ds = await dataset('ds-edges');
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
      assert.deepEqual(graph.edges.find((e) => edgeKey(e) === 'a-knows->b')?.properties, { edge_text: 'three' }, 'the latest properties win');
      const [times] = await store.cypher(
        ds,
        "MATCH (:Node {id: 'a'})-[e:EDGE {relationship_name: 'knows'}]->(:Node {id: 'b'}) RETURN count(*) AS n, min(e.created_at) < max(e.updated_at) AS refreshed",
        LIMITS,
      );
      assert.deepEqual(times, { n: 1, refreshed: true });
    });

    test('getNodes returns the found nodes in the order asked; nodesOfType filters by type', async () => {
      const ds = await dataset('ds-get');
      await store.upsertNodes(ds, [node('n1', 'Entity'), node('n2', 'EntityType'), node('n3', 'Entity'), node('n4', 'TextSummary', { text: 's' })]);
      assert.deepEqual(
        (await store.getNodes(ds, ['n3', 'nope', 'n1', 'n3'])).map((n) => n.id),
        ['n3', 'n1'],
      );
      assert.deepEqual(await store.getNodes(ds, []), []);
      assert.deepEqual(
        (await store.nodesOfType(ds, ['Entity'])).map((n) => n.id),
        ['n1', 'n3'],
      );
      assert.deepEqual(
        (await store.nodesOfType(ds, ['EntityType', 'TextSummary'])).map((n) => n.id),
        ['n2', 'n4'],
      );
      assert.deepEqual(
        (await store.nodesOfType(ds)).map((n) => n.id),
        ['n1', 'n2', 'n3', 'n4'],
      );
      assert.deepEqual(await store.nodesOfType(ds, []), []);
      assert.deepEqual(await store.nodesOfType(ds, ['Unknown']), []);
      assert.deepEqual((await store.nodesOfType(ds, ['TextSummary']))[0], node('n4', 'TextSummary', { text: 's' }));
    });

    test('edgesAround returns each touching edge once, in its direction, with both end nodes', async () => {
      const ds = await dataset('ds-around');
      await store.upsertNodes(ds, [node('a'), node('b'), node('c'), node('d')]);
      await store.upsertEdges(ds, [edge('a', 'b', 'r1', { w: 1 }), edge('c', 'a', 'r2'), edge('b', 'c', 'r3'), edge('c', 'd', 'r4')]);
      const around = await store.edgesAround(ds, ['a']);
      assert.deepEqual(around.map((x) => edgeKey(x.edge)).sort(), ['a-r1->b', 'c-r2->a']);
      assert.deepEqual(
        around.find((x) => x.edge.relationship === 'r1'),
        { source: node('a'), edge: edge('a', 'b', 'r1', { w: 1 }), target: node('b') },
      );
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
      const ds = await dataset('ds-del');
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
      const ds = await dataset('ds-batch');
      const nodes = Array.from({ length: 2500 }, (_, i) => node(`n${i}`));
      await store.upsertNodes(ds, nodes);
      await store.upsertEdges(
        ds,
        nodes.slice(1).map((n, i) => edge(`n${i}`, n.id)),
      );
      assert.deepEqual(await store.counts(ds), { nodes: 2500, edges: 2499 });
      assert.equal(
        (
          await store.getNodes(
            ds,
            nodes.map((n) => n.id),
          )
        ).length,
        2500,
      );
      assert.equal(
        (
          await store.edgesAround(
            ds,
            nodes.map((n) => n.id),
          )
        ).length,
        2499,
      );
      await store.deleteNodes(
        ds,
        nodes.slice(0, 1500).map((n) => n.id),
      );
      assert.deepEqual(await store.counts(ds), { nodes: 1000, edges: 999 });
    });

    test('concurrent calls on one dataset run in call order and all succeed', async () => {
      const ds = await dataset('ds-concurrent');
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
      const ds = await dataset('ds-cypher');
      await store.upsertNodes(
        ds,
        Array.from({ length: 30 }, (_, i) => node(`q${i}`, 'Entity', { i })),
      );
      const rows = await store.cypher(ds, 'MATCH (n:Node) RETURN n.id AS id ORDER BY id', { timeoutMs: 5000, maxRows: 7 });
      assert.equal(rows.length, 7);
      assert.deepEqual(rows[0], { id: 'q0' });
      assert.deepEqual(await store.cypher(ds, 'MATCH (n:Node) RETURN n.id', { timeoutMs: 5000, maxRows: 0 }), []);
      // 9,000,000 result rows: only the first ones are read.
      const started = Date.now();
      const many = await store.cypher(ds, 'UNWIND range(1, 3000) AS a UNWIND range(1, 3000) AS b RETURN a, b', { timeoutMs: 5000, maxRows: 5 });
      assert.equal(many.length, 5);
      assert.ok(Date.now() - started < 5000);
      const [row] = await store.cypher(ds, "MATCH (n:Node {id: 'q1'}) RETURN n, [1, 2] AS list, {k: 'v'} AS struct, 2.5 AS f, 7 AS i", LIMITS);
      assert.ok(row);
      assert.deepEqual(JSON.parse(JSON.stringify(row)), row, 'plain JSON only');
      assert.deepEqual(row.list, [1, 2]);
      assert.deepEqual(row.struct, { k: 'v' });
      assert.equal(row.f, 2.5);
      assert.equal(row.i, 7);
      const n = row.n as Record<string, unknown>;
      assert.equal(n._label, 'Node');
      assert.equal(n.id, 'q1');
      assert.equal(n.dataset_id, ds);
      assert.equal(n.properties, JSON.stringify({ i: 1 }));
      assert.deepEqual(await store.cypher(ds, 'RETURN 1 AS one', LIMITS), [{ one: 1 }]);
    });

    test('cypher enforces the time limit: an expensive query fails instead of hanging', async () => {
      const ds = await dataset('ds-timeout');
      await store.upsertNodes(ds, [node('a')]);
      const started = Date.now();
      await assert.rejects(store.cypher(ds, EXPENSIVE, { timeoutMs: 50, maxRows: 10 }), (error: unknown) => {
        assert.ok(error instanceof GraphQueryTimeoutError, String(error));
        assert.equal(error.timeoutMs, 50);
        return true;
      });
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
      assert.deepEqual(await store.cypher(ds, 'MATCH (n:Node) RETURN n.id AS id', LIMITS), [{ id: 'a' }]);
    });

    test('cypher sees every write made before it', async () => {
      const ds = await dataset('ds-fresh');
      const count = async (d: string): Promise<unknown> => (await store.cypher(d, 'MATCH (n:Node) RETURN count(n) AS c', LIMITS))[0]?.c;
      const edgeText = async (): Promise<unknown> => (await store.cypher(ds, 'MATCH ()-[e:EDGE]->() RETURN e.properties AS p', LIMITS))[0]?.p;
      await store.upsertNodes(ds, [node('a'), node('b')]);
      assert.equal(await count(ds), 2);
      assert.equal(await count(ds), 2);
      await store.upsertNodes(ds, [node('c')]);
      assert.equal(await count(ds), 3);
      await store.upsertEdges(ds, [edge('a', 'b', 'r', { v: 1 })]);
      assert.equal(await edgeText(), JSON.stringify({ v: 1 }));
      await store.upsertEdges(ds, [edge('a', 'b', 'r', { v: 2 })]);
      assert.equal(await edgeText(), JSON.stringify({ v: 2 }));
      // A store of several datasets: a query on another dataset in between, and writes to it, change nothing here.
      const other = options.shared ? await dataset('ds-fresh-other') : undefined;
      if (other !== undefined) {
        await store.upsertNodes(other, [node('x')]);
        assert.equal(await count(other), 1);
        assert.equal(await count(ds), 3);
        await store.upsertNodes(other, [node('y')]);
        assert.equal(await count(ds), 3);
      }
      await store.deleteNodes(ds, ['c']);
      assert.equal(await count(ds), 2);
      await store.deleteDataset(ds);
      assert.equal(await count(ds), 0);
      if (other !== undefined) assert.equal(await count(other), 2);
    });

    test('cypher cannot write', async () => {
      const ds = await dataset('ds-readonly');
      await store.upsertNodes(ds, [node('a')]);
      await assert.rejects(store.cypher(ds, `CREATE (:Node {pk: 'x', id: 'x', dataset_id: '${ds}'})`, LIMITS), readOnlyRefusal);
      await assert.rejects(store.cypher(ds, 'MATCH (n:Node) DETACH DELETE n', LIMITS), readOnlyRefusal);
      await assert.rejects(store.cypher(ds, 'MATCH (n) RETURN nonsense(', LIMITS), /parser|exception/i);
      await assert.rejects(store.cypher(ds, `COMMIT; CREATE (:Node {pk: 'x', id: 'x', dataset_id: '${ds}'})`, LIMITS), /multiple statements/);
      await assert.rejects(store.cypher(ds, 'RETURN 1 AS a; RETURN 2 AS b', LIMITS), /multiple statements/);
      assert.deepEqual(await store.counts(ds), { nodes: 1, edges: 0 });
      assert.deepEqual(await store.cypher(ds, 'MATCH (n:Node) RETURN n.id AS id', LIMITS), [{ id: 'a' }]);
    });

    test('cypher validates its limits; invalid dataset ids and node ids are refused', async () => {
      await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: 0, maxRows: 1 }), /timeout/);
      await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: Number.NaN, maxRows: 1 }), /timeout/);
      await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: 100, maxRows: -1 }), /row limit/);
      await assert.rejects(store.cypher('ds', 'RETURN 1', { timeoutMs: 100, maxRows: 1.5 }), /row limit/);
      await assert.rejects(store.cypher('ds', '  ', LIMITS), /empty/);
      await assert.rejects(store.upsertNodes('', [node('a')]), /dataset id/);
      await assert.rejects(store.upsertNodes('a:b', [node('a')]), /dataset id/);
      await assert.rejects(store.counts('x:y'), /dataset id/);
      await assert.rejects(store.upsertNodes('ok', [node('')]), /id/);
      await assert.rejects(store.upsertEdges('ok', [edge('a', '')]), /id/);
      await assert.rejects(store.upsertEdges('ok', [edge('a', 'b', '')]), /relationship/);
    });
  });

  if (!options.shared) return;

  describe(`${label}: dataset isolation (D16)`, () => {
    let store: GraphStore;
    const one = 'dataset-one';
    const two = 'dataset-two';
    before(async () => {
      store = await options.open();
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
      assert.deepEqual(
        (await store.nodesOfType(one, ['Entity'])).map((n) => n.name),
        ['one-a', 'one-b'],
      );
      assert.deepEqual(
        (await store.nodesOfType(two, ['Entity'])).map((n) => n.name),
        ['two-a'],
      );
      assert.deepEqual(await store.nodesOfType(two, ['Person']), []);
      const g1 = await store.getGraph(one);
      const g2 = await store.getGraph(two);
      assert.deepEqual(
        sortById(g1.nodes).map((n) => n.name),
        ['one-a', 'one-b', 'name-only1'],
      );
      assert.deepEqual(g1.edges.map(edgeKey).sort(), ['a-r_one->b', 'b-r_one->only1']);
      assert.deepEqual(
        sortById(g2.nodes).map((n) => n.name),
        ['two-a', 'two-b'],
      );
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
      assert.deepEqual(
        a2.map((x) => edgeKey(x.edge)),
        ['b-r_two->a'],
      );
      assert.deepEqual(a2[0]?.source, node('b', 'Concept', { in: 2 }, 'two-b'));
      assert.deepEqual(a2[0]?.target, node('a', 'Entity', { in: 2 }, 'two-a'));
      assert.deepEqual(await store.edgesAround(two, ['only1']), []);
    });

    test('cypher sees only its dataset, even with an unfiltered MATCH', async () => {
      assert.deepEqual(await store.cypher(one, 'MATCH (n:Node) RETURN n.dataset_id AS d, n.name AS name ORDER BY name', LIMITS), [
        { d: one, name: 'name-only1' },
        { d: one, name: 'one-a' },
        { d: one, name: 'one-b' },
      ]);
      const rows2 = await store.cypher(two, 'MATCH (n) RETURN n ORDER BY n.id', LIMITS);
      assert.deepEqual(
        rows2.map((r) => (r.n as Record<string, unknown>).name),
        ['two-a', 'two-b'],
      );
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
}
