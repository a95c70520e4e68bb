import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chunkText, estimateTokens, type TextChunk } from '../../src/memory/chunker.js';
import { parseCsv } from '../../src/memory/ingest/csv.js';
import { decodeEntities, htmlToText } from '../../src/memory/ingest/html.js';
import { guessMimeType } from '../../src/memory/ingest/mime.js';
import { extractText } from '../../src/memory/ingest/text.js';
import { IngestionError } from '../../src/security/local-paths.js';

/**
 * Text extraction (plain text, Markdown, CSV, JSON, HTML, PDF, binary refusal, type guessing) and
 * the chunker (packing, sentence and word cuts, invariants under fast-check, very large inputs).
 */

const info = (extension: string, mimeType: string) => ({ extension, mimeType });

/** A minimal valid PDF 1.4: one Helvetica text line per page, xref offsets computed here. */
function makePdf(pages: string[]): Buffer {
  const objects: string[] = [];
  const pageIds = pages.map((_, i) => 3 + i * 2);
  const fontId = 3 + pages.length * 2;
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  objects.push(`<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`);
  pages.forEach((text, i) => {
    const stream = `BT /F1 24 Tf 72 720 Td (${text.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj ET`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${pageIds[i]! + 1} 0 R /Resources << /Font << /F1 ${fontId} 0 R >> >> >>`);
    objects.push(`<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`);
  });
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

async function assertIngestionError(work: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof IngestionError, `expected IngestionError, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

describe('extractText: text formats', () => {
  it('decodes UTF-8 text and Markdown, dropping a BOM', async () => {
    assert.equal(await extractText(Buffer.from('\ufeffHello wörld ✓', 'utf8'), info('txt', 'text/plain')), 'Hello wörld ✓');
    const markdown = '# Title\n\nSome *markdown* text.';
    assert.equal(await extractText(Buffer.from(markdown), info('md', 'text/markdown')), markdown);
    assert.equal(await extractText(Buffer.from(markdown), info('.MARKDOWN', 'text/markdown')), markdown);
  });

  it('replaces invalid UTF-8 in declared text files', async () => {
    const bytes = Buffer.concat([Buffer.from('ok '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' end')]);
    const text = await extractText(bytes, info('txt', 'text/plain'));
    assert.ok(text.startsWith('ok '));
    assert.ok(text.endsWith(' end'));
    assert.ok(text.includes('\ufffd'));
  });

  it('decodes UTF-16 with a byte order mark', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Grüße', 'utf16le')]);
    assert.equal(await extractText(utf16, info('txt', 'text/plain')), 'Grüße');
  });

  it('renders CSV rows as "header: value" lines', async () => {
    const csv = 'name,city,note\r\nAda,London,"wrote ""notes"", first"\r\nAlan,,"multi\nline"\r\n\r\n,Paris,x,extra\r\n';
    assert.equal(
      await extractText(Buffer.from(csv), info('csv', 'text/csv')),
      'name: Ada, city: London, note: wrote "notes", first\nname: Alan, note: multi\nline\ncity: Paris, note: x, column_4: extra',
    );
    assert.equal(await extractText(Buffer.from('a;b\n1;2\n'), info('csv', 'text/csv')), 'a: 1, b: 2');
    assert.equal(await extractText(Buffer.from('a\tb\n1\t2'), info('tsv', 'text/tab-separated-values')), 'a: 1, b: 2');
    assert.equal(await extractText(Buffer.from('only,a,header\n'), info('csv', 'text/csv')), 'only, a, header');
    assert.equal(await extractText(Buffer.from(''), info('csv', 'text/csv')), '');
    assert.deepEqual(parseCsv('a,"b\r\nc",d\n"unterminated'), [['a', 'b\r\nc', 'd'], ['unterminated']]);
  });

  it('pretty-prints JSON and keeps invalid JSON as it is', async () => {
    assert.equal(
      await extractText(Buffer.from('{"a":[1,{"b":"c"}]}'), info('json', 'application/json')),
      '{\n  "a": [\n    1,\n    {\n      "b": "c"\n    }\n  ]\n}',
    );
    assert.equal(await extractText(Buffer.from('{"a": oops'), info('json', 'application/json')), '{"a": oops');
  });

  it('reads unknown extensions holding text as text and refuses binary', async () => {
    assert.equal(await extractText(Buffer.from('log line 1\nlog line 2'), info('log', 'application/octet-stream')), 'log line 1\nlog line 2');
    const binary = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0xff, 0xfe, 0x00]);
    await assertIngestionError(extractText(binary, info('exe', 'application/octet-stream')), 'Unsupported file type: .exe');
    await assertIngestionError(extractText(Buffer.from([0xff, 0x00, 0x10]), info('', 'application/octet-stream')), 'Unsupported file type: .bin');
  });
});

