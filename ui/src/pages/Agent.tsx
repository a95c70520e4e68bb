import { ApiFailure } from '../api/client';
import { connectionDetail, type ConnectionDetail } from '../api/agents';
import { Notice, Page, useLoad } from '../components';
import { Link } from '../router';
import { useSession } from '../session';
import { ConnectionStatusBadge, useRunsAs } from './Agents';
import { Facts, QaList, TraceList, When } from './sessionParts';

const BACK = (
  <p>
    <Link to="/agents">Back to agents</Link>
  </p>
);

/** One active agent connection: what it registered, its liveness and, when it is yours, its session's recent turns. */
export function AgentPage({ params }: { params: Record<string, string> }) {
  const userId = params.user ?? '';
  const name = params.name ?? '';
  const detail = useLoad(async () => {
    try {
      return await connectionDetail(userId, name);
    } catch (e) {
      if (e instanceof ApiFailure && (e.status === 404 || e.status === 400)) return null;
      throw e;
    }
  }, [userId, name]);

  if (detail.error) {
    return (
      <Page title="Agent connection">
        <Notice kind="error">{detail.error}</Notice>
        {BACK}
      </Page>
    );
  }
  if (detail.data === undefined) {
    return (
      <Page title="Agent connection">
        <p className="loading" role="status">
          Loading the connection…
        </p>
      </Page>
    );
  }
  if (detail.data === null) {
    return (
      <Page title="Connection not found">
        <p>There is no active connection of this name among yours and your agents’ in the active tenant. It may have unregistered.</p>
        {BACK}
      </Page>
    );
  }
  return <ConnectionView detail={detail.data} />;
}

function ConnectionView({ detail }: { detail: ConnectionDetail }) {
  const { user } = useSession();
  const runsAs = useRunsAs();
  const a = detail.agent;
  const ownSession = detail.recent_sessions.some((s) => s.session_id === a.session_id);
  const datasets = a.datasets.map((d) => d.name ?? d.id ?? '').filter(Boolean);
  return (
    <Page title="Agent connection" actions={<Link to="/agents">Back to agents</Link>}>
      <p className="session-id">{a.agent_session_name}</p>
      <Facts
        label="About this connection"
        items={[
          ['Status', <ConnectionStatusBadge status={a.status} />],
          ['Last active', <When value={a.last_active_at} relative />],
          ['Runs as', runsAs(a.user_id)],
          ['Memory mode', a.memory_mode],
          ['Type', a.type],
          ['Source', a.source],
          ['Origin', a.origin_function ?? '—'],
          [
            'Session',
            a.session_id ? (
              ownSession ? (
                <Link to={`/sessions/${encodeURIComponent(a.session_id)}`} className="mono">
                  {a.session_id}
                </Link>
              ) : (
                <span className="mono">{a.session_id}</span>
              )
            ) : (
              '—'
            ),
          ],
          ['Datasets', datasets.length > 0 ? datasets.join(', ') : '—'],
        ]}
      />
      {Object.keys(a.metadata).length > 0 ? (
        <details className="graph-details">
          <summary>Metadata it registered</summary>
          <pre className="result-json">{JSON.stringify(a.metadata, null, 2)}</pre>
        </details>
      ) : null}
      {ownSession ? (
        <>
          <section aria-labelledby="agent-qas">
            <h2 id="agent-qas">Recent questions and answers</h2>
            <QaList qas={detail.recent_qas} label="Recent questions and answers of this connection's session" />
          </section>
          <section aria-labelledby="agent-traces">
            <h2 id="agent-traces">Recent tool calls</h2>
            <TraceList traces={detail.recent_traces} label="Recent tool calls of this connection's session" />
          </section>
        </>
      ) : a.session_id && a.user_id !== user?.id ? (
        <p className="hint">The session of an agent you created is its own: only that agent reads it.</p>
      ) : a.session_id ? (
        <p className="empty">Nothing has been written to this connection’s session yet.</p>
      ) : null}
    </Page>
  );
}
