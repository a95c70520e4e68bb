import type { Config } from '../../config/index.js';
import { ApiError } from '../../errors.js';

/**
 * What one ingestion request (add, add_text, remember) may bring in: at most `maxFileBytes` per
 * file and `maxTotalBytes` in all, so no request can make the server hold more than that in memory.
 */
export interface IngestLimits {
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
}

export function ingestLimitsOf(config: Config): IngestLimits {
  return { maxFileBytes: config.memory.uploadMaxBytes, maxTotalBytes: config.memory.uploadMaxRequestBytes };
}

/** Counts the bytes one request ingests; 413 as soon as they pass the request's limit. */
export class IngestBudget {
  private used = 0;
  constructor(private readonly maxTotalBytes: number) {}

  take(bytes: number): void {
    this.used += bytes;
    if (this.used > this.maxTotalBytes) {
      throw ApiError.detail(413, `The request brings more than ${this.maxTotalBytes} bytes in all (UPLOAD_MAX_REQUEST_BYTES).`);
    }
  }
}