describe('extractText: HTML', () => {
  it('keeps visible text only, with block structure and decoded entities', async () => {
    const html = `<!DOCTYPE html>
<html><head><title>Page title</title><meta charset="utf-8"><style>p { color: red }</style>
<script>var x = "<p>not text</p>";</script></head>
<body>
  <!-- a comment <p>hidden</p> -->
  <h1 class="big">Fish &amp; Chips</h1>
  <p>First   line<br>second
     line with <a href="/x?a=1&amp;b=2" title='a > b'>a link</a>.</p>
  <noscript>Enable JavaScript</noscript><template><p>template</p></template>
  <ul><li>one</li><li>two</li></ul>
  <table><tr><td>c1</td><td>c2</td></tr></table>
  <p>&lt;tag&gt; &quot;q&quot; &#39;s&#39; &#x263A; &#9731; caf&eacute; a&nbsp;b &unknown; &amp</p>
  <SCRIPT type="text/javascript">alert("x")</SCRIPT >
  <p>a < b and c > d</p>
</body></html>`;
    assert.equal(
      await extractText(Buffer.from(html), info('html', 'text/html')),
      [
        'Fish & Chips',
        '',
        'First line',
        'second line with a link.',
        '',
        'one',
        'two',
        '',
        'c1 c2',
        '',
        '<tag> "q" \'s\' ☺ ☃ café a b &unknown; &',
        '',
        'a < b and c > d',
      ].join('\n'),
    );
  });

  it('treats unclosed constructs like browsers: dropped to the end of the document', () => {
    assert.equal(htmlToText('before<!-- never closed'), 'before');
    assert.equal(htmlToText('before<script>alert(1)'), 'before');
    assert.equal(htmlToText('before<a href="x'), 'before');
    assert.equal(htmlToText('a <3 b'), 'a <3 b');
    assert.equal(htmlToText('x</>y</ p>z'), 'xyz');
    assert.equal(htmlToText('<head><title>t</title><p>body without a closing head</p>'), 'body without a closing head');
  });

  it('decodes entities, replacing invalid code points', () => {
    assert.equal(decodeEntities('&#0; &#x110000; &#xD800; &#65;&#x42;'), '\ufffd \ufffd \ufffd AB');
    assert.equal(decodeEntities('no entities'), 'no entities');
  });

  it('finishes on hostile input (2 MB of "<" and other pathological shapes)', () => {
    const lt = htmlToText('<'.repeat(2 * 1024 * 1024));
    assert.equal(lt.length, 2 * 1024 * 1024);
    assert.equal(htmlToText('<a x="'.repeat(300_000)), '');
    assert.equal(htmlToText('</'.repeat(1_000_000)), '');
    assert.equal(htmlToText('<!--'.repeat(500_000)), '');
    assert.equal(htmlToText('<script>'.repeat(300_000)), '');
    assert.equal(htmlToText(`${'<p>'.repeat(300_000)}end`), 'end');
    assert.ok(htmlToText('&#'.repeat(1_000_000)).startsWith('&#&#'));
    assert.equal(htmlToText(`${'<b a=1 '.repeat(300_000)}>x`), 'x');
  });
});

