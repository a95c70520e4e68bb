import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
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
