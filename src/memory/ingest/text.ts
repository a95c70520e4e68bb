/**
 * Turns uploaded bytes into plain text for the memory engine: text and Markdown, CSV, JSON, HTML
 * (visible text only) and PDF (via pdfjs, in-process, no network). Every parser here runs in time
 * linear in its input; none uses a regular expression that can backtrack catastrophically.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IngestionError } from '../../security/local-paths.js';

export interface FileTypeInfo {
  /** Lower-case extension without the dot (pdf, txt, csv, ...). */
  extension: string;
  mimeType: string;
}

const MIME_BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  text: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  html: 'text/html',
  htm: 'text/html',
  xhtml: 'application/xhtml+xml',
  pdf: 'application/pdf',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  log: 'text/plain',
  rst: 'text/x-rst',
};

// ------------------------------------------------------------------------------------------------
// Decoding

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** The text of `bytes` if they are text (valid UTF-8, or UTF-16 with a BOM, without NUL), else undefined. */
function decodeIfText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) text = new TextDecoder('utf-16le', { fatal: true }).decode(bytes);
    else if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) text = new TextDecoder('utf-16be', { fatal: true }).decode(bytes);
    else text = strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
  return text.includes('\u0000') ? undefined : text;
}

/** Text of a file declared as text: UTF-8 (invalid sequences replaced) or UTF-16 with a BOM. */
function decodeText(bytes: Uint8Array): string {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    const decoded = decodeIfText(bytes);
    if (decoded !== undefined) return decoded;
  }
  return lenientUtf8.decode(bytes);
}

function hasPdfMagic(bytes: Uint8Array): boolean {
  // The header may follow a little junk; readers look in the first kilobyte.
  const window = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024));
  return window.indexOf('%PDF-', 0, 'latin1') !== -1;
}

/** Guesses the type of an upload from its name, or from its bytes when the name says nothing. */
export function guessMimeType(filename: string, bytes: Buffer): FileTypeInfo {
  const base = path.basename(filename.replace(/\\/g, '/'));
  const dot = base.lastIndexOf('.');
  const extension = dot > 0 && dot < base.length - 1 ? base.slice(dot + 1).toLowerCase() : '';
  if (hasPdfMagic(bytes)) return { extension: 'pdf', mimeType: 'application/pdf' };
  const known = MIME_BY_EXTENSION[extension];
  if (known !== undefined) return { extension, mimeType: known };
  const text = decodeIfText(bytes) !== undefined;
  if (extension === '') return text ? { extension: 'txt', mimeType: 'text/plain' } : { extension: 'bin', mimeType: 'application/octet-stream' };
  return { extension, mimeType: text ? 'text/plain' : 'application/octet-stream' };
}

// ------------------------------------------------------------------------------------------------
// CSV

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF, newlines inside quotes). */
export function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  const n = text.length;
  let quoted = false;
  while (i < n) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      const next = text.indexOf('"', i);
      const stop = next === -1 ? n : next;
      field += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === delimiter) {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function csvToText(text: string, delimiter: string): string {
  const rows = parseCsv(text, delimiter).filter((row) => row.some((cell) => cell.trim() !== ''));
  const header = rows[0];
  if (header === undefined) return '';
  const names = header.map((name, index) => (name.trim() === '' ? `column_${index + 1}` : name.trim()));
  if (rows.length === 1) return names.join(', ');
  const lines: string[] = [];
  for (const row of rows.slice(1)) {
    const cells: string[] = [];
    row.forEach((value, index) => {
      const cell = value.trim();
      if (cell !== '') cells.push(`${names[index] ?? `column_${index + 1}`}: ${cell}`);
    });
    lines.push(cells.join(', '));
  }
  return lines.join('\n');
}

/** Semicolon- or tab-separated files saved as .csv are common; pick the likeliest delimiter. */
function sniffDelimiter(text: string): string {
  const newline = text.search(/[\r\n]/);
  const firstLine = newline === -1 ? text : text.slice(0, newline);
  const count = (ch: string): number => firstLine.split(ch).length - 1;
  const candidates: Array<[string, number]> = [
    [',', count(',')],
    [';', count(';')],
    ['\t', count('\t')],
  ];
  let best: [string, number] = candidates[0]!;
  for (const candidate of candidates) if (candidate[1] > best[1]) best = candidate;
  return best[0];
}

// ------------------------------------------------------------------------------------------------
// HTML

/** Elements whose content is never shown. */
const HIDDEN_ELEMENTS = new Set(['script', 'style', 'noscript', 'template', 'title', 'iframe', 'object', 'svg', 'math']);
/** Elements that may appear in <head>; any other start tag ends the head. */
const HEAD_ELEMENTS = new Set(['title', 'meta', 'link', 'base', 'style', 'script', 'noscript', 'template']);
/** Elements that separate paragraphs. */
const PARAGRAPH_ELEMENTS = new Set([
  'p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'section', 'article', 'header', 'footer', 'main', 'aside', 'nav', 'blockquote', 'pre',
  'table', 'ul', 'ol', 'dl', 'figure', 'form', 'hr', 'address', 'details', 'fieldset', 'body', 'html',
]);
/** Elements that start a new line. */
const LINE_ELEMENTS = new Set(['br', 'div', 'li', 'tr', 'dt', 'dd', 'option', 'figcaption', 'summary', 'caption', 'legend', 'thead', 'tbody', 'tfoot']);
/** Table cells: separated by a space. */
const CELL_ELEMENTS = new Set(['td', 'th']);

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', trade: '™', hellip: '…', mdash: '—', ndash: '–',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»', bull: '•', middot: '·', euro: '€', pound: '£', yen: '¥',
  cent: '¢', deg: '°', times: '×', divide: '÷', shy: '\u00ad', sect: '§', para: '¶', plusmn: '±', frac12: '½', frac14: '¼', frac34: '¾',
  eacute: 'é', egrave: 'è', agrave: 'à', aacute: 'á', ccedil: 'ç', ouml: 'ö', uuml: 'ü', auml: 'ä', szlig: 'ß', ntilde: 'ñ',
};

