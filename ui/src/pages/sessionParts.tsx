import type { ReactNode } from 'react';
import type { QaEntry, TraceEntry } from '../api/sessions';
import { formatDate } from './Datasets';

/**
 * Pieces shared by the sessions and agents pages. Everything a session holds (questions, answers,
 * contexts, tool parameters and results, feedback) was written by an agent: it is rendered as React
 * text nodes only, never as HTML.
 */

export function formatCost(usd: number): string {
  return `$${usd.toFixed(usd !== 0 && Math.abs(usd) < 1 ? 4 : 2)}`;
}

export const formatTokens = (n: number) => n.toLocaleString();

/** How long ago a time was, in words (for liveness); the exact time is the caller's `<time>` title. */
export function sinceLabel(value: string, now = Date.now()): string {
  const ms = now - Date.parse(value);
  if (!Number.isFinite(ms)) return value;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** A time, in the reader's locale; `relative` says how long ago instead (the exact time on hover). */
export function When({ value, relative = false }: { value: string | null | undefined; relative?: boolean }) {
  if (!value) return <>—</>;
  return (
    <time dateTime={value} title={relative ? formatDate(value) : undefined}>
      {relative ? sinceLabel(value) : formatDate(value)}
    </time>
  );
}

const STATUS_LABELS: Record<string, string> = { running: 'Running', completed: 'Completed', failed: 'Failed', abandoned: 'Abandoned' };

/** A session's effective status: running (no activity for a while reads as abandoned), completed, failed. */
export function SessionStatusBadge({ status }: { status: string }) {
  const tone = status === 'completed' ? ' badge-ok' : status === 'failed' ? ' badge-err' : status === 'running' ? ' badge-warn' : '';
  return <span className={`badge${tone}`}>{STATUS_LABELS[status] ?? status}</span>;
}

/** Facts as a description list: one term and its value per pair. */
export function Facts({ label, items }: { label: string; items: [string, ReactNode][] }) {
  return (
    <dl className="facts" aria-label={label}>
      {items.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Any JSON value as indented text. */
function JsonText({ value }: { value: unknown }) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return <pre className="result-json">{text ?? 'null'}</pre>;
}

/** QA turns, oldest first: question, answer, the context it was given, and feedback. */
export function QaList({ qas, label }: { qas: QaEntry[]; label: string }) {
  if (qas.length === 0) return <p className="empty">No questions and answers yet.</p>;
  return (
    <ol className="result-list" aria-label={label}>
      {qas.map((qa) => (
        <li key={qa.qa_id} className="card result-chunk">
          <p className="result-meta">
            <When value={qa.time} />
          </p>
          <h3 className="session-question">{qa.question}</h3>
          <p className="result-text result-answer">{qa.answer}</p>
          {qa.context ? (
            <details className="graph-details">
              <summary>Context given</summary>
              <p className="result-text">{qa.context}</p>
            </details>
          ) : null}
          {qa.feedback_score !== null || qa.feedback_text ? (
            <p className="result-meta">
              Feedback{qa.feedback_score !== null ? `: ${qa.feedback_score} of 5` : ''}
              {qa.feedback_text ? <span className="result-text"> — {qa.feedback_text}</span> : null}
            </p>
          ) : null}
        </li>
      ))}
    </ol>
  );
}

/** Trace steps (the agent's tool calls), oldest first. */
export function TraceList({ traces, label }: { traces: TraceEntry[]; label: string }) {
  if (traces.length === 0) return <p className="empty">No tool calls recorded yet.</p>;
  return (
    <ol className="result-list" aria-label={label}>
      {traces.map((t) => (
        <li key={t.trace_id} className="card result-chunk">
          <h3 className="session-question">
            <span className="mono">{t.origin_function}</span> <span className={`badge${t.status === 'error' ? ' badge-err' : ' badge-ok'}`}>{t.status}</span>
          </h3>
          {t.memory_query ? <p className="result-text">Memory query: {t.memory_query}</p> : null}
          {t.error_message ? <p className="result-text session-error">Error: {t.error_message}</p> : null}
          <details className="graph-details">
            <summary>Parameters and result</summary>
            <h4>Parameters</h4>
            <JsonText value={t.method_params} />
            <h4>Result</h4>
            <JsonText value={t.method_return_value} />
            {t.memory_context ? (
              <>
                <h4>Memory context</h4>
                <JsonText value={t.memory_context} />
              </>
            ) : null}
          </details>
          {t.session_feedback ? <p className="result-meta result-text">Feedback: {t.session_feedback}</p> : null}
        </li>
      ))}
    </ol>
  );
}

/** "Showing 21–40 of 45" with Previous and Next buttons, for a listing paged by offset. */
export function Pager({
  label,
  offset,
  limit,
  shown,
  total,
  onOffset,
}: {
  label: string;
  offset: number;
  limit: number;
  shown: number;
  total: number;
  onOffset: (offset: number) => void;
}) {
  if (total <= limit && offset === 0) return null;
  return (
    <nav className="pager" aria-label={label}>
      <p className="result-meta" role="status">
        Showing {shown === 0 ? 0 : offset + 1}–{offset + shown} of {total}
      </p>
      <button type="button" className="button button-quiet button-small" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        Previous page
      </button>
      <button type="button" className="button button-quiet button-small" disabled={offset + shown >= total} onClick={() => onOffset(offset + limit)}>
        Next page
      </button>
    </nav>
  );
}
