import { PUBLIC, type App, type HttpContext } from '../context.js';
import { sendIndex, wantsHtml, type UiBundle } from '../ui.js';

export function rootRoutes(app: App, ctx: HttpContext, ui: UiBundle | undefined) {
  // D21: API clients get the reference's JSON; a browser asking for HTML lands in the web UI.
  app.get(
    '/',
    { schema: { hide: false, summary: 'Liveness greeting (a browser asking for HTML gets the web UI)', security: PUBLIC } },
    async (request, reply) => {
      // The answer depends on Accept: a cache must not hand the page to an API client or the reverse.
      if (ui) {
        const vary = reply.getHeader('vary');
        reply.header('vary', vary ? `${String(vary)}, Accept` : 'Accept');
      }
      if (ui && wantsHtml(request)) return sendIndex(reply, ui);
      return { message: 'Hello, World, I am alive!' };
    },
  );

  app.get('/health', { schema: { summary: 'Readiness of the server and its stores', security: PUBLIC } }, async (_request, reply) => {
    try {
      await ctx.ping();
      return { status: 'ready', health: 'healthy', version: ctx.version };
    } catch {
      return reply.status(503).send({ status: 'not ready', health: 'unhealthy', version: ctx.version });
    }
  });
}
