import { get } from './client';

/**
 * The signed-in user's agent sessions (`/api/v1/sessions…`): sessions are made by agents writing QA
 * turns and trace steps under a session id, and are only ever shown to their own user. Everything
 * in them is the agents' text: pages render it as text, never as HTML.
 */

export const SESSION_RANGES = ['24h', '7d', '30d', 'all'] as const;
export type SessionRange = (typeof SESSION_RANGES)[number];

/** A session as the listing and the detail show it (`effective_status`: idle running sessions read as abandoned). */
export interface SessionSummary {
  session_id: string;
  user_id: string;
  dataset_id: string | null;
  status: string;
  effective_status: string;
  started_at: string;
  last_activity_at: string;
  ended_at: string | null;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  error_count: number;
  last_model: string | null;
}

export interface SessionPage {
  sessions: SessionSummary[];
  total: number;
  limit: number;
  offset: number;
  has_more: boolean;
}

/** The dashboard's counters over the sessions active in a range. */
export interface SessionStats {
  range: SessionRange;
  sessions: number;
  total_spend_usd: number;
  tokens_in: number;
  tokens_out: number;
  tokens_total: number;
  success_rate: number;
  completed: number;
  failed: number;
  abandoned: number;
  running: number;
}

export interface ModelCost {
  model: string;
  session_count: number;
  cost_usd: number;
  tokens_in: number;
  tokens_out: number;
}

/** A QA turn, with the feedback given on it. */
export interface QaEntry {
  qa_id: string;
  time: string;
  question: string;
  context: string;
  answer: string;
  feedback_text: string | null;
  feedback_score: number | null;
}

/** A trace step: one tool call of the agent. */
export interface TraceEntry {
  trace_id: string;
  origin_function: string;
  status: string;
  memory_query: string;
  memory_context: string;
  method_params: Record<string, unknown>;
  method_return_value: unknown;
  error_message: string;
  session_feedback: string;
}

/** One session with its counts and its 20 most recent turns and steps (oldest first). */
export interface SessionDetail extends SessionSummary {
  label: string | null;
  msg_count: number;
  tool_calls: number;
  qas: QaEntry[];
  traces: TraceEntry[];
}

export function listSessions(q: { range: SessionRange; status?: string; limit: number; offset: number }): Promise<SessionPage> {
  const query = new URLSearchParams({ range: q.range, limit: String(q.limit), offset: String(q.offset), order_by: 'last_activity_at', descending: 'true' });
  if (q.status) query.set('status', q.status);
  return get<SessionPage>(`/api/v1/sessions?${query.toString()}`);
}

export const sessionStats = (range: SessionRange) => get<SessionStats>(`/api/v1/sessions/stats?range=${range}`);

export const costByModel = (range: SessionRange) => get<ModelCost[]>(`/api/v1/sessions/cost-by-model?range=${range}`);

/** One of the user's sessions; 404 (ApiFailure) when it is not theirs or does not exist. */
export const getSession = (sessionId: string) => get<SessionDetail>(`/api/v1/sessions/${encodeURIComponent(sessionId)}`);
