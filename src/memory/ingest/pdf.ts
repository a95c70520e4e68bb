/** The text of PDF documents, via pdfjs, in-process, no network. */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IngestionError } from '../../security/local-paths.js';

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

export async function pdfToText(bytes: Buffer): Promise<string> {
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
