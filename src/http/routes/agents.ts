import { z } from 'zod';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { removeUser } from '../user-removal.js';
import { Uuid } from '../schemas.js';
import { ApiError } from '../../errors.js';

/** `/api/v1/agents`: agent users that authenticate with an API key and belong to their creator. */
export function agentRoutes(app: App, ctx: HttpContext) {
  const { auth, config } = ctx;
  const guard = authenticate(auth, config, 'auth');
  const TAGS = ['agent management'];

  app.get('/api/v1/agents/list', { schema: { tags: TAGS, summary: 'Your agents', security: SECURED }, preHandler: guard }, async (request) =>
    auth.agents.list(principalOf(request).user.id),
  );

  app.post(
    '/api/v1/agents/create',
    {
      schema: {
        tags: TAGS,
        summary: 'Create an agent user and its API key (shown once); in a tenant, owner or admin only',
        security: SECURED,
        querystring: z.object({
          name: z
            .string()
            .trim()
            .min(1)
            .max(100)
            .regex(/^[^@+\s/\\][^@+/\\]*$/, 'Agent names cannot contain @, +, / or \\'),
        }),
      },
      preHandler: guard,
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const principal = principalOf(request);
      return auth.agents.create(principal.user, request.query.name, principal.external?.roleIds);
    },
  );

  app.get(
    '/api/v1/agents/:agent_id',
    { schema: { tags: TAGS, summary: 'One of your agents', security: SECURED, params: z.object({ agent_id: Uuid }) }, preHandler: guard },
    async (request) => auth.agents.get(principalOf(request).user.id, request.params.agent_id),
  );

  app.delete(
    '/api/v1/agents/:agent_id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete one of your agents (its personal datasets become yours)',
        security: SECURED,
        params: z.object({ agent_id: Uuid }),
      },
      preHandler: guard,
    },
    async (request) => {
      const agent = await auth.agents.get(principalOf(request).user.id, request.params.agent_id);
      await removeUser(ctx, agent.agentId, request.log).catch((error) => {
        if (error instanceof ApiError && error.status === 404) throw ApiError.detail(404, 'Agent not found');
        throw error;
      });
      return null;
    },
  );
}
