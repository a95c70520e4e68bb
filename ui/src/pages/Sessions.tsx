import { useId, useState } from 'react';
import { costByModel, listSessions, sessionStats, SESSION_RANGES, type SessionRange } from '../api/sessions';
import { Notice, Page, Table, useLoad } from '../components';
import { Link } from '../router';
import { Facts, formatCost, formatTokens, Pager, SessionStatusBadge, When } from './sessionParts';

/** Sessions per page of the listing. */
export const SESSIONS_PAGE_SIZE = 20;

const RANGE_LABELS: Record<SessionRange, string> = { '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days', all: 'All time' };
const STATUSES = [
  ['', 'Any status'],
  ['running', 'Running'],
  ['completed', 'Completed'],
  ['failed', 'Failed'],
  ['abandoned', 'Abandoned'],
] as const;

/** Said when there is no session at all: what makes one. */
export function NoSessionsYet() {
  return (
    <div className="card empty-state">
      <p>
        <strong>No sessions yet.</strong> Your agents create sessions: an agent that writes to memory under a session id of its choosing — a question and
        answer, a tool call or feedback with <code>POST /api/v1/remember/entry</code>, or files with <code>POST /api/v1/remember</code>, each with a{' '}
        <code>session_id</code> — starts one, as the Claude Code, Codex and MCP integrations do. Its turns, tool calls and token use then show here.
      </p>
      <p>
        Give an agent its own <Link to="/api-keys">API key</Link>; only you see your sessions.
      </p>
    </div>
  );
}

export function SessionsPage() {
  const [range, setRange] = useState<SessionRange>('all');
  const [status, setStatus] = useState('');
  const [offset, setOffset] = useState(0);
  const rangeId = useId();
  const statusId = useId();
  const page = useLoad(() => listSessions({ range, status: status || undefined, limit: SESSIONS_PAGE_SIZE, offset }), [range, status, offset]);
  const stats = useLoad(() => sessionStats(range), [range]);
  const models = useLoad(() => costByModel(range), [range]);
  const sessions = page.data?.sessions ?? [];
  const filtered = range !== 'all' || status !== '';

  const rows = sessions.map((s) => [
    <Link to={`/sessions/${encodeURIComponent(s.session_id)}`} className="mono" key="id">
      {s.session_id}
    </Link>,
    <SessionStatusBadge status={s.effective_status} key="status" />,
    <When value={s.started_at} key="started" />,
    <When value={s.last_activity_at} key="last" />,
    `${formatTokens(s.tokens_in)} / ${formatTokens(s.tokens_out)}`,
    formatCost(s.cost_usd),
    String(s.error_count),
  ]);

  const s = stats.data;
  const lead = (
    <p className="adm-lead">The sessions your agents wrote to memory in the active tenant: their questions and answers, tool calls, feedback and token use.</p>
  );
  if (page.data && page.data.total === 0 && !filtered) {
    return (
      <Page title="Sessions">
        {lead}
        <NoSessionsYet />
      </Page>
    );
  }
  return (
    <Page title="Sessions">
      {lead}
      <div className="row session-filters" role="group" aria-label="Which sessions">
        <div className="field">
          <label htmlFor={rangeId}>Active in</label>
          <select
            id={rangeId}
            value={range}
            onChange={(e) => {
              setRange(e.target.value as SessionRange);
              setOffset(0);
            }}
          >
            {SESSION_RANGES.map((r) => (
              <option key={r} value={r}>
                {RANGE_LABELS[r]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={statusId}>Status</label>
          <select
            id={statusId}
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setOffset(0);
            }}
          >
            {STATUSES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>

      <section aria-labelledby="usage-heading">
        <h2 id="usage-heading">Token use and cost</h2>
        <Notice kind="error">{stats.error || models.error}</Notice>
        {s ? (
          <Facts
            label="Totals over these sessions"
            items={[
              ['Sessions', String(s.sessions)],
              ['Running', String(s.running)],
              ['Completed', String(s.completed)],
              ['Failed', String(s.failed)],
              ['Abandoned', String(s.abandoned)],
              ['Tokens in', formatTokens(s.tokens_in)],
              ['Tokens out', formatTokens(s.tokens_out)],
              ['Cost', formatCost(s.total_spend_usd)],
            ]}
          />
        ) : null}
        {models.data ? (
          <Table
            caption="Cost by model"
            headers={['Model', 'Sessions', 'Tokens in', 'Tokens out', 'Cost']}
            rows={models.data.map((m) => [
              <span className="mono">{m.model}</span>,
              String(m.session_count),
              formatTokens(m.tokens_in),
              formatTokens(m.tokens_out),
              formatCost(m.cost_usd),
            ])}
            empty="No token use recorded. Tokens are counted when a recall in a session asks a language model that reports its usage."
          />
        ) : null}
      </section>

      <section aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">Your sessions</h2>
        <Notice kind="error">{page.error}</Notice>
        {page.loading && !page.data ? (
          <p className="loading">Loading sessions…</p>
        ) : (
          <>
            <Table
              caption="Your sessions, most recently active first"
              headers={['Session', 'Status', 'Started', 'Last activity', 'Tokens in / out', 'Cost', 'Errors']}
              rows={rows}
              empty="No session matches these filters."
            />
            <Pager
              label="Pages of sessions"
              offset={offset}
              limit={SESSIONS_PAGE_SIZE}
              shown={sessions.length}
              total={page.data?.total ?? 0}
              onOffset={setOffset}
            />
          </>
        )}
      </section>
    </Page>
  );
}
