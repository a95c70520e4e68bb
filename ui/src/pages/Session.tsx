import { ApiFailure } from '../api/client';
import { getSession, type SessionDetail } from '../api/sessions';
import { Notice, Page, useLoad } from '../components';
import { Link } from '../router';
import { Facts, formatCost, formatTokens, QaList, SessionStatusBadge, TraceList, When } from './sessionParts';

const BACK = (
  <p>
    <Link to="/sessions">Back to sessions</Link>
  </p>
);

/** One of the signed-in user's sessions: its counters, token use, recent QA turns (with feedback) and tool calls. */
export function SessionPage({ params }: { params: Record<string, string> }) {
  const id = params.id ?? '';
  const session = useLoad(async () => {
    try {
      return await getSession(id);
    } catch (e) {
      // Someone else's session answers exactly like a missing one.
      if (e instanceof ApiFailure && e.status === 404) return null;
      throw e;
    }
  }, [id]);

  if (session.error) {
    return (
      <Page title="Session">
        <Notice kind="error">{session.error}</Notice>
        {BACK}
      </Page>
    );
  }
  if (session.data === undefined) {
    return (
      <Page title="Session">
        <p className="loading" role="status">
          Loading the session…
        </p>
      </Page>
    );
  }
  if (session.data === null) {
    return (
      <Page title="Session not found">
        <p>You have no session with this id in the active tenant.</p>
        {BACK}
      </Page>
    );
  }
  return <SessionView session={session.data} />;
}

function SessionView({ session: s }: { session: SessionDetail }) {
  const more = (shown: number, all: number, what: string) =>
    all > shown ? <p className="hint">{`The ${shown} most recent of ${all} ${what}, oldest first.`}</p> : null;
  return (
    <Page title="Session" actions={<Link to="/sessions">Back to sessions</Link>}>
      <p className="mono session-id">{s.session_id}</p>
      {s.label ? <p className="result-text">{s.label}</p> : null}
      <Facts
        label="About this session"
        items={[
          ['Status', <SessionStatusBadge status={s.effective_status} />],
          ['Started', <When value={s.started_at} />],
          ['Last activity', <When value={s.last_activity_at} />],
          ['Ended', <When value={s.ended_at} />],
          ['Questions and answers', String(s.msg_count)],
          ['Tool calls', String(s.tool_calls)],
          ['Errors', String(s.error_count)],
          ['Dataset', s.dataset_id ? <Link to={`/datasets/${s.dataset_id}`}>{s.dataset_id}</Link> : '—'],
        ]}
      />
      <section aria-labelledby="session-usage">
        <h2 id="session-usage">Token use</h2>
        <Facts
          label="Token use of this session"
          items={[
            ['Tokens in', formatTokens(s.tokens_in)],
            ['Tokens out', formatTokens(s.tokens_out)],
            ['Cost', formatCost(s.cost_usd)],
            ['Last model', s.last_model ? <span className="mono">{s.last_model}</span> : '—'],
          ]}
        />
      </section>
      <section aria-labelledby="session-qas">
        <h2 id="session-qas">Questions and answers</h2>
        {more(s.qas.length, s.msg_count, 'questions and answers')}
        <QaList qas={s.qas} label="Questions and answers of this session" />
      </section>
      <section aria-labelledby="session-traces">
        <h2 id="session-traces">Tool calls</h2>
        {more(s.traces.length, s.tool_calls, 'tool calls')}
        <TraceList traces={s.traces} label="Tool calls of this session" />
      </section>
    </Page>
  );
}
