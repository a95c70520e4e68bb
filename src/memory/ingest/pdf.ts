/** The text of PDF documents, via pdfjs, in-process, no network. */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IngestionError } from '../../security/local-paths.js';
import { ParserLimitError, type ParseLimits } from './parser-errors.js';

const PDF_ERROR = 'Could not read the PDF document.';

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjsLoading: Promise<PdfJs> | undefined;

/** Loads pdfjs once, with its worker code running in this thread and its data read from disk. */
export function loadPdfJs(): Promise<PdfJs> {
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

/** The text of a PDF document: at most `limits.maxPages` pages and `limits.maxOutputChars` characters, else ParserLimitError. */
export async function pdfToText(bytes: Buffer, limits: ParseLimits = {}): Promise<string> {
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
    if (limits.maxPages !== undefined && document.numPages > limits.maxPages) throw ParserLimitError.pages(document.numPages, limits.maxPages);
    const pages: string[] = [];
    let length = 0;
    for (let number = 1; number <= document.numPages; number++) {
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      let pageText = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        pageText += item.str;
        if (item.hasEOL) pageText += '\n';
        if (limits.maxOutputChars !== undefined && length + pageText.length > limits.maxOutputChars * 2) throw ParserLimitError.output(limits.maxOutputChars);
      }
      page.cleanup();
      const trimmed = pageText
        .split('\n')
        .map((line) => line.replace(/[ \t]+/g, ' ').trim())
        .join('\n')
        .trim();
      if (trimmed !== '') pages.push(trimmed);
      length += trimmed.length + 2;
      if (limits.maxOutputChars !== undefined && length - 2 > limits.maxOutputChars) throw ParserLimitError.output(limits.maxOutputChars);
    }
    return pages.join('\n\n');
  } catch (error) {
    if (error instanceof ParserLimitError) throw error;
    throw new IngestionError(PDF_ERROR);
  } finally {
    await task.destroy().catch(() => {});
  }
}
