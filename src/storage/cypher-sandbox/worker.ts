/**
 * The Cypher sandbox process (started by `sandbox.ts`, never imported by the server).
 *
 * Reads one line of JSON from stdin (a `SandboxRequest`: one dataset's subgraph, the query and its
 * limits), copies the subgraph into a fresh in-memory Kuzu database with a small buffer pool
 * (`openDatasetCopy`), writes `{"type":"ready"}` when the query starts, runs it read-only
 * (`runReadOnly`) and writes one line with the outcome: `{"type":"rows","rows":[...]}` or
 * `{"type":"error","kind":"time"|"memory"|"size"|"failed","message":...}`; then exits. It exits
 * too when its stdin closes (the server is gone). The parent enforces the limits by killing it;
 * the checks here only give a cleaner answer when Kuzu stops first.
 */
import { GraphQueryTimeoutError } from '../stores/common.js';
import type { CopyEdgeRow, CopyNodeRow } from '../types.js';
import { openDatasetCopy, runReadOnly } from './copy-engine.js';

export interface SandboxRequest {
  readonly query: string;
  /** What is left of the query's time limit once it starts, in ms. */
  readonly timeoutMs: number;
  readonly maxRows: number;
  /** Largest answer line (the rows as JSON), in bytes. */
  readonly maxAnswerBytes: number;
  readonly bufferPoolBytes: number;
  readonly threads: number;
  readonly nodes: readonly CopyNodeRow[];
  readonly edges: readonly CopyEdgeRow[];
}

export type SandboxMessage =
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

/** The first line of stdin; stdin stays open (its end means the server is gone). */
function readRequest(): Promise<SandboxRequest> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      const newline = chunk.indexOf(0x0a);
      if (newline < 0) {
        parts.push(chunk);
        return;
      }
      parts.push(chunk.subarray(0, newline));
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as SandboxRequest);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const onEnd = (): void => reject(new Error('no request'));
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
  });
}

async function main(): Promise<void> {
  const request = await readRequest();
  // The server closes stdin when it no longer waits for the answer (or is gone).
  process.stdin.on('end', () => process.exit(2));

  const { conn } = await openDatasetCopy(request.nodes, request.edges, {
    bufferPoolBytes: request.bufferPoolBytes,
    threads: request.threads,
  });
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
