/**
 * The memory engine: ingest + cognify throughput, and search latency through the API against the raw
 * engines doing the same work in the same run.
 *
 *  1. A generated corpus (default 1,000 documents of 10 paragraphs, one chunk each: 10,000 chunks) is
 *     added with `POST /api/v1/add_text` and cognified with `POST /api/v1/cognify` (blocking) against
 *     the real server in its own process, multi-tenant mode, SQLite + Kuzu + LanceDB, offline
 *     providers: documents per minute.
 *  2. `POST /api/v1/search` with `only_context`, sequential, for `CHUNKS` and `GRAPH_COMPLETION`:
 *     p50/p99 over HTTP (authentication, permission check, dataset routing, JSON included).
 *  3. The server is stopped (Kuzu holds its file) and the raw engines open the dataset's files
 *     in this process: for CHUNKS the LanceDB vector query (embedding included); for
 *     GRAPH_COMPLETION the same five LanceDB queries plus the Kuzu traversal around the seed nodes.
 *     Ratio API ÷ raw, target ≤ 2.
 *
 * Run alone with `node --import tsx bench/memory.ts`, or as part of `npm run bench`.
 * BENCH_MEMORY_DOCS (default 1000), BENCH_MEMORY_SAMPLES (default 200).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import kuzu from 'kuzu';
import { loadConfig } from '../src/config/index.js';
import { HashingEmbedder } from '../src/memory/providers/offline.js';
import { openRelationalStore } from '../src/storage/index.js';

const DOCS = Number(process.env.BENCH_MEMORY_DOCS ?? 1000);
const SAMPLES = Number(process.env.BENCH_MEMORY_SAMPLES ?? 200);
const PARAGRAPHS = 10;
const TSX = import.meta.resolve('tsx');

const WORDS =
  'river mountain engine station signal harbor garden library market bridge tower forest valley canal archive beacon compass lantern orchard quarry'.split(' ');
const NAMES = [
  'Ada Lovelace',
  'Charles Babbage',
  'Grace Hopper',
  'Alan Turing',
  'Katherine Johnson',
  'John Neumann',
  'Hedy Lamarr',
  'Claude Shannon',
  'Mary Somerville',
  'Emmy Noether',
];
const PLACES = ['London', 'Paris', 'Geneva', 'Boston', 'Lisbon', 'Vienna', 'Oslo', 'Prague'];

/** A deterministic pseudo-random corpus: each paragraph is one chunk of ~30 words. */
function corpus(): string[] {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const docs: string[] = [];
  for (let d = 0; d < DOCS; d++) {
    const paragraphs: string[] = [];
    for (let p = 0; p < PARAGRAPHS; p++) {
      const filler = Array.from({ length: 18 }, () => pick(WORDS)).join(' ');
      paragraphs.push(
        `${pick(NAMES)} visited ${pick(PLACES)} in ${1800 + (d % 200)} to study the ${filler} with ${pick(NAMES)} near the ${pick(WORDS)} (doc ${d} part ${p}).`,
      );
    }
    docs.push(paragraphs.join('\n\n'));
  }
  return docs;
}

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

