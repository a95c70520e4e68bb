/**
 * The Cypher sandbox process (started by `sandbox.ts`, never imported by the server).
 *
 * Reads two lines of JSON from stdin. The first, a `SandboxSetup` (the copy's resources), comes as
 * soon as the process starts: a process meant to wait in the sandbox's pool first runs a made-up
 * query on a made-up graph in a throwaway database (`prime`: Kuzu's code for the copy and a query
 * is then loaded), then every process opens an empty in-memory Kuzu database with the store's
 * schema (`openEmptyCopy`) and writes `{"type":"warm"}` — a warm process holds no dataset's data.
 * The second, a `SandboxRequest` (one dataset's subgraph, the query and its limits), may come much
 * later: it copies the subgraph into that database, writes `{"type":"ready"}` when the query
 * starts, runs it read-only (`runReadOnly`) and writes one line with the outcome:
 * `{"type":"rows","rows":[...]}` or `{"type":"error","kind":"time"|"memory"|"size"|"failed","message":...}`;
 * then exits (the server kills it once it has the answer). A process serves one query only, so no
 * dataset's data outlives it. It exits too when its stdin closes (the server is gone, or no longer
 * needs it). The parent enforces the limits by killing it; the checks here only give a cleaner
 * answer when Kuzu stops first.
 */
import { GraphQueryTimeoutError } from '../stores/common.js';
import type { CopyEdgeRow, CopyNodeRow } from '../types.js';
import { fillCopy, openEmptyCopy, runReadOnly } from './copy-engine.js';

/** The first line: what the empty copy may use. */
export interface SandboxSetup {
  readonly bufferPoolBytes: number;
  readonly threads: number;
  /** Run a made-up query first (a process that waits in the pool; one started for a query has no time to spare). */
  readonly prime: boolean;
}

/** The second line: the query and the dataset it runs on. */
export interface SandboxRequest {
  readonly query: string;
  /** What is left of the query's time limit once it starts, in ms. */
  readonly timeoutMs: number;
  readonly maxRows: number;
  /** Largest answer line (the rows as JSON), in bytes. */
  readonly maxAnswerBytes: number;
  readonly nodes: readonly CopyNodeRow[];
  readonly edges: readonly CopyEdgeRow[];
}

export type SandboxMessage =
  | { readonly type: 'warm' }
  | { readonly type: 'ready' }
  | { readonly type: 'rows'; readonly rows: Record<string, unknown>[] }
  | { readonly type: 'error'; readonly kind: 'time' | 'memory' | 'size' | 'failed'; readonly message: string };

/** Kuzu's words when its buffer pool (or the allocator behind it) runs out. */
const OUT_OF_MEMORY = /buffer pool is full|unable to allocate|out of memory|bad_alloc/i;

function writeLine(line: string): Promise<void> {
  return new Promise((done) => process.stdout.write(`${line}\n`, () => done()));
}

function send(message: SandboxMessage): Promise<void> {
  return writeLine(JSON.stringify(message));
}

/** Lines of stdin, in order; stdin stays open (its end means the server is gone). */
class LineReader {
  private pending: Buffer = Buffer.alloc(0);
  private readonly lines: string[] = [];
  private waiter: ((line: string | undefined) => void) | undefined;
  ended = false;

  constructor(input: NodeJS.ReadableStream) {
    input.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      let newline: number;
      while ((newline = this.pending.indexOf(0x0a)) >= 0) {
        this.lines.push(this.pending.subarray(0, newline).toString('utf8'));
        this.pending = this.pending.subarray(newline + 1);
      }
      this.wake();
    });
    input.on('end', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** The next line as JSON; undefined once stdin has ended. */
  next<T>(): Promise<T | undefined> {
    return new Promise<string | undefined>((resolve) => {
      this.waiter = resolve;
      this.wake();
    }).then((line) => (line === undefined ? undefined : (JSON.parse(line) as T)));
  }

  private wake(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const line = this.lines.shift();
    if (line !== undefined) {
      this.waiter = undefined;
      waiter(line);
    } else if (this.ended) {
      this.waiter = undefined;
      waiter(undefined);
    }
  }
}

/** A made-up graph of three nodes: no dataset's data. */
const PRIMER_TIME = '2000-01-01T00:00:00.000Z';
const PRIMER_NODES: CopyNodeRow[] = ['a', 'b', 'c'].map((id) => ({
  pk: `primer:${id}`,
  id,
  dataset_id: 'primer',
  name: id,
  type: 'Entity',
  properties: '{}',
  created_at: PRIMER_TIME,
  updated_at: PRIMER_TIME,
}));
const PRIMER_EDGES: CopyEdgeRow[] = [
  { source: 'primer:a', target: 'primer:b', relationship_name: 'r', properties: '{}', created_at: PRIMER_TIME, updated_at: PRIMER_TIME },
  { source: 'primer:b', target: 'primer:c', relationship_name: 'r', properties: '{}', created_at: PRIMER_TIME, updated_at: PRIMER_TIME },
];

/**
 * Runs the copy and a query once on a made-up graph in a throwaway database, so that Kuzu's code
 * for them is loaded and compiled before the process waits: a query then pays none of it.
 */
async function prime(resources: { bufferPoolBytes: number; threads: number }): Promise<void> {
  const { db, conn } = await openEmptyCopy(resources);
  try {
    await fillCopy(conn, PRIMER_NODES, PRIMER_EDGES);
    await runReadOnly(
      conn,
      "MATCH (a:Node)-[e:EDGE]->(b:Node) WHERE a.type = 'Entity' RETURN a.name AS src, e.relationship_name AS rel, b AS dst ORDER BY src",
      5000,
      10,
    );
  } finally {
    await conn.close();
    await db.close();
  }
}

async function main(): Promise<void> {
  const input = new LineReader(process.stdin);
  const setup = await input.next<SandboxSetup>();
  if (!setup) process.exit(0);
  const resources = { bufferPoolBytes: setup.bufferPoolBytes, threads: setup.threads };
  if (setup.prime) await prime(resources);
  const { conn } = await openEmptyCopy(resources);
  await send({ type: 'warm' });
  // Waiting in the pool: the server closes stdin when it no longer needs this process (or is gone).
  const request = await input.next<SandboxRequest>();
  if (!request) process.exit(0);
  // The server closes stdin when it no longer waits for the answer (or is gone).
  if (input.ended) process.exit(2);
  process.stdin.on('end', () => process.exit(2));

  await fillCopy(conn, request.nodes, request.edges);
  await send({ type: 'ready' });
  let line: string;
  try {
    const rows = await runReadOnly(conn, request.query, request.timeoutMs, request.maxRows);
    line = JSON.stringify({ type: 'rows', rows } satisfies SandboxMessage);
    if (Buffer.byteLength(line) > request.maxAnswerBytes) {
      line = JSON.stringify({ type: 'error', kind: 'size', message: 'the answer is too large' } satisfies SandboxMessage);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const kind = error instanceof GraphQueryTimeoutError ? 'time' : OUT_OF_MEMORY.test(message) ? 'memory' : 'failed';
    line = JSON.stringify({ type: 'error', kind, message } satisfies SandboxMessage);
  }
  await writeLine(line);
  // Closing the in-memory database is not worth waiting for: the process ends.
  process.exit(0);
}

main().catch(async (error: unknown) => {
  await send({ type: 'error', kind: 'failed', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
