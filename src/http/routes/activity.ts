import { z } from 'zod';
import { datasetPermissionDenied } from '../../access/index.js';
import { actorOf, authenticate, principalOf } from '../authenticate.js';
import { attachmentDisposition } from '../content-disposition.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { Uuid } from '../schemas.js';
import type { RequestSpans } from '../spans.js';

/**
 * `/api/v1/activity`: the reference's activity feed — recent pipeline runs of the datasets the
 * caller may read, the active tenant's members, the users and agents the caller may watch, request
 * traces, and a dataset's Markdown memory report. Everything is limited to what the caller may see
 * (the reference shows every user, and every request's trace, to anyone).
 */
export function activityRoutes(app: App, ctx: HttpContext, spans: RequestSpans) {
  const { auth, access, memory, config } = ctx;
  const guard = authenticate(auth, config, 'auth');
  const TAGS = ['activity'];

  app.get(
    '/api/v1/activity/pipeline-runs',
    {
      schema: {
        tags: TAGS,
        summary: 'Recent pipeline runs of the datasets you can read (the latest 50 status changes)',
        security: SECURED,
        querystring: z.object({ dataset_id: Uuid.optional() }),
      },
      preHandler: guard,
    },
    async (request) => {
      const actor = await actorOf(request, access);
      const { dataset_id: id } = request.query;
      // A named dataset without read is refused; no readable dataset at all is an empty feed.
      const datasets = await access.datasets(actor, 'read', id ? { ids: [id] } : {});
      return memory.activity.pipelineRuns(datasets);
    },
  );

  app.get(
    '/api/v1/activity/users',
    { schema: { tags: TAGS, summary: 'Members of your active tenant (its owner or an admin)', security: SECURED }, preHandler: guard },
    async (request) => auth.activity.tenantUsers((await actorOf(request, access)).subject),
  );

  app.get(
    '/api/v1/activity/agents',
    { schema: { tags: TAGS, summary: 'You and your agents, with when each was last active (a superuser: everyone)', security: SECURED }, preHandler: guard },
    async (request) => auth.activity.agents({ subject: (await actorOf(request, access)).subject, isSuperuser: principalOf(request).user.isSuperuser }),
  );

  app.get(
    '/api/v1/activity/spans',
    { schema: { tags: TAGS, summary: 'Your and your agents’ recent requests as traces (a superuser: everyone’s)', security: SECURED }, preHandler: guard },
    async (request) => {
      const user = principalOf(request).user;
      if (user.isSuperuser) return spans.traces('all');
      const agents = await auth.agents.list(user.id);
      return spans.traces([user.id, ...agents.map((a) => a.agentId)]);
    },
  );

  app.get(
    '/api/v1/activity/export/:dataset_id',
    {
      schema: {
        tags: TAGS,
        summary: 'A dataset’s knowledge graph as a Markdown memory report (needs read)',
        security: SECURED,
        params: z.object({ dataset_id: Uuid }),
        produces: ['text/markdown'],
      },
      preHandler: guard,
    },
    async (request, reply) => {
      const [dataset] = await access.datasets(await actorOf(request, access), 'read', { ids: [request.params.dataset_id] });
      if (!dataset) throw datasetPermissionDenied('read');
      const { filename, markdown } = await memory.activity.exportMarkdown(dataset);
      return reply.type('text/markdown; charset=utf-8').header('content-disposition', attachmentDisposition(filename)).send(markdown);
    },
  );
}
