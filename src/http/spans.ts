import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** One request as an OpenTelemetry-style span, in the shape of the reference's span buffer. */
export interface RequestSpan {
  readonly name: string;
  readonly trace_id: string;
  readonly span_id: string;
  readonly parent_span_id: null;
  readonly start_time_ns: number;
  readonly end_time_ns: number;
  readonly duration_ms: number;
  readonly status: 'OK' | 'ERROR';
  readonly attributes: Record<string, string | number>;
}

/** As the reference's buffer: the last 50 traces (here per user). */
export const TRACES_PER_USER = 50;
/** Users whose traces are kept; the least recently active user's go first. */
export const USERS_TRACED = 500;

/**
 * The traces `/api/v1/activity/spans` shows: each authenticated API request is one trace of one
 * span, named by its method and route pattern (never its path or query, which may hold ids or
 * secrets), kept in this process's memory only, at most `TRACES_PER_USER` per user for at most
 * `USERS_TRACED` users (the reference keeps its last 50 traces, everyone's together).
 */
export class RequestSpans {
  private readonly byUser = new Map<string, RequestSpan[]>();

  record(userId: string, span: RequestSpan): void {
    const spans = this.byUser.get(userId) ?? [];
    this.byUser.delete(userId);
    spans.push(span);
    if (spans.length > TRACES_PER_USER) spans.shift();
    this.byUser.set(userId, spans);
    if (this.byUser.size > USERS_TRACED) this.byUser.delete(this.byUser.keys().next().value as string);
  }

  /** The reference's trace summaries of these users' requests (every user's with `all`), the latest `TRACES_PER_USER`, newest first. */
  traces(userIds: readonly string[] | 'all') {
    const spans = (userIds === 'all' ? [...this.byUser.values()] : userIds.map((id) => this.byUser.get(id) ?? [])).flat();
    spans.sort((a, b) => b.start_time_ns - a.start_time_ns);
    return spans.slice(0, TRACES_PER_USER).map((span) => ({
      trace_id: span.trace_id,
      root_name: span.name,
      duration_ms: span.duration_ms,
      span_count: 1,
      status: span.status,
      spans: [span],
    }));
  }
}

/** Records every authenticated `/api/` request of the app as a span. */
export function recordRequestSpans(app: FastifyInstance): RequestSpans {
  const spans = new RequestSpans();
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (!request.principal || route === undefined || !route.startsWith('/api/')) return;
    const durationMs = Math.round(reply.elapsedTime * 1000) / 1000;
    const endMs = Date.now();
    const pattern = route.replace(/:([A-Za-z_]+)/g, '{$1}');
    spans.record(request.principal.user.id, {
      name: `${request.method} ${pattern}`,
      trace_id: randomBytes(16).toString('hex'),
      span_id: randomBytes(8).toString('hex'),
      parent_span_id: null,
      start_time_ns: Math.round((endMs - durationMs) * 1e6),
      end_time_ns: endMs * 1e6,
      duration_ms: durationMs,
      status: reply.statusCode >= 500 ? 'ERROR' : 'OK',
      attributes: { 'http.method': request.method, 'http.route': pattern, 'http.status_code': reply.statusCode, 'user.id': request.principal.user.id },
    });
  });
  return spans;
}