async function json(url: string, init: RequestInit): Promise<any> {
  const response = await fetch(url, init);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const queries = () => Array.from({ length: SAMPLES }, (_, i) => `${NAMES[i % NAMES.length]} ${WORDS[(i * 7) % WORDS.length]} ${PLACES[i % PLACES.length]}`);

export async function memoryBench(): Promise<{ lines: string[]; ok: boolean }> {
  const root = mkdtempSync(join(tmpdir(), 'engram-bench-memory-'));
  const env: Record<string, string> = {
    SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
    DATA_ROOT_DIRECTORY: join(root, 'data'),
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    HTTP_API_HOST: '127.0.0.1',
    FASTAPI_USERS_JWT_SECRET: 'memory-bench-secret-0123456789-abcdefghijkl',
    CHUNK_SIZE: '40',
  };
  try {
    const child = fork(join(import.meta.dirname, 'server.ts'), [], {
      execArgv: ['--import', TSX],
      env: { PATH: process.env.PATH ?? '', ENGRAM_BENCH_CWD: root, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.on('message', (m: { type: string; url?: string }) => m.type === 'ready' && resolve(m.url!));
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    let datasetId = '';
    const api: Record<string, number[]> = { CHUNKS: [], GRAPH_COMPLETION: [] };
    let ingestSeconds = 0;
    let cognifySeconds = 0;
    let chunkCount = 0;
    try {
      const email = 'memory-runner@example.com';
      const password = 'Quiet-orchard-9137!';
      const registered = await fetch(`${url}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);
      const { access_token: token } = await json(`${url}/api/v1/auth/login`, { method: 'POST', body: new URLSearchParams({ username: email, password }) });
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const docs = corpus();
      const t0 = performance.now();
      for (let i = 0; i < docs.length; i += 50) {
        const added = await json(`${url}/api/v1/add_text`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ textData: docs.slice(i, i + 50), datasetName: 'bench' }),
        });
        datasetId = added.dataset_id;
      }
      const t1 = performance.now();
      await json(`${url}/api/v1/cognify`, { method: 'POST', headers, body: JSON.stringify({ datasetIds: [datasetId] }) });
      const t2 = performance.now();
      ingestSeconds = (t1 - t0) / 1000;
      cognifySeconds = (t2 - t1) / 1000;
      const summary = await json(`${url}/api/v1/datasets/graph-summary?dataset_ids=${datasetId}`, { headers });
      void summary;

      for (const type of ['CHUNKS', 'GRAPH_COMPLETION'] as const) {
        const qs = queries();
        for (const q of qs.slice(0, 20))
          await json(`${url}/api/v1/search`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ searchType: type, query: q, datasetIds: [datasetId], onlyContext: true, topK: 15 }),
          });
        for (const q of qs) {
          const s = performance.now();
          const r = await json(`${url}/api/v1/search`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ searchType: type, query: q, datasetIds: [datasetId], onlyContext: true, topK: 15 }),
          });
          api[type]!.push(performance.now() - s);
          if (type === 'CHUNKS') chunkCount = Math.max(chunkCount, (r[0].search_result as unknown[]).length);
        }
      }
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'shutdown' });
      await exited;
    }

    // The raw engines on the dataset's own files.
    const config = loadConfig(env, root);
    const store = openRelationalStore(config);
    const row = await store.db.selectFrom('dataset_database').selectAll().where('dataset_id', '=', datasetId).executeTakeFirstOrThrow();
    await store.close();
    const embedder = new HashingEmbedder({ dimensions: config.memory.embedding.dimensions });
    const lance = await lancedb.connect(row.vector_database_url!);
    const tables = new Map<string, lancedb.Table>();
    for (const name of await lance.tableNames()) tables.set(name, await lance.openTable(name));
    // The chunks the cognify run really wrote (not what the corpus was meant to give).
    const chunksTotal = (await tables.get('DocumentChunk_text')?.countRows(`dataset_id = '${datasetId}'`)) ?? 0;
    const db = new kuzu.Database(join(config.systemRoot, 'databases', row.owner_id, row.graph_database_name!));
    const conn = new kuzu.Connection(db);
    const filter = `dataset_id = '${datasetId}'`;
    const vectorQuery = async (collection: string, vector: number[], limit: number) => {
      const table = tables.get(collection);
      if (!table) return [];
      return (await table
        .vectorSearch(Float32Array.from(vector))
        .distanceType('cosine')
        .where(filter)
        .select(['id', 'payload', 'belongs_to_set', '_distance'])
        .limit(limit)
        .toArray()) as { id: string; _distance: number }[];
    };
    const out = await conn.prepare(
      'UNWIND $pks AS k MATCH (a:Node {pk: k})-[e:EDGE]->(b:Node) WHERE b.dataset_id = $dataset RETURN ID(e) AS eid, a AS a, e.relationship_name AS relationship, e.properties AS properties, b AS b',
    );
    const inc = await conn.prepare(
      'UNWIND $pks AS k MATCH (a:Node)-[e:EDGE]->(b:Node {pk: k}) WHERE a.dataset_id = $dataset RETURN ID(e) AS eid, a AS a, e.relationship_name AS relationship, e.properties AS properties, b AS b',
    );
    const raw: Record<string, number[]> = { CHUNKS: [], GRAPH_COMPLETION: [] };
    const rawChunks = async (q: string) => {
      const [v] = await embedder.embed([q]);
      return vectorQuery('DocumentChunk_text', v!, 15);
    };
    const rawGraph = async (q: string) => {
      const [v] = await embedder.embed([q]);
      const distances = new Map<string, number>();
      for (const c of ['Entity_name', 'TextSummary_text', 'EntityType_name', 'DocumentChunk_text', 'EdgeType_relationship_name']) {
        for (const hit of await vectorQuery(c, v!, 60)) distances.set(hit.id, Math.min(distances.get(hit.id) ?? Infinity, hit._distance));
      }
      const seeds = [...distances.entries()]
        .sort((a, b) => a[1] - b[1])
        .slice(0, 30)
        .map(([id]) => `${datasetId}:${id}`);
      const rows: unknown[] = [];
      for (const statement of [out, inc]) {
        const result = await conn.execute(statement, { pks: seeds, dataset: datasetId });
        const results = Array.isArray(result) ? result : [result];
        try {
          for (const r of results) rows.push(...(await r.getAll()));
        } finally {
          for (const r of results) r.close();
        }
      }
      return rows;
    };
    try {
      for (const [type, fn] of [
        ['CHUNKS', rawChunks],
        ['GRAPH_COMPLETION', rawGraph],
      ] as const) {
        const qs = queries();
        for (const q of qs.slice(0, 20)) await fn(q);
        for (const q of qs) {
          const s = performance.now();
          await fn(q);
          raw[type]!.push(performance.now() - s);
        }
      }
    } finally {
      await conn.close();
      await db.close();
    }

    const lines: string[] = [];
    let ok = true;
    const fmt = (n: number, d = 2) => n.toFixed(d);
    lines.push('## Memory engine');
    lines.push('');
    lines.push(
      `Corpus: ${DOCS.toLocaleString('en-US')} generated documents of ${PARAGRAPHS} paragraphs (${chunksTotal.toLocaleString('en-US')} chunks), multi-tenant mode,`,
    );
    lines.push('SQLite + Kuzu + LanceDB, offline providers (rule-based extraction, hashing embeddings), the server in its own process.');
    lines.push('');
    lines.push('| Phase | Seconds | Documents/min |');
    lines.push('|---|---:|---:|');
    lines.push(`| add_text (50 documents per request) | ${fmt(ingestSeconds, 1)} | ${fmt((DOCS / ingestSeconds) * 60, 0)} |`);
    lines.push(`| cognify (blocking) | ${fmt(cognifySeconds, 1)} | ${fmt((DOCS / cognifySeconds) * 60, 0)} |`);
    lines.push(`| add + cognify | ${fmt(ingestSeconds + cognifySeconds, 1)} | ${fmt((DOCS / (ingestSeconds + cognifySeconds)) * 60, 0)} |`);
    lines.push('');
    lines.push(`Search latency, ${SAMPLES} sequential queries each, \`only_context\`, top_k 15. API = \`POST /api/v1/search\` over HTTP;`);
    lines.push("raw = the same LanceDB queries (and, for GRAPH_COMPLETION, the same Kuzu traversal) in-process on the dataset's files.");
    lines.push('');
    lines.push('| Search type | API p50 (ms) | API p99 (ms) | Raw p50 (ms) | Raw p99 (ms) | p50 ratio | Target | Result |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---|');
    for (const type of ['CHUNKS', 'GRAPH_COMPLETION'] as const) {
      const a = quantiles(api[type]!);
      const r = quantiles(raw[type]!);
      const ratio = a.p50 / r.p50;
      const pass = ratio <= 2;
      ok &&= pass;
      lines.push(`| ${type} | ${fmt(a.p50)} | ${fmt(a.p99)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(ratio)} | ≤ 2 | ${pass ? 'PASS' : 'FAIL'} |`);
    }
    if (chunkCount !== 15) {
      ok = false;
      lines.push('', `CHUNKS returned ${chunkCount} results instead of 15.`);
    }
    return { lines, ok };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { lines, ok } = await memoryBench();
  console.log(lines.join('\n'));
  console.log(ok ? '\nMemory targets met.' : '\nMEMORY TARGETS MISSED.');
}
