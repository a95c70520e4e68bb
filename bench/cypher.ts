/**
 * The Cypher sandbox: what running a small Cypher query out of the server process costs, with the
 * sandbox's warm processes (CYPHER_SANDBOX_POOL_SIZE) and without them.
 *
 * One Kuzu store file holds a small dataset (a cognified document's size: 40 nodes, 60 edges). The
 * same query runs through the store's `cypher` (the dataset's rows read, then handed to a
 * `CypherRunner`), sequentially, the runners taking turns in each round so drift favours none:
 *
 *   - in-process (the baseline): the runner copies the rows into an in-memory Kuzu database opened
 *     ahead (untimed, as a warm sandbox process has it) and runs the query in this process: the
 *     sandbox's work without the process; and the same with the database opened per query;
 *   - sandbox, pool warm: `CypherSandbox` with poolSize 2, its processes warm before each query;
 *   - sandbox, pool size 0: a process started for the query (as before the pool);
 *   - sandbox, back to back: poolSize 2, queries without a pause (the refill cannot keep up past
 *     the pool's size: throughput is bounded by the process start-up).
 *
 * Also, for context only, the same query straight on the store's file in this process (no copy,
 * no isolation: how Cypher ran before D18), and the resident memory of a waiting process.
 * Target: warm pool p50 ≤ 1.5 × baseline p50.
 *
 * Run alone with `node --import tsx bench/cypher.ts`, or as part of `npm run bench`.
 * BENCH_CYPHER_SAMPLES (default 30).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kuzu from 'kuzu';
import { fillCopy, openDatasetCopy, openEmptyCopy, runReadOnly } from '../src/storage/cypher-sandbox/copy-engine.js';
import { CypherSandbox, residentBytes } from '../src/storage/cypher-sandbox/sandbox.js';
import { KuzuGraphStore } from '../src/storage/stores/kuzu.js';
import type { CypherRunner, GraphEdge, GraphNode, SandboxGraph } from '../src/storage/types.js';

const SAMPLES = Number(process.env.BENCH_CYPHER_SAMPLES ?? 30);
const TARGET = 1.5;
const DATASET = 'bench-cypher';
const QUERY =
  "MATCH (a:Node)-[e:EDGE]->(b:Node) WHERE a.type = 'Entity' RETURN a.name AS src, e.relationship_name AS rel, b.name AS dst ORDER BY src, dst LIMIT 10";
const LIMITS = { timeoutMs: 30_000, maxRows: 1000 };
/** The sandbox's default memory limit, and the buffer pool it gives a copy (half of it). */
const MAX_MEMORY_MB = 512;

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p90: at(0.9) };
}

/** A small dataset: 40 entities of 4 types, 60 relationships. */
function dataset(): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const types = ['Entity', 'EntityType', 'DocumentChunk', 'TextSummary'];
  const nodes = Array.from({ length: 40 }, (_, i) => ({
    id: `n${i}`,
    name: `node ${i}`,
    type: types[i % types.length]!,
    properties: { description: `the ${i}th node of the bench graph`, chunk_index: i },
  }));
  const edges = Array.from({ length: 60 }, (_, i) => ({
    source: `n${i % 40}`,
    target: `n${(i * 7 + 3) % 40}`,
    relationship: i % 2 === 0 ? 'mentions' : 'related_to',
    properties: { weight: i },
  }));
  return { nodes, edges };
}

const COPY_OPTIONS = { bufferPoolBytes: (MAX_MEMORY_MB * 1024 * 1024) / 2, threads: 1 };

/** The sandbox's work (copy, then the query) in this process, on a copy opened per query. */
const inProcess: CypherRunner = {
  async run(graph, query, limits) {
    const { db, conn } = await openDatasetCopy(graph.nodes, graph.edges, COPY_OPTIONS);
    try {
      return await runReadOnly(conn, query, limits.timeoutMs, limits.maxRows);
    } finally {
      await conn.close();
      await db.close();
    }
  },
};

/**
 * The same in this process on an empty copy opened ahead (`prepare`, not timed), as a warm sandbox
 * process has it: exactly the work a warm process does for a query, without the process.
 */
class InProcessPrepared implements CypherRunner {
  private copy: Awaited<ReturnType<typeof openEmptyCopy>> | undefined;

  async prepare(): Promise<void> {
    this.copy = await openEmptyCopy(COPY_OPTIONS);
  }

