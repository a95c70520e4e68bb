import type { DatasetRecord } from './datasets.js';
import type { Pipelines } from './pipelines.js';
import type { QaEntry, SessionOwner, SessionStore, TraceEntry } from './sessions.js';

/**
 * `improve`: bridges what agents said in their sessions into a dataset's permanent memory. The
 * session turns and trace steps not bridged yet become one text item per session (node set
 * `user_sessions_from_cache`, as the reference tags them), which cognify then turns into graph and
 * vectors, so a later graph search finds what was only said in a session. Bridging is idempotent: an
 * item of the same text is the same item, and each session remembers how far it was bridged.
 */

export const SESSION_NODE_SET = 'user_sessions_from_cache';

function json(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** A session's entries as a document: questions and answers, then each tool step with its outcome. */
export function sessionDocument(sessionId: string, entries: readonly { kind: 'qa' | 'trace'; entry: QaEntry | TraceEntry }[]): string {
  const lines = [`Session ${sessionId}`];
  for (const { kind, entry } of entries) {
    if (kind === 'qa') {
      const qa = entry as QaEntry;
      if (qa.question) lines.push(`Question: ${qa.question}`);
      if (qa.context) lines.push(`Context: ${qa.context}`);
      lines.push(`Answer: ${qa.answer}`);
      if (qa.feedback_text || qa.feedback_score !== null)
        lines.push(`Feedback: ${qa.feedback_text ?? ''} ${qa.feedback_score !== null ? `(score ${qa.feedback_score} of 5)` : ''}`.trim());
    } else {
      const step = entry as TraceEntry;
      const outcome = step.status === 'error' ? `failed: ${step.error_message}` : `returned ${json(step.method_return_value)}`;
      lines.push(`Tool ${step.origin_function} called with ${json(step.method_params)} ${outcome}`);
    }
    lines.push('');
  }
  return lines.join('\n').trim();
}

export class Improvement {
  constructor(
    private readonly sessions: SessionStore,
    private readonly pipelines: Pipelines,
  ) {}

  /**
   * Adds the named sessions' new entries to the dataset as items (the caller's own sessions in the
   * active tenant; an unknown id bridges nothing). Answers how many entries were bridged.
   */
  async bridge(owner: SessionOwner, dataset: DatasetRecord, sessionIds: readonly string[]): Promise<number> {
    let bridged = 0;
    for (const sessionId of new Set(sessionIds)) {
      const session = await this.sessions.find(owner, sessionId);
      if (!session) continue;
      const entries = await this.sessions.entriesAfter(session, session.bridged_seq);
      if (entries.length === 0) continue;
      const text = sessionDocument(sessionId, entries);
      await this.pipelines.add(dataset, owner.userId, owner.tenantId, [{ kind: 'text', text }], [SESSION_NODE_SET]);
      await this.sessions.markBridged(session, entries[entries.length - 1]!.seq);
      bridged += entries.length;
    }
    return bridged;
  }
}