/** Bounded, unnested quantifiers only: linear. */
const ENTITY = /&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{1,31}));?/g;

export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (match, decimal: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name !== undefined) {
      const named = NAMED_ENTITIES[name] ?? NAMED_ENTITIES[name.toLowerCase()];
      if (named === undefined || (!match.endsWith(';') && !['amp', 'lt', 'gt', 'quot', 'nbsp'].includes(name.toLowerCase()))) return match;
      return named;
    }
    const code = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex!, 16);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
    return String.fromCodePoint(code);
  });
}

function isAsciiLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** The visible text of an HTML document. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  const n = html.length;
  let i = 0;
  let textStart = 0;
  let inHead = false;
  /** Line breaks owed before the next visible text: 0, 1 (new line) or 2 (blank line). */
  let pendingBreak = 0;

  const emitText = (end: number): void => {
    if (end <= textStart || inHead) return;
    const segment = decodeEntities(html.slice(textStart, end)).replace(/[\t\n\f\r ]+/g, ' ');
    if (pendingBreak > 0) {
      if (segment.trim() === '') return;
      out.push(pendingBreak === 2 ? '\n\n' : '\n');
      pendingBreak = 0;
    }
    out.push(segment);
  };

  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt === -1) break;
    const next = html.charCodeAt(lt + 1);
    // Comments, doctype, processing instructions.
    if (html.startsWith('<!--', lt)) {
      emitText(lt);
      const close = html.indexOf('-->', lt + 4);
      i = close === -1 ? n : close + 3;
      textStart = i;
      continue;
    }
    if (next === 0x21 /* ! */ || next === 0x3f /* ? */) {
      emitText(lt);
      const close = html.indexOf('>', lt + 2);
      i = close === -1 ? n : close + 1;
      textStart = i;
      continue;
    }
    const closing = next === 0x2f; /* / */
    const nameStart = closing ? lt + 2 : lt + 1;
    if (!isAsciiLetter(html.charCodeAt(nameStart))) {
      if (closing) {
        // "</" followed by a non-letter is a bogus comment up to the next ">".
        emitText(lt);
        const close = html.indexOf('>', lt + 2);
        i = close === -1 ? n : close + 1;
        textStart = i;
      } else {
        // A lone "<" is text.
        i = lt + 1;
      }
      continue;
    }
    emitText(lt);
    let nameEnd = nameStart;
    while (nameEnd < n) {
      const code = html.charCodeAt(nameEnd);
      if (isAsciiLetter(code) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x3a) nameEnd++;
      else break;
    }
    const name = html.slice(nameStart, nameEnd).toLowerCase();
    // Find the end of the tag, skipping quoted attribute values.
    let j = nameEnd;
    let tagEnd = -1;
    let afterEquals = false;
    while (j < n) {
      const code = html.charCodeAt(j);
      if (code === 0x3e /* > */) {
        tagEnd = j;
        break;
      }
      if (code === 0x3d /* = */) {
        afterEquals = true;
        j++;
        continue;
      }
      if ((code === 0x22 || code === 0x27) && afterEquals) {
        const close = html.indexOf(code === 0x22 ? '"' : "'", j + 1);
        if (close === -1) break;
        j = close + 1;
        afterEquals = false;
        continue;
      }
      if (!(code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d)) afterEquals = false;
      j++;
    }
    if (tagEnd === -1) {
      // A tag left open at the end of the document is dropped, as browsers do.
      i = n;
      textStart = n;
      break;
    }
    const selfClosing = html.charCodeAt(tagEnd - 1) === 0x2f;
    i = tagEnd + 1;
    textStart = i;

    if (!closing) {
      if (name === 'head') inHead = true;
      else if (inHead && !HEAD_ELEMENTS.has(name)) inHead = false;
      if (HIDDEN_ELEMENTS.has(name) && !selfClosing) {
        // Skip to the matching end tag (or the end of the document).
        const endTag = new RegExp(`</${name}(?=[\\s/>]|$)`, 'gi');
        endTag.lastIndex = i;
        const found = endTag.exec(html);
        if (found === null) {
          i = n;
        } else {
          const close = html.indexOf('>', found.index);
          i = close === -1 ? n : close + 1;
        }
        textStart = i;
        continue;
      }
    } else if (name === 'head') {
      inHead = false;
    }
    if (PARAGRAPH_ELEMENTS.has(name)) pendingBreak = 2;
    else if (name === 'br') pendingBreak = Math.min(2, pendingBreak + 1);
    else if (LINE_ELEMENTS.has(name)) pendingBreak = Math.max(pendingBreak, 1);
    else if (CELL_ELEMENTS.has(name) && pendingBreak === 0) out.push(' ');
  }
  emitText(n);

  // Tidy: nbsp to space, trim lines, at most one blank line in a row.
  const lines = out.join('').replace(/\u00a0/g, ' ').split('\n');
  const result: string[] = [];
  let blank = true;
  for (const raw of lines) {
    const line = raw.replace(/ {2,}/g, ' ').trim();
    if (line === '') {
      if (!blank) result.push('');
      blank = true;
      continue;
    }
    result.push(line);
    blank = false;
  }
  while (result.length > 0 && result[result.length - 1] === '') result.pop();
  return result.join('\n');
}

