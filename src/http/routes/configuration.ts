import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';

/** `/api/v1/configuration`: a user's named configurations, readable by their owner only (D15). */
export function configurationRoutes(app: App, ctx: HttpContext) {
  const { auth, config, store } = ctx;
  const db = store.db;
  const guard = authenticate(auth, config, 'auth');
  const TAGS = ['configuration'];
  const view = (row: { id: string; owner_id: string; name: string; configuration: string; created_at: string; updated_at: string | null }) => ({
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    configuration: JSON.parse(row.configuration) as unknown,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });

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
      const ownerId = principalOf(request).user.id;
      const now = new Date().toISOString();
      const json = JSON.stringify(request.body.config);
      await db
        .insertInto('principal_configuration')
        .values({ id: randomUUID(), owner_id: ownerId, name: request.body.name, configuration: json, created_at: now, updated_at: now })
        .onConflict((oc) => oc.columns(['owner_id', 'name']).doUpdateSet({ configuration: json, updated_at: now }))
        .execute();
      return null;
    },
  );

  app.get(
    '/api/v1/configuration/get_user_configuration/',
    { schema: { tags: TAGS, summary: 'Your configurations', security: SECURED }, preHandler: guard },
    async (request) => {
      const rows = await db
        .selectFrom('principal_configuration')
        .selectAll()
        .where('owner_id', '=', principalOf(request).user.id)
        .orderBy('created_at')
        .execute();
      return rows.map(view);
    },
  );

  app.get(
    '/api/v1/configuration/get_user_configuration/:config_id',
    {
      schema: { tags: TAGS, summary: 'One of your configurations ({} when there is none)', security: SECURED, params: z.object({ config_id: z.string().max(64) }) },
      preHandler: guard,
    },
    async (request) => {
      const row = await db
        .selectFrom('principal_configuration')
        .select('configuration')
        .where('id', '=', request.params.config_id)
        .where('owner_id', '=', principalOf(request).user.id)
        .executeTakeFirst();
      return row ? (JSON.parse(row.configuration) as unknown) : {};
    },
  );
}
