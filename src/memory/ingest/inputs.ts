import type { Config } from '../../config/index.js';
import { DomainError, routerError, withoutServerPaths } from '../../errors.js';
import { classifyInput, readLocalFile, serverStatePaths, type LocalFilePolicy } from '../../security/local-paths.js';
import { fetchPublicUrl } from '../../security/outbound.js';
import type { IngestItem } from '../engine.js';
import { IngestBudget } from './budget.js';

/**
 * Turns the text entries of an ingestion request into items: plain text as it is, an http(s) URL
 * fetched under the outbound rules (D19), a local path read under the local-file rules (D17).
 * Every entry point that accepts such entries goes through here, so the rules hold for all of them.
 */
export class InputReader {
  private readonly localFiles: LocalFilePolicy;
  /** Named in no answer (a failure's text may quote them). */
  private readonly roots: readonly string[];

  constructor(private readonly config: Config) {
    this.roots = [config.dataRoot, config.systemRoot, config.cwd];
    // D17: the server's own state is never readable, whatever the allowed roots.
    this.localFiles = {
      acceptLocalFilePath: config.memory.acceptLocalFilePath,
      allowedRoots: [...config.memory.allowedLocalRoots],
      protectedPaths: serverStatePaths(config),
    };
  }

  /** The items of `entries`, in order; everything fetched or read counts against the request's byte limit. */
  async read(entries: readonly string[]): Promise<IngestItem[]> {
    const memory = this.config.memory;
    const budget = new IngestBudget(memory.uploadMaxRequestBytes);
    const items: IngestItem[] = [];
    for (const entry of entries) {
      try {
        const kind = await classifyInput(entry, this.localFiles);
        if (kind.kind === 'text') items.push({ kind: 'text', text: kind.text });
        else if (kind.kind === 'url') {
          const fetched = await fetchPublicUrl(kind.url, { allowHttpRequests: memory.allowHttpRequests, maxBytes: memory.urlMaxBytes });
          budget.take(fetched.body.length);
          const html = /html/i.test(fetched.contentType) || !/^(text\/plain|application\/json|text\/csv|text\/markdown)/i.test(fetched.contentType);
          const name = (new URL(fetched.finalUrl).hostname + new URL(fetched.finalUrl).pathname).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);
          items.push({ kind: 'file', filename: `${name}.${html ? 'html' : 'txt'}`, bytes: fetched.body, externalMetadata: { source_url: fetched.finalUrl } });
        } else {
          const bytes = await readLocalFile(kind.path, this.localFiles, memory.uploadMaxBytes);
          budget.take(bytes.length);
          items.push({ kind: 'file', filename: kind.path, bytes });
        }
      } catch (error) {
        // Refusals (D17 IngestionError 415, D19 SSRFProtectionError 403, the 413 budget) answer as they are.
        if (error instanceof DomainError) throw error;
        throw routerError(400, error instanceof Error ? withoutServerPaths(error.message, this.roots).slice(0, 300) : 'Could not ingest the item.');
      }
    }
    return items;
  }
}
