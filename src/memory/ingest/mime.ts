/** Guessing the type of an upload from its name, or from its bytes when the name says nothing. */
import path from 'node:path';
import { decodeIfText } from './decode.js';

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

export function hasPdfMagic(bytes: Uint8Array): boolean {
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
