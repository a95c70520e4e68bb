import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CONNECTION_RANGES, CONNECTION_SOURCES, CONNECTION_STATUSES, MAX_METADATA_BYTES, MEMORY_MODES, type ConnectionScope } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { FreeText, QueryBool, Uuid, camelOrSnake } from '../schemas.js';

/** Limits on what a connection stores (the reference has none). */
export const CONNECTION_LIMITS = {
  name: 200,
  field: 255,
  datasets: 100,
  metadataBytes: MAX_METADATA_BYTES,
} as const;

const RegisterBody = z.preprocess(
  (body) =>
    camelOrSnake(body, {
      agent_session_name: 'agentSessionName',
      memory_mode: 'memoryMode',
      session_id: 'sessionId',
      dataset_ids: 'datasetIds',
      dataset_names: 'datasetNames',
      origin_function: 'originFunction',
    }),
  z.object({
    agent_session_name: FreeText(CONNECTION_LIMITS.name).min(1),
    type: FreeText(64).min(1).default('api'),
    memory_mode: z.enum(MEMORY_MODES).default('unknown'),
    session_id: FreeText(CONNECTION_LIMITS.field).nullish(),
    dataset_ids: z.array(FreeText(CONNECTION_LIMITS.field)).max(CONNECTION_LIMITS.datasets).default([]),
    dataset_names: z.array(FreeText(CONNECTION_LIMITS.field)).max(CONNECTION_LIMITS.datasets).default([]),
    source: z.enum(CONNECTION_SOURCES).default('api'),
    origin_function: FreeText(CONNECTION_LIMITS.field).nullish(),
    metadata: z
      .record(z.string(), z.unknown())
      .default({})
      .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= CONNECTION_LIMITS.metadataBytes, {
        message: `metadata must be at most ${CONNECTION_LIMITS.metadataBytes} bytes of JSON`,
      }),
  }),
);

const UnregisterBody = z.preprocess(
  (body) => camelOrSnake(body, { agent_session_name: 'agentSessionName' }),
  z.object({ agent_session_name: FreeText(CONNECTION_LIMITS.name).min(1) }),
);

const ListQuery = z.object({
  agent_id: Uuid.optional(),
  /** Accepted and, as in the reference, not applied. */
  range: z.enum(CONNECTION_RANGES).default('30d'),
  status: z.enum(CONNECTION_STATUSES).optional(),
  include_sources: QueryBool.default(true),
  active_only: QueryBool.default(true),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

const DetailQuery = z.object({ agent_session_name: FreeText(CONNECTION_LIMITS.name).optional() });

/**
 * `/api/v1/agents/register`, `/unregister` and `/connections`: the reference's agent connections.
 * A connection belongs to the caller and the caller's active tenant; listings show the caller's and
 * the caller's agents' connections there, and an unknown or foreign id answers 404 like a missing one.
 */
export function agentConnectionRoutes(app: App, ctx: HttpContext) {
  const { auth, access, config, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');
  const TAGS = ['agent connections'];

  const scopeOf = async (request: FastifyRequest): Promise<ConnectionScope> => {
    const actor = await actorOf(request, access);
    return { userId: actor.subject.userId, tenantId: actor.subject.activeTenantId };
  };
  const readable = async (request: FastifyRequest) => access.datasets(await actorOf(request, access), 'read');
  const notFound = () => ApiError.detail(404, 'connection not found');
  /**
   * The detail with its session's recent turns and steps, as the reference's, when the connection is
   * the viewer's own: a session is never shown to another user, an agent's creator included.
   */
  const withSession = async (scope: ConnectionScope, detail: Awaited<ReturnType<typeof auth.connections.detail>>) => {
    if (!detail) throw notFound();
    const { agent } = detail;
    if (!agent.session_id || agent.user_id !== scope.userId) return detail;
    const session = await memory.sessions.find({ userId: agent.user_id, tenantId: agent.tenant_id }, agent.session_id);
    if (!session) return detail;
    const [qas, traces] = await Promise.all([memory.sessions.entries(session, 'qa', 20), memory.sessions.entries(session, 'trace', 20)]);
    return { ...detail, recent_sessions: [{ session_id: agent.session_id, user_id: agent.user_id }], recent_traces: traces, recent_qas: qas };
  };

  app.get(
    '/api/v1/agents/connections',
    { schema: { tags: TAGS, summary: 'Your and your agents’ connections in the active tenant', security: SECURED, querystring: ListQuery }, preHandler: guard },
    async (request) => auth.connections.list(await scopeOf(request), request.query, await readable(request)),
  );

  app.get(
    '/api/v1/agents/connections/me',
    {
      schema: { tags: TAGS, summary: 'Your own connection (the latest, or the one of that name)', security: SECURED, querystring: DetailQuery },
      preHandler: guard,
    },
    async (request) => {
      const scope = await scopeOf(request);
      return withSession(scope, await auth.connections.detail(scope, scope.userId, request.query.agent_session_name, await readable(request)));
    },
  );

  app.get(
    '/api/v1/agents/connections/:agent_id',
    {
      schema: {
        tags: TAGS,
        summary: 'The connection of one of your agents (or yours)',
        security: SECURED,
        params: z.object({ agent_id: Uuid }),
        querystring: DetailQuery,
      },
      preHandler: guard,
    },
    async (request) => {
      const scope = await scopeOf(request);
      return withSession(scope, await auth.connections.detail(scope, request.params.agent_id, request.query.agent_session_name, await readable(request)));
    },
  );

  app.post(
    '/api/v1/agents/register',
    { schema: { tags: TAGS, summary: 'Register (or refresh) a connection', security: SECURED, body: RegisterBody }, preHandler: guard },
    async (request, reply) => {
      const connection = await auth.connections.register(await scopeOf(request), request.body);
      return reply.status(201).send(connection);
    },
  );

  app.post(
    '/api/v1/agents/unregister',
    { schema: { tags: TAGS, summary: 'Mark a connection inactive', security: SECURED, body: UnregisterBody }, preHandler: guard },
    async (request) => ({ activeAgents: await auth.connections.unregister(await scopeOf(request), request.body.agent_session_name) }),
  );
}