  async run(graph: SandboxGraph, query: string, limits: { timeoutMs: number; maxRows: number }): Promise<Record<string, unknown>[]> {
    const { db, conn } = this.copy!;
    this.copy = undefined;
    try {
      await fillCopy(conn, graph.nodes, graph.edges);
      return await runReadOnly(conn, query, limits.timeoutMs, limits.maxRows);
    } finally {
      await conn.close();
      await db.close();
    }
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

export async function cypherBench(): Promise<{ lines: string[]; ok: boolean }> {
  const root = mkdtempSync(join(tmpdir(), 'engram-bench-cypher-'));
  const file = join(root, 'graph.kuzu');
  const warm = new CypherSandbox({ poolSize: 2, maxMemoryMb: MAX_MEMORY_MB });
  const cold = new CypherSandbox({ poolSize: 0, maxMemoryMb: MAX_MEMORY_MB });
  const burst = new CypherSandbox({ poolSize: 2, maxMemoryMb: MAX_MEMORY_MB });
  let runner: CypherRunner = inProcess;
  const store = await KuzuGraphStore.open(file, { singleDataset: true, cypherRunner: { run: (g, q, l) => runner.run(g, q, l) } });
  try {
    const { nodes, edges } = dataset();
    await store.upsertNodes(DATASET, nodes);
    await store.upsertEdges(DATASET, edges);
    const query = () => store.cypher(DATASET, QUERY, LIMITS);

    // Every runner answers the same rows.
    const expected = JSON.stringify(await query());
    for (const each of [warm, cold]) {
      runner = each;
      if (JSON.stringify(await query()) !== expected) throw new Error('the sandbox answered other rows than the in-process copy');
    }

    const prepared = new InProcessPrepared();
    const samples = { prepared: [] as number[], inProcess: [] as number[], warm: [] as number[], cold: [] as number[], burst: [] as number[] };
    await warm.warmUp();
    const idleRss = (await Promise.all(warm.idlePids.map(residentBytes))).filter((x): x is number => x !== undefined);
    for (let i = 0; i < SAMPLES; i++) {
      // Every measure starts with the pool full: no process is starting (its CPU would weigh on the measure).
      await warm.warmUp();
      runner = prepared;
      await prepared.prepare();
      samples.prepared.push(await timed(query));
      runner = inProcess;
      samples.inProcess.push(await timed(query));
      runner = warm;
      samples.warm.push(await timed(query));
      await warm.warmUp();
      runner = cold;
      samples.cold.push(await timed(query));
    }
    runner = burst;
    await burst.warmUp();
    for (let i = 0; i < Math.max(4, Math.floor(SAMPLES / 3)); i++) samples.burst.push(await timed(query));

    await store.close();
    // Context: the query straight on the file, in this process (read-only, no copy).
    const direct: number[] = [];
    const db = new kuzu.Database(file, 0, true, true);
    const conn = new kuzu.Connection(db);
    try {
      for (let i = 0; i < SAMPLES; i++) direct.push(await timed(() => runReadOnly(conn, QUERY, LIMITS.timeoutMs, LIMITS.maxRows)));
    } finally {
      await conn.close();
      await db.close();
    }

    const fmt = (n: number, d = 1) => n.toFixed(d);
    const base = quantiles(samples.prepared);
    const row = (label: string, values: number[]) => {
      const q = quantiles(values);
      return `| ${label} | ${values.length} | ${fmt(q.p50)} | ${fmt(q.p90)} | ${fmt(q.p50 / base.p50, 2)} |`;
    };
    const ratio = quantiles(samples.warm).p50 / base.p50;
    const ok = ratio <= TARGET;
    const mb = (bytes: number) => fmt(bytes / 1024 / 1024, 0);
    const lines = [
      '## Cypher sandbox',
      '',
      `A small Cypher query (${nodes.length} nodes, ${edges.length} edges in the dataset; 10 rows answered) through the Kuzu store's \`cypher\``,
      "(the dataset's rows read from the store file, then handed to the runner), sequential, the runners taking turns in each",
      "round. In-process = the same copy of the dataset and the same query in the bench's process: the baseline has its empty",
      'copy opened ahead, as a warm sandbox process has (the same work per query, without the process). The sandbox runs from',
      'sources (through tsx), as in the tests; a built server starts its processes faster, which only changes the pool-size-0',
      'and back-to-back rows.',
      '',
      '| Runner | Queries | p50 (ms) | p90 (ms) | p50 ÷ baseline |',
      '|---|---:|---:|---:|---:|',
      row('in-process, empty copy opened ahead (baseline)', samples.prepared),
      row('in-process, copy opened per query', samples.inProcess),
      row('sandbox, pool of 2, warm', samples.warm),
      row('sandbox, pool size 0 (a process per query)', samples.cold),
      row('sandbox, pool of 2, back to back (no pause for the refill)', samples.burst),
      row('context: straight on the store file (no copy, no sandbox: before D18)', direct),
      '',
      `Target: warm pool p50 ÷ baseline p50 = ${fmt(ratio, 2)} (≤ ${TARGET}): ${ok ? 'PASS' : 'FAIL'}.`,
      `A waiting process holds ${idleRss.map(mb).join(' and ')} MB resident (node, the worker, Kuzu primed, its empty copy): the pool's idle memory is the pool size times that.`,
    ];
    return { lines, ok };
  } finally {
    await store.close().catch(() => undefined);
    await Promise.all([warm.close(), cold.close(), burst.close()]);
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { lines, ok } = await cypherBench();
  console.log(lines.join('\n'));
  console.log(ok ? '\nCypher target met.' : '\nCYPHER TARGET MISSED.');
}
