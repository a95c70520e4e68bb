import { z } from 'zod';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';

/** `/api/v1/configuration`: a user's named configurations, readable by their owner only (D15). */
export function configurationRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access } = ctx;
  const configurations = access.configurations;
  const guard = authenticate(auth, config, 'auth');
  const TAGS = ['configuration'];

  app.post(
    '/api/v1/configuration/store_user_configuration',
    {
      schema: {
        tags: TAGS,
        summary: 'Store (upsert) a named configuration',
        security: SECURED,
        body: z.object({ name: z.string().trim().min(1).max(255), config: z.record(z.string(), z.unknown()) }),
      },
      preHandler: guard,
    },
    async (request) => {
      await configurations.store(principalOf(request).user.id, request.body.name, request.body.config);
      return null;
    },
  );

  app.get(
    '/api/v1/configuration/get_user_configuration/',
    { schema: { tags: TAGS, summary: 'Your configurations', security: SECURED }, preHandler: guard },
    async (request) => configurations.list(principalOf(request).user.id),
  );

  app.get(
    '/api/v1/configuration/get_user_configuration/:config_id',
    {
      schema: {
        tags: TAGS,
        summary: 'One of your configurations ({} when there is none)',
        security: SECURED,
        params: z.object({ config_id: z.string().max(64) }),
      },
      preHandler: guard,
    },
    async (request) => (await configurations.get(principalOf(request).user.id, request.params.config_id)) ?? {},
  );
}