describe('extractText: PDF', () => {
  it('reads the text of a PDF without touching the network', async () => {
    const originalFetch = globalThis.fetch;
    const fetched: string[] = [];
    globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      fetched.push(String(input));
      return originalFetch(input, init);
    }) as typeof fetch;
    try {
      const text = await extractText(makePdf(['Hello PDF world']), info('pdf', 'application/pdf'));
      assert.equal(text, 'Hello PDF world');
      const twoPages = await extractText(makePdf(['Page one (first)', 'Page two']), info('pdf', 'application/pdf'));
      assert.equal(twoPages, 'Page one (first)\n\nPage two');
    } finally {
      globalThis.fetch = originalFetch;
    }
    assert.deepEqual(fetched, []);
    // The worker code runs in-process from the installed package.
    const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
    assert.match(pdfjs.GlobalWorkerOptions.workerSrc, /^file:\/\/.*pdfjs-dist\/legacy\/build\/pdf\.worker\.mjs$/);
  });

  it('recognises a PDF by its magic bytes whatever the name', async () => {
    const pdf = makePdf(['Magic bytes']);
    assert.deepEqual(guessMimeType('upload.txt', pdf), { extension: 'pdf', mimeType: 'application/pdf' });
    assert.equal(await extractText(pdf, info('bin', 'application/octet-stream')), 'Magic bytes');
  });

  it('refuses a malformed PDF', async () => {
    await assertIngestionError(
      extractText(Buffer.from('%PDF-1.4\nthis is not really a pdf'), info('pdf', 'application/pdf')),
      'Could not read the PDF document.',
    );
    await assertIngestionError(extractText(Buffer.from('plain text named .pdf'), info('pdf', 'application/pdf')), 'Could not read the PDF document.');
    const truncated = makePdf(['Hello']).subarray(0, 60);
    await assertIngestionError(extractText(truncated, info('pdf', 'application/pdf')), 'Could not read the PDF document.');
  });
});

