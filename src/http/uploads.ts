import type { FastifyRequest } from 'fastify';
import { ApiError, externalMetadataCountMismatch, invalidExternalMetadata, invalidLabels, labelCountMismatch } from '../errors.js';
import { IngestBudget, type IngestLimits } from '../memory/index.js';

export interface UploadForm {
  /** The files of the `data` field, in order. */
  readonly files: { filename: string; bytes: Buffer }[];
  /** Every other field's values, in order. */
  readonly fields: Map<string, string[]>;
  /** The names of file fields other than `data` (their content is not kept). */
  readonly otherFiles: string[];
}

const fileTooLarge = (filename: string, limits: IngestLimits) =>
  ApiError.detail(413, `File ${filename} exceeds ${limits.maxFileBytes} bytes (UPLOAD_MAX_BYTES).`);

/** Reads a multipart ingestion form within the limits (415 when it is not multipart, 413 past a limit). */
export async function readUploadForm(request: FastifyRequest, limits: IngestLimits): Promise<UploadForm> {
  if (!request.isMultipart()) throw ApiError.detail(415, 'Unsupported Media Type');
  const form: UploadForm = { files: [], fields: new Map(), otherFiles: [] };
  const budget = new IngestBudget(limits.maxTotalBytes);
  for await (const part of request.parts({ limits: { fileSize: limits.maxFileBytes, files: 1000, fields: 100, fieldSize: 1024 * 1024 } })) {
    if (part.type === 'file') {
      let bytes: Buffer;
      try {
        bytes = await part.toBuffer();
      } catch (error) {
        if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw fileTooLarge(part.filename, limits);
        throw error;
      }
      if (part.file.truncated) throw fileTooLarge(part.filename, limits);
      budget.take(bytes.length);
      if (part.fieldname === 'data') form.files.push({ filename: part.filename || 'upload', bytes });
      else form.otherFiles.push(part.fieldname);
    } else {
      const list = form.fields.get(part.fieldname) ?? [];
      list.push(String(part.value));
      form.fields.set(part.fieldname, list);
    }
  }
  return form;
}

/** `labels`: a JSON array of strings/nulls, or comma-separated text; positional with the files. */
export function parseLabels(value: string | undefined, count: number): (string | null)[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let labels: unknown;
  try {
    labels = JSON.parse(value);
  } catch {
    labels = value.split(',').map((s) => s.trim());
  }
  if (!Array.isArray(labels) || labels.some((l) => l !== null && typeof l !== 'string')) {
    throw invalidLabels();
  }
  if (labels.length !== count) {
    throw labelCountMismatch(labels.length, count);
  }
  return labels.map((l) => (l === '' ? null : (l as string | null)));
}

/** `external_metadata`: a JSON array of objects/nulls, positional with the files; `node_set` is reserved. */
export function parseExternalMetadata(value: string | undefined, count: number): unknown[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalidExternalMetadata();
  }
  if (!Array.isArray(parsed) || parsed.some((m) => m !== null && (typeof m !== 'object' || Array.isArray(m)))) {
    throw invalidExternalMetadata();
  }
  if (parsed.some((m) => m && Object.prototype.hasOwnProperty.call(m, 'node_set'))) {
    throw invalidExternalMetadata('The key node_set is reserved in external_metadata.');
  }
  if (parsed.length !== count) {
    throw externalMetadataCountMismatch(parsed.length, count);
  }
  return parsed;
}