// ------------------------------------------------------------------------------------------------
// PDF

const PDF_ERROR = 'Could not read the PDF document.';

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjsLoading: Promise<PdfJs> | undefined;

/** Loads pdfjs once, with its worker code running in this process and its data read from disk. */
function loadPdfJs(): Promise<PdfJs> {
  pdfjsLoading ??= (async () => {
    const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
    const require = createRequire(import.meta.url);
    // Node has no web workers: pdfjs imports this module in-process. Name the local file so
    // nothing is ever looked up elsewhere.
    pdfjs.GlobalWorkerOptions.workerSrc = pathToFileURL(require.resolve('pdfjs-dist/legacy/build/pdf.worker.mjs')).href;
    return pdfjs;
  })();
  pdfjsLoading.catch(() => {
    pdfjsLoading = undefined;
  });
  return pdfjsLoading;
}

function pdfDataDirectory(name: 'cmaps' | 'standard_fonts'): string {
  const require = createRequire(import.meta.url);
  return `${path.join(path.dirname(require.resolve('pdfjs-dist/package.json')), name)}${path.sep}`;
}

async function pdfToText(bytes: Buffer): Promise<string> {
  const pdfjs = await loadPdfJs();
  const task = pdfjs.getDocument({
    data: new Uint8Array(bytes),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    // Local files only (read with fs in Node).
    cMapUrl: pdfDataDirectory('cmaps'),
    cMapPacked: true,
    standardFontDataUrl: pdfDataDirectory('standard_fonts'),
    verbosity: 0,
  });
  try {
    const document = await task.promise;
    const pages: string[] = [];
    for (let number = 1; number <= document.numPages; number++) {
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      let pageText = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        pageText += item.str;
        if (item.hasEOL) pageText += '\n';
      }
      page.cleanup();
      const trimmed = pageText
        .split('\n')
        .map((line) => line.replace(/[ \t]+/g, ' ').trim())
        .join('\n')
        .trim();
      if (trimmed !== '') pages.push(trimmed);
    }
    return pages.join('\n\n');
  } catch {
    throw new IngestionError(PDF_ERROR);
  } finally {
    await task.destroy().catch(() => {});
  }
}

// ------------------------------------------------------------------------------------------------

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The text of an uploaded file. Throws IngestionError for unreadable PDFs and binary files. */
export async function extractText(bytes: Buffer, info: { extension: string; mimeType: string }): Promise<string> {
  const extension = info.extension.toLowerCase().replace(/^\./, '');
  const mime = info.mimeType.toLowerCase().split(';')[0]!.trim();

  if (extension === 'pdf' || mime === 'application/pdf') return pdfToText(bytes);
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
  if (hasPdfMagic(bytes)) return pdfToText(bytes);
  const text = decodeIfText(bytes);
  if (text !== undefined) return stripBom(text);
  throw new IngestionError(`Unsupported file type: .${extension === '' ? 'bin' : extension}`);
}