describe('guessMimeType', () => {
  it('goes by extension, then by content', () => {
    const text = Buffer.from('hello');
    assert.deepEqual(guessMimeType('notes.MD', text), { extension: 'md', mimeType: 'text/markdown' });
    assert.deepEqual(guessMimeType('dir/data.csv', text), { extension: 'csv', mimeType: 'text/csv' });
    assert.deepEqual(guessMimeType('C:\\docs\\page.htm', text), { extension: 'htm', mimeType: 'text/html' });
    assert.deepEqual(guessMimeType('x.json', text), { extension: 'json', mimeType: 'application/json' });
    assert.deepEqual(guessMimeType('doc.pdf', text), { extension: 'pdf', mimeType: 'application/pdf' });
    assert.deepEqual(guessMimeType('script.py', text), { extension: 'py', mimeType: 'text/plain' });
    assert.deepEqual(guessMimeType('image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff])), { extension: 'png', mimeType: 'application/octet-stream' });
    assert.deepEqual(guessMimeType('README', text), { extension: 'txt', mimeType: 'text/plain' });
    assert.deepEqual(guessMimeType('.hidden', Buffer.from([0x00, 0xff])), { extension: 'bin', mimeType: 'application/octet-stream' });
  });
});

// ------------------------------------------------------------------------------------------------

function words(text: string): string[] {
  return text.match(/\S+/g) ?? [];
}

/** The chunker's invariants for one input. */
function checkChunks(text: string, maxTokens: number, chunks: TextChunk[]): void {
  const all: string[] = [];
  let searchFrom = 0;
  chunks.forEach((chunk, index) => {
    assert.equal(chunk.chunk_index, index, 'indices are contiguous from 0');
    assert.ok(chunk.chunk_size >= 1, 'no empty chunk');
    assert.ok(chunk.chunk_size <= maxTokens, `chunk ${index} has ${chunk.chunk_size} > ${maxTokens} tokens`);
    assert.equal(chunk.chunk_size, estimateTokens(chunk.text));
    assert.ok(['paragraph_end', 'sentence_end', 'word'].includes(chunk.cut_type));
    assert.equal(chunk.text, chunk.text.trim(), 'chunks start and end with a word');
    // Each chunk is a slice of the input, in order.
    const at = text.indexOf(chunk.text, searchFrom);
    assert.ok(at >= searchFrom, 'chunk text is a slice of the input, in order');
    searchFrom = at + chunk.text.length;
    for (const word of words(chunk.text)) all.push(word);
  });
  assert.deepEqual(all, words(text), 'the words of the chunks are the words of the input');
}

describe('chunkText', () => {
  it('returns nothing for empty or blank text', () => {
    assert.deepEqual(chunkText('', 10), []);
    assert.deepEqual(chunkText(' \n\n\t ', 10), []);
  });

  it('packs consecutive paragraphs while they fit', () => {
    assert.deepEqual(chunkText('a b c\n\nd e\r\n  \r\nf g h i', 5), [
      { text: 'a b c\n\nd e', chunk_index: 0, chunk_size: 5, cut_type: 'paragraph_end' },
      { text: 'f g h i', chunk_index: 1, chunk_size: 4, cut_type: 'paragraph_end' },
    ]);
    assert.deepEqual(chunkText('one paragraph\nwith a wrapped line', 100), [
      { text: 'one paragraph\nwith a wrapped line', chunk_index: 0, chunk_size: 6, cut_type: 'paragraph_end' },
    ]);
  });

  it('cuts a long paragraph at sentence ends', () => {
    const chunks = chunkText('One two three. Four five six! Seven eight? Nine ten.', 6);
    assert.deepEqual(
      chunks.map((c) => [c.text, c.chunk_size, c.cut_type]),
      [
        ['One two three. Four five six!', 6, 'sentence_end'],
        ['Seven eight? Nine ten.', 4, 'paragraph_end'],
      ],
    );
  });

  it('cuts a long sentence between words', () => {
    const chunks = chunkText('a b c d e f g h. Next one.\n\nTail', 3);
    assert.deepEqual(
      chunks.map((c) => [c.text, c.cut_type]),
      [
        ['a b c', 'word'],
        ['d e f', 'word'],
        ['g h.', 'sentence_end'],
        // The rest of the paragraph and the next one fit together.
        ['Next one.\n\nTail', 'paragraph_end'],
      ],
    );
    assert.deepEqual(
      chunkText('w '.repeat(7), 1).map((c) => c.cut_type),
      ['word', 'word', 'word', 'word', 'word', 'word', 'paragraph_end'],
    );
  });

  it('counts a word of any length as one token', () => {
    const long = 'x'.repeat(10_000);
    assert.deepEqual(chunkText(long, 1), [{ text: long, chunk_index: 0, chunk_size: 1, cut_type: 'paragraph_end' }]);
  });

  it('refuses a non-positive limit', () => {
    assert.throws(() => chunkText('a', 0), RangeError);
    assert.throws(() => chunkText('a', Number.NaN), RangeError);
  });

  it('estimates tokens as white-space separated words', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('  one\ttwo\nthree\u00a0four  '), 4);
    assert.equal(estimateTokens('東京は大きい'), 1);
  });

  it('keeps its invariants on arbitrary text (property)', () => {
    const token = fc.oneof(
      fc.constantFrom('a', 'word', 'end.', 'what?', 'wow!', '"quoted."', 'x)', 'é', '東京。', '3.14'),
      fc.string({ minLength: 1, maxLength: 6 }).filter((s) => /^\S+$/.test(s)),
    );
    const gap = fc.constantFrom(' ', '  ', '\n', '\n\n', '\r\n\r\n', '\t', ' \n \n ', '\u00a0', '\u3000');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(token, gap), { maxLength: 120 }),
        fc.integer({ min: 1, max: 25 }),
        fc.string({ maxLength: 3 }),
        (parts, maxTokens, lead) => {
          const text = lead + parts.map(([w, g]) => w + g).join('');
          checkChunks(text, maxTokens, chunkText(text, maxTokens));
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 1, max: 10 }), (text, maxTokens) => {
        checkChunks(text, maxTokens, chunkText(text, maxTokens));
      }),
    );
  });

  it('handles 10 MB of text', () => {
    const paragraphs: string[] = [];
    let size = 0;
    for (let k = 0; size < 10 * 1024 * 1024; k++) {
      const paragraph = 'The quick brown fox jumps over the lazy dog. It was not amused! Why? '.repeat(1 + (k % 40));
      paragraphs.push(paragraph);
      size += paragraph.length + 2;
    }
    const text = paragraphs.join('\n\n');
    const chunks = chunkText(text, 256);
    assert.equal(
      chunks.reduce((sum, chunk) => sum + chunk.chunk_size, 0),
      estimateTokens(text),
    );
    assert.ok(chunks.every((chunk, index) => chunk.chunk_index === index && chunk.chunk_size <= 256 && chunk.chunk_size > 0));
    assert.ok(chunks.some((chunk) => chunk.cut_type === 'sentence_end'));
    // One 10 MB paragraph without sentence ends, and one 10 MB word.
    const flat = chunkText('word '.repeat(2 * 1024 * 1024), 1000);
    assert.equal(flat.length, Math.ceil((2 * 1024 * 1024) / 1000));
    assert.ok(flat.every((chunk) => chunk.chunk_size <= 1000));
    assert.equal(chunkText('y'.repeat(10 * 1024 * 1024), 5).length, 1);
  });
});
