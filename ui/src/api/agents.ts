import { get } from './client';
import type { QaEntry, TraceEntry } from './sessions';

/**
 * Agent connections (`/api/v1/agents/connections…`): what agents announce with
 * `POST /api/v1/agents/register` when a session starts, for the signed-in user and the agents they
 * created, in the active tenant. `status` is active until the agent unregisters; `last_active_at`
 * follows its registrations and API key use. Names and metadata are the agents' text.
 */

export interface AgentConnection {
  id: string;
  agent_session_name: string;
  type: string;
  memory_mode: string;
  session_id: string | null;
  user_id: string;
  tenant_id: string | null;
  datasets: { id: string | null; name: string | null; role: string; type: string }[];
  last_active_at: string;
  status: 'active' | 'inactive' | 'unknown';
  source: string;
  origin_function: string | null;
  metadata: Record<string, unknown>;
}

export interface ConnectionPage {
  agents: AgentConnection[];
  total: number;
  limit: number;
  offset: number;
  has_more: boolean;
}

/** One connection, with the recent turns and steps of its session when the session is the viewer's own. */
export interface ConnectionDetail {
  agent: AgentConnection;
  recent_sessions: { session_id: string; user_id: string }[];
  recent_traces: TraceEntry[];
  recent_qas: QaEntry[];
}

/** An agent user the signed-in user created (`/api/v1/agents/list`). */
export interface Agent {
  agentId: string;
  agentEmail: string;
  apiKeyLabel: string | null;
}

/** A page of connections, inactive ones included (they are shown as such). */
export function listConnections(q: { limit: number; offset: number }): Promise<ConnectionPage> {
  const query = new URLSearchParams({ active_only: 'false', include_sources: 'false', limit: String(q.limit), offset: String(q.offset) });
  return get<ConnectionPage>(`/api/v1/agents/connections?${query.toString()}`);
}

/** The active connection of that name of a user (the viewer or one of their agents); 404 when there is none. */
export function connectionDetail(userId: string, name: string): Promise<ConnectionDetail> {
  return get<ConnectionDetail>(`/api/v1/agents/connections/${encodeURIComponent(userId)}?agent_session_name=${encodeURIComponent(name)}`);
}

export const listAgents = () => get<Agent[]>('/api/v1/agents/list');
