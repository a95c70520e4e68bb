import { useState } from 'react';
import { listAgents, listConnections, type Agent, type AgentConnection } from '../api/agents';
import { Notice, Page, Table, useLoad } from '../components';
import { Link } from '../router';
import { useSession } from '../session';
import { Pager, When } from './sessionParts';

/** Connections per page of the listing. */
export const CONNECTIONS_PAGE_SIZE = 20;

/** Where a connection's page is: its user and its name. */
export const connectionPath = (c: Pick<AgentConnection, 'user_id' | 'agent_session_name'>) =>
  `/agents/${encodeURIComponent(c.user_id)}/${encodeURIComponent(c.agent_session_name)}`;

export function ConnectionStatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge${status === 'active' ? ' badge-ok' : ''}`}>{status === 'active' ? 'Active' : status === 'inactive' ? 'Inactive' : status}</span>
  );
}

/** Who a connection runs as: you, or one of your agents by its name. */
export function useRunsAs(): (userId: string) => string {
  const { user } = useSession();
  const agents = useLoad(listAgents, []);
  const names = new Map((agents.data ?? []).map((a: Agent) => [a.agentId, a.agentEmail]));
  return (userId) => (userId === user?.id ? 'You' : `Agent ${names.get(userId) ?? userId}`);
}

export function AgentsPage() {
  const { user } = useSession();
  const [offset, setOffset] = useState(0);
  const list = useLoad(() => listConnections({ limit: CONNECTIONS_PAGE_SIZE, offset }), [offset]);
  const runsAs = useRunsAs();
  const connections = list.data?.agents ?? [];

  const rows = connections.map((c) => [
    c.status === 'active' ? (
      <Link to={connectionPath(c)} key="name">
        {c.agent_session_name}
      </Link>
    ) : (
      c.agent_session_name
    ),
    runsAs(c.user_id),
    <ConnectionStatusBadge status={c.status} key="status" />,
    <When value={c.last_active_at} relative key="last" />,
    c.memory_mode,
    c.session_id && c.user_id === user?.id ? (
      <Link to={`/sessions/${encodeURIComponent(c.session_id)}`} className="mono" key="session">
        {c.session_id}
      </Link>
    ) : c.session_id ? (
      <span className="mono">{c.session_id}</span>
    ) : (
      '—'
    ),
  ]);

  return (
    <Page title="Agents">
      <p className="adm-lead">
        The agents connected to your memory in the active tenant, yours and those of the agents you created. A connection is active from the moment its agent
        registers until it unregisters; its last activity follows its registrations and the use of its API key.
      </p>
      <Notice kind="error">{list.error}</Notice>
      {list.loading && !list.data ? (
        <p className="loading">Loading connections…</p>
      ) : list.data && list.data.total === 0 ? (
        <div className="card empty-state">
          <p>
            <strong>No agent connections yet.</strong> An agent connects when its session starts: it calls <code>POST /api/v1/agents/register</code> with an{' '}
            <code>agent_session_name</code> (and, if it keeps one, its <code>session_id</code>), as the Claude Code, Codex and OpenClaw plugins do, and{' '}
            <code>POST /api/v1/agents/unregister</code> when it stops.
          </p>
          <p>
            It needs a credential: your <Link to="/api-keys">API key</Link>, or the key of an agent you created.
          </p>
        </div>
      ) : (
        <>
          <Table
            caption="Agent connections, most recently active first"
            headers={['Connection', 'Runs as', 'Status', 'Last active', 'Memory mode', 'Session']}
            rows={rows}
            empty="No more connections."
          />
          <Pager
            label="Pages of connections"
            offset={offset}
            limit={CONNECTIONS_PAGE_SIZE}
            shown={connections.length}
            total={list.data?.total ?? 0}
            onOffset={setOffset}
          />
        </>
      )}
    </Page>
  );
}
