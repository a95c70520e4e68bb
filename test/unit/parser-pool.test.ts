/**
 * The document parser pool (D22): every document is parsed in a parser process, within a time limit
 * (the process is killed and replaced), a memory limit (the process's heap), a page limit and size
 * limits, with at most PARSER_WORKERS processes at once. The server's own thread never runs a parser.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { ParserLimitError } from '../../src/memory/ingest/parser-errors.js';
import { ParserPool } from '../../src/memory/ingest/parser-pool.js';
import { IngestionError } from '../../src/security/local-paths.js';
import { makePdf, nestedFormsPdf } from '../helpers/pdf.js';

const PDF = { extension: 'pdf', mimeType: 'application/pdf' };
const TXT = { extension: 'txt', mimeType: 'text/plain' };
const CSV = { extension: 'csv', mimeType: 'text/csv' };
/** A parse that never finishes: 10^7 nested form calls, each drawing a letter. */
const HOSTILE = nestedFormsPdf(7);

function limitError(limit: ParserLimitError['limit'], message: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ParserLimitError, `expected ParserLimitError, got ${String(error)}`);
    assert.ok(error instanceof IngestionError, 'a limit error is an ingestion error (415 IngestionError)');
    assert.equal(error.limit, limit);
    assert.equal(error.message, message);
    return true;
  };
}

describe('D22: the parser pool', () => {
  const pools: ParserPool[] = [];
  const pool = (options: ConstructorParameters<typeof ParserPool>[0]) => {
    const made = new ParserPool(options);
    pools.push(made);
    return made;
  };
  after(async () => {
    for (const each of pools) await each.close();
  });

  it('parses every format in a parser process, as the parsers themselves do', async () => {
    const parsers = pool({ workers: 1 });
    assert.equal(await parsers.extract(makePdf(['Page one', 'Page two']), PDF), 'Page one\n\nPage two');
    assert.equal(await parsers.extract(Buffer.from('<p>Hello <b>HTML</b></p>'), { extension: 'html', mimeType: 'text/html' }), 'Hello HTML');
    assert.equal(await parsers.extract(Buffer.from('a,b\n1,2\n'), CSV), 'a: 1, b: 2');
    assert.equal(await parsers.extract(Buffer.from('\ufeffplain'), TXT), 'plain');
    await assert.rejects(parsers.extract(Buffer.from('%PDF-1.4\nnot really'), PDF), (error: unknown) => {
      assert.ok(error instanceof IngestionError && !(error instanceof ParserLimitError));
      assert.equal(error.message, 'Could not read the PDF document.');
      return true;
    });
    await assert.rejects(parsers.extract(Buffer.from([0xff, 0x00, 0x10]), { extension: 'exe', mimeType: 'application/octet-stream' }), {
      name: 'IngestionError',
      message: 'Unsupported file type: .exe',
    });
    assert.equal(parsers.size, 1, 'one process served every document');
  });

  it('stops a parse past its time limit, and the pool goes on with a fresh process', async () => {
    const parsers = pool({ workers: 1, timeoutMs: 5000 });
    await assert.rejects(
      parsers.extract(HOSTILE, PDF),
      limitError('time', 'Parsing the document took longer than its time limit of 5000 ms (PARSER_TIMEOUT_MS).'),
    );
    assert.equal(parsers.busy, 0);
    assert.equal(await parsers.extract(makePdf(['Served after the timeout']), PDF), 'Served after the timeout');
    assert.equal(parsers.size, 1);
  });

  it("stops a parse past its memory limit (the process's heap), and the pool goes on", async () => {
    const parsers = pool({ workers: 1, maxMemoryMb: 128 });
    // One CSV row of three million distinct cells: hundreds of MB of strings and arrays on the heap.
    const header = Array.from({ length: 3_000_000 }, (_, i) => `c${i}`).join(',');
    await assert.rejects(
      parsers.extract(Buffer.from(header), CSV),
      limitError('memory', 'Parsing the document needed more than its memory limit of 128 MB (PARSER_MAX_MEMORY_MB).'),
    );
    assert.equal(await parsers.extract(Buffer.from('a,b\n1,2\n'), CSV), 'a: 1, b: 2');
  });

  it('refuses a PDF with more pages than PARSER_MAX_PAGES, and documents past the size limits', async () => {
    const parsers = pool({ workers: 1, maxPages: 30, maxOutputChars: 1024 });
    const pages = (n: number) => makePdf(Array.from({ length: n }, (_, i) => `Page ${i + 1} `.padEnd(30, '.')));
    assert.equal((await parsers.extract(pages(30), PDF)).split('\n\n').length, 30);
    await assert.rejects(parsers.extract(pages(31), PDF), limitError('pages', 'The PDF document has 31 pages; at most 30 are read (PARSER_MAX_PAGES).'));
    await assert.rejects(
      parsers.extract(Buffer.from('x'.repeat(1025)), TXT),
      limitError('output', "The document's text is longer than 1024 characters (PARSER_MAX_OUTPUT_CHARS)."),
    );
    // 30 pages of 30 characters fit; 40 pages give 1,200 characters and more.
    const longer = new ParserPool({ workers: 1, maxPages: 100, maxOutputChars: 1024 });
    pools.push(longer);
    await assert.rejects(longer.extract(pages(40), PDF), limitError('output', "The document's text is longer than 1024 characters (PARSER_MAX_OUTPUT_CHARS)."));
    const small = pool({ workers: 1, maxInputBytes: 4096 });
    await assert.rejects(
      small.extract(Buffer.alloc(4097, 0x61), TXT),
      limitError('input', 'The document is 4097 bytes; at most 4096 bytes are parsed (PARSER_MAX_INPUT_BYTES).'),
    );
    assert.equal(small.size, 0, 'a document over the input limit never reaches a parser process');
  });

  it('runs at most PARSER_WORKERS parses at once; the others wait their turn', async () => {
    const parsers = pool({ workers: 2, timeoutMs: 3000 });
    const seen = { busy: 0, size: 0 };
    const observe = () => {
      seen.busy = Math.max(seen.busy, parsers.busy);
      seen.size = Math.max(seen.size, parsers.size);
    };
    const jobs = [0, 1, 2].map(() => parsers.extract(HOSTILE, PDF).then(observeAndKeep, observeAndKeep));
    function observeAndKeep(outcome: unknown) {
      observe();
      return outcome;
    }
    observe();
    assert.deepEqual([parsers.busy, parsers.waiting], [2, 1], 'two parse, the third waits');
    const watcher = setInterval(observe, 5);
    const outcomes = await Promise.all(jobs);
    clearInterval(watcher);
    for (const outcome of outcomes) {
      assert.ok(outcome instanceof ParserLimitError && outcome.limit === 'time', `every hostile parse ends on its time limit: ${String(outcome)}`);
    }
    assert.deepEqual(seen, { busy: 2, size: 2 });
  });

  it('is the only way to the parsers: no module of the server imports them but the parser process', () => {
    const parsers = ['text', 'pdf', 'html', 'csv'].map((name) => new RegExp(`from '[^']*/ingest/${name}\\.js'|from '\\./${name}\\.js'`));
    const allowed = new Set(['src/memory/ingest/parser-worker.ts', 'src/memory/ingest/text.ts']);
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !allowed.has(relative('.', path))) {
          const source = readFileSync(path, 'utf8');
          if (parsers.some((pattern) => pattern.test(source))) offenders.push(relative('.', path));
        }
      }
    };
    walk('src');
    assert.deepEqual(offenders, []);
  });
});
