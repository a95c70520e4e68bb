import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { SESSION_RANGES, recordView } from '../../memory/index.js';
import { actorOf, authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';

const Range = z.enum(SESSION_RANGES).optional().default('30d');
const Bool = z
  .enum(['true', 'false', '1', '0'])
  .optional()
  .transform((v) => v === undefined || v === 'true' || v === '1');
const ListQuery = z.object({
  range: Range,
  status: z.string().max(32).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional().default(50),
  offset: z.coerce.number().int().min(0).optional().default(0),
  order_by: z.string().max(64).optional().default('last_activity_at'),
  descending: Bool,
});
const RangeQuery = z.object({ range: Range });

/** The listing query as the session store takes it. */
const listQueryOf = (q: z.infer<typeof ListQuery>) => ({
  range: q.range,
  status: q.status,
  limit: q.limit,
  offset: q.offset,
  orderBy: q.order_by,
  descending: q.descending,
});

/** The reference's `derive_connection_type` from a session id: which kind of agent wrote it. */
export function agentTypeOf(sessionId: string, originFunction?: string | null): string {
  const text = `${originFunction ?? ''} ${sessionId}`.toLowerCase();
  if (text.includes('claude') || sessionId.toLowerCase().startsWith('cc_')) return 'claude_code';
  if (text.includes('codex')) return 'codex';
  if (text.includes('slack')) return 'slack';
  if (text.includes('mcp')) return 'mcp';
  return originFunction ? 'sdk' : 'unknown';
}

/**
 * The sessions dashboard (the reference's sessions router): the caller's sessions in their active
 * tenant, their counters, cost by model and by agent, one session with its recent turns. Unlike
 * the reference, a session is never shown to another user, whatever datasets they may read.
 */
export function sessionRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');
  const ownerOf = async (request: Parameters<typeof actorOf>[0]) => {
    const actor = await actorOf(request, access);
    return { userId: actor.subject.userId, tenantId: actor.subject.activeTenantId };
  };
  const tags = ['sessions'];

  app.get(
    '/api/v1/sessions',
    { schema: { tags, summary: 'Your sessions, a page at a time', security: SECURED, querystring: ListQuery }, preHandler: guard },
    async (request) => {
      const q = request.query;
      return memory.sessions.list(await ownerOf(request), listQueryOf(q));
    },
  );

  app.get(
    '/api/v1/sessions/stats',
    { schema: { tags, summary: 'Counters over your sessions', security: SECURED, querystring: RangeQuery }, preHandler: guard },
    async (request) => memory.sessions.stats(await ownerOf(request), request.query.range),
  );

  app.get(
    '/api/v1/sessions/cost-by-model',
    { schema: { tags, summary: 'Cost and tokens by model', security: SECURED, querystring: RangeQuery }, preHandler: guard },
    async (request) => memory.sessions.costByModel(await ownerOf(request), request.query.range),
  );

  app.get(
    '/api/v1/sessions/with-agent-info',
    { schema: { tags, summary: 'Your sessions with the agent that wrote each', security: SECURED, querystring: ListQuery }, preHandler: guard },
    async (request) => {
      const q = request.query;
      const page = await memory.sessions.list(await ownerOf(request), listQueryOf(q));
      return {
        ...page,
        sessions: page.sessions.map((s) => ({
          ...s,
          agent_type: agentTypeOf(s.session_id),
          agent_source: null,
          agent_session_name: null,
          origin_function: null,
        })),
      };
    },
  );

  app.get(
    '/api/v1/sessions/cost-by-user-agent',
    { schema: { tags, summary: 'Cost and tokens by agent type', security: SECURED, querystring: RangeQuery }, preHandler: guard },
    async (request) => {
      const owner = await ownerOf(request);
      const page = await memory.sessions.list(owner, {
        range: request.query.range,
        limit: 1_000_000,
        offset: 0,
        orderBy: 'last_activity_at',
        descending: true,
      });
      const buckets = new Map<string, { session_count: number; tokens_in: number; tokens_out: number; cost_usd: number }>();
      for (const s of page.sessions) {
        const type = agentTypeOf(s.session_id);
        const b = buckets.get(type) ?? { session_count: 0, tokens_in: 0, tokens_out: 0, cost_usd: 0 };
        b.session_count += 1;
        b.tokens_in += s.tokens_in;
        b.tokens_out += s.tokens_out;
        b.cost_usd += s.cost_usd;
        buckets.set(type, b);
      }
      const email = principalOf(request).user.email;
      return [...buckets.entries()]
        .map(([agentType, b]) => ({
          user_id: owner.userId,
          user_email: email,
          agent_type: agentType,
          ...b,
          tokens_total: b.tokens_in + b.tokens_out,
          cost_usd: Math.round(b.cost_usd * 1e6) / 1e6,
        }))
        .sort((a, b) => b.cost_usd - a.cost_usd);
    },
  );

  app.get(
    '/api/v1/sessions/:session_id',
    {
      schema: {
        tags,
        summary: 'One of your sessions with its recent turns and trace steps',
        security: SECURED,
        params: z.object({ session_id: z.string().min(1).max(255) }),
      },
      preHandler: guard,
    },
    async (request) => {
      const owner = await ownerOf(request);
      const row = await memory.sessions.find(owner, request.params.session_id);
      // The same answer whether the session is someone else's or does not exist.
      if (!row) throw ApiError.detail(404, 'session not found');
      const [qas, traces] = await Promise.all([memory.sessions.entries(row, 'qa'), memory.sessions.entries(row, 'trace')]);
      const label = qas.find((e) => e.question)?.question.slice(0, 120) ?? traces.find((e) => e.origin_function)?.origin_function ?? null;
      return {
        ...recordView(row),
        effective_status: memory.sessions.effectiveStatus(row),
        label,
        msg_count: qas.length,
        tool_calls: traces.length,
        qas: qas.slice(-20),
        traces: traces.slice(-20),
      };
    },
  );
}
