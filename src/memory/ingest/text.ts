/**
 * Turns uploaded bytes into plain text for the memory engine: text and Markdown, CSV, JSON, HTML
 * (visible text only) and PDF (via pdfjs, no network). Every parser here runs in time linear in its
 * input; none uses a regular expression that can backtrack catastrophically.
 *
 * `extractText` is the dispatcher to every parser. The server never calls it on its own thread: the
 * memory engine reaches it through the parser pool (`parser-pool.ts`), whose worker threads
 * (`parser-worker.ts`) run it within a time, memory, page and size limit. A loader added here is
 * therefore bounded like the others.
 */
import { IngestionError } from '../../security/local-paths.js';
import { csvToText, sniffDelimiter } from './csv.js';
import { decodeIfText, decodeText, stripBom } from './decode.js';
import { htmlToText } from './html.js';
import { hasPdfMagic } from './mime.js';
import { ParserLimitError, type ParseLimits } from './parser-errors.js';
import { pdfToText } from './pdf.js';

/** The text of an uploaded file. Throws IngestionError for unreadable PDFs and binary files, ParserLimitError past a limit. */
export async function extractText(bytes: Buffer, info: { extension: string; mimeType: string }, limits: ParseLimits = {}): Promise<string> {
  const text = await dispatch(bytes, info, limits);
  if (limits.maxOutputChars !== undefined && text.length > limits.maxOutputChars) throw ParserLimitError.output(limits.maxOutputChars);
  return text;
}

async function dispatch(bytes: Buffer, info: { extension: string; mimeType: string }, limits: ParseLimits): Promise<string> {
  const extension = info.extension.toLowerCase().replace(/^\./, '');
  const mime = info.mimeType.toLowerCase().split(';')[0]!.trim();

  if (extension === 'pdf' || mime === 'application/pdf') return pdfToText(bytes, limits);
  if (['html', 'htm', 'xhtml'].includes(extension) || mime === 'text/html' || mime === 'application/xhtml+xml') {
    return htmlToText(stripBom(decodeText(bytes)));
  }
  if (extension === 'csv' || extension === 'tsv' || mime === 'text/csv' || mime === 'text/tab-separated-values') {
    const text = stripBom(decodeText(bytes));
    return csvToText(text, extension === 'tsv' || mime === 'text/tab-separated-values' ? '\t' : sniffDelimiter(text));
  }
  if (extension === 'json' || mime === 'application/json') {
    const text = stripBom(decodeText(bytes));
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }
  if (['txt', 'md', 'markdown', 'text'].includes(extension) || mime.startsWith('text/')) return stripBom(decodeText(bytes));
  if (hasPdfMagic(bytes)) return pdfToText(bytes, limits);
  const text = decodeIfText(bytes);
  if (text !== undefined) return stripBom(text);
  throw new IngestionError(`Unsupported file type: .${extension === '' ? 'bin' : extension}`);
}
