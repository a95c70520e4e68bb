import { sql } from 'kysely';
import { PUBLIC, type App, type HttpContext } from '../context.js';

export function rootRoutes(app: App, ctx: HttpContext) {
  app.get('/', { schema: { hide: false, summary: 'Liveness greeting', security: PUBLIC } }, async () => ({
    message: 'Hello, World, I am alive!',
  }));

  app.get('/health', { schema: { summary: 'Readiness of the server and its stores', security: PUBLIC } }, async (_request, reply) => {
    try {
      await sql`select 1`.execute(ctx.store.db);
      return { status: 'ready', health: 'healthy', version: ctx.version };
    } catch {
      return reply.status(503).send({ status: 'not ready', health: 'unhealthy', version: ctx.version });
    }
  });
}
