/**
 * A document parser process (forked by `parser-pool.ts` with an IPC channel, never imported by the
 * server).
 *
 * Loads pdfjs, says `{"type":"ready"}`, then parses one document per message with `extractText`
 * (the dispatcher to every parser) and answers `{"type":"text"}` or `{"type":"error"}` with the
 * error's name and message. The pool enforces the time limit by killing the process, V8 the memory
 * limit (`--max-old-space-size`); the page and size limits are checked here, inside the parsers. The
 * process exits when its channel closes (the server is gone).
 */
import type { ParserLimit } from './parser-errors.js';
import { ParserLimitError } from './parser-errors.js';
import { extractText } from './text.js';

export interface ParseRequest {
  readonly id: number;
  /** The document's bytes (transferred). */
  readonly bytes: Uint8Array;
  readonly extension: string;
  readonly mimeType: string;
  readonly maxPages: number;
  readonly maxOutputChars: number;
}

export type ParseAnswer =
  | { readonly type: 'ready' }
  | { readonly type: 'text'; readonly id: number; readonly text: string }
  | { readonly type: 'error'; readonly id: number; readonly name: string; readonly message: string; readonly limit?: ParserLimit };

if (process.send === undefined) throw new Error('parser-worker.ts runs as a process forked by the parser pool');
const send = (answer: ParseAnswer): void => void process.send!(answer);
process.on('disconnect', () => process.exit(0));

process.on('message', (request: ParseRequest) => {
  const bytes = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
  extractText(bytes, { extension: request.extension, mimeType: request.mimeType }, { maxPages: request.maxPages, maxOutputChars: request.maxOutputChars }).then(
    (text) => send({ type: 'text', id: request.id, text }),
    (error: unknown) => {
      const answer: ParseAnswer =
        error instanceof Error
          ? { type: 'error', id: request.id, name: error.name, message: error.message, ...(error instanceof ParserLimitError ? { limit: error.limit } : {}) }
          : { type: 'error', id: request.id, name: 'Error', message: String(error) };
      send(answer);
    },
  );
});

/** A one-page PDF showing one word in Helvetica. */
function warmUpPdf(): Buffer {
  const text = 'BT /F1 12 Tf 72 720 Td (ready) Tj ET';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

// pdfjs (its library, its worker code, the standard font data) is loaded by parsing a small PDF
// before the process says it is ready, so loading never counts in a document's time limit.
await extractText(warmUpPdf(), { extension: 'pdf', mimeType: 'application/pdf' });
send({ type: 'ready' });
