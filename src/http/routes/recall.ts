import { z } from 'zod';
import { ApiError, datasetNotFound, queryValidation } from '../../errors.js';
import {
  SEARCH_TYPES,
  UnknownScope,
  graphEntries,
  normalizeScope,
  resolveSources,
  routeQuery,
  searchRequestOf,
  searchResultOf,
  searchSessionTurns,
  searchTraceSteps,
  UsageTally,
  meterUsage,
  type RecallSource,
  type SearchType,
} from '../../memory/index.js';
import { actorOf, authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { SEARCH_ALIASES, SEARCH_FIELDS, deletionBody } from '../schemas.js';

/**
 * The reference's `RecallPayloadDTO`, camelCase or snake_case. Unlike the reference, which ignores
 * what it does not know, an unknown field is refused (422): a filter lost to a typo must not widen
 * what is recalled.
 */
const RecallBody = deletionBody(
  {
    ...SEARCH_ALIASES,
    session_id: 'sessionId',
    include_references: 'includeReferences',
    tool_connections: 'toolConnections',
    tools_trigger: 'toolsTrigger',
    code_query: 'codeQuery',
    context_profile: 'contextProfile',
    response_schema: 'responseSchema',
  },
  {
    search_type: z.enum(SEARCH_TYPES).nullable().optional().default('HYBRID_COMPLETION'),
    ...SEARCH_FIELDS,
    include_references: z.boolean().optional().default(false),
    session_id: z.string().min(1).max(255).optional().nullable(),
    scope: z
      .union([z.string().max(64), z.array(z.string().max(64)).max(20)])
      .optional()
      .nullable(),
    tool_connections: z.array(z.string().max(255)).max(100).optional().nullable(),
    tools_trigger: z.enum(['always', 'on_empty']).optional().default('always'),
    code_query: z.record(z.string(), z.unknown()).optional().nullable(),
    context_profile: z.enum(['qa', 'agent']).optional().default('qa'),
    response_schema: z.record(z.string(), z.unknown()).optional().nullable(),
  },
);

/** Why a source cannot run here (the reference's validation error, 422), or undefined when it can. */
function unavailable(source: RecallSource): string | undefined {
  if (source === 'tools') return "Recall scope 'tools' requested but tool calls are disabled: this server has no external database connections.";
  if (source === 'code') return "Recall scope 'code' needs a code graph (remember with content_type=code), which this server does not build.";
  return undefined;
}

/** `POST /api/v1/recall`: graph search, session turns, trace steps, by scope; `GET` is the query history. */
export function recallRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');

  app.post(
    '/api/v1/recall',
    {
      schema: { tags: ['memory'], summary: 'Recall from the graph, a session or its trace (scope); unknown fields: 422', security: SECURED, body: RecallBody },
      preHandler: guard,
    },
    async (request, reply) => {
      const body = request.body;
      let scopes: string[];
      try {
        scopes = normalizeScope(body.scope);
      } catch (error) {
        if (error instanceof UnknownScope) return reply.status(422).send({ error: error.message });
        throw error;
      }
      if (body.top_k <= 0) throw queryValidation('top_k must be a positive integer.');
      if (body.response_schema) throw ApiError.detail(422, 'response_schema (structured completion output) is not supported by this server.');
      const hasDatasets = Boolean(body.dataset_ids?.length) || Boolean(body.datasets?.length);
      const sessionId = body.session_id ?? null;
      const { sources, shortCircuit } = resolveSources(scopes, { sessionId, hasDatasets, searchTypeGiven: body.search_type !== null });
      if (body.code_query && !sources.includes('code')) {
        throw ApiError.detail(
          422,
          "code_query requires the 'code' scope — pass scope=['code'] or scope=['graph', 'code'] ('code' is never implied by 'auto' or 'all').",
        );
      }
      // One scope that cannot run here fails loudly, as the reference's; in a list it contributes nothing.
      if (sources.length === 1 && unavailable(sources[0]!)) throw ApiError.detail(422, unavailable(sources[0]!)!);
      const actor = await actorOf(request, access);
      const owner = { userId: actor.subject.userId, tenantId: actor.subject.activeTenantId };
      const session = sessionId ? await memory.sessions.find(owner, sessionId) : undefined;

      const graph = async (): Promise<unknown[]> => {
        const named = !body.dataset_ids?.length && Boolean(body.datasets?.length);
        const targets = await access.datasets(actor, 'read', { ids: body.dataset_ids, names: body.datasets });
        if (named && targets.length === 0) throw datasetNotFound();
        if (body.query.trim() === '') return [];
        const type = await memory.retrieval.resolveType((body.search_type ?? routeQuery(body.query)) as SearchType, body.query, actor.subject.userId);
        if (config.memory.recallWarmup && !body.only_context && !(await memory.pipelines.anyRun(targets))) {
          if (sources.length > 1) return [];
          const text = 'Memory is still warming up: no knowledge graph data exists yet for the requested datasets.';
          return [{ source: 'system', status: 'memory_warming_up', text, datapoint_count: 0, threshold: 1 }];
        }
        const perDataset = await memory.retrieval.searchInTurn(targets, searchRequestOf(type, body), actor.subject.userId);
        const entries = perDataset.flatMap(({ dataset, outcome }) => graphEntries(type, outcome, body.only_context, dataset));
        await memory.retrieval.record(
          actor.subject.userId,
          body.query,
          type,
          targets,
          perDataset.map(({ outcome }) => searchResultOf(outcome, body.only_context)),
        );
        return entries;
      };
      const lanes: Record<RecallSource, () => Promise<unknown[]>> = {
        session: async () => (session ? searchSessionTurns(await memory.sessions.entries(session, 'qa'), body.query, body.top_k) : []),
        trace: async () => (session ? searchTraceSteps(await memory.sessions.entries(session, 'trace'), body.query, body.top_k) : []),
        // Session-context lessons are distilled by `improve`; a session without any contributes nothing.
        session_context: async () => [],
        graph,
        tools: async () => [],
        code: async () => [],
      };
      const merged: unknown[] = [];
      // What the model calls of a recall in a session cost is added to the session's token use.
      const tally = new UsageTally();
      await meterUsage(tally.sink, async () => {
        for (const source of sources) {
          if (shortCircuit && source === 'graph' && merged.length > 0) break;
          merged.push(...(await lanes[source]()));
        }
      });
      if (session) await memory.sessions.recordTally(session, tally);
      return merged;
    },
  );

  app.get('/api/v1/recall', { schema: { tags: ['memory'], summary: 'Your query history', security: SECURED }, preHandler: guard }, async (request) =>
    memory.retrieval.history(principalOf(request).user.id),
  );
}
