import type { FastifyRequest } from 'fastify';
import { presentedCredentials } from '../authenticate.js';
import { PUBLIC, type App, type ComponentHealth, type HttpContext } from '../context.js';
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

  /** Every store answers, or the reason the check itself failed (logged, never answered). */
  const storesHealth = async (): Promise<Record<string, ComponentHealth> | undefined> => {
    try {
      return await ctx.health();
    } catch (error) {
      app.log.error({ err: error }, 'health check failed');
      return undefined;
    }
  };
  const healthy = (components: Record<string, ComponentHealth>) => Object.values(components).every((c) => c.status !== 'unhealthy');

  // The reference's readiness probe: 503 when any store it uses (relational, vector, graph, file storage) is down.
  app.get('/health', { schema: { summary: 'Readiness of the server and every store it uses', security: PUBLIC } }, async (_request, reply) => {
    const components = await storesHealth();
    if (!components) return reply.status(503).send({ status: 'not ready', reason: 'health check failed' });
    if (!healthy(components)) return reply.status(503).send({ status: 'not ready', health: 'unhealthy', version: ctx.version });
    return { status: 'ready', health: 'healthy', version: ctx.version };
  });

  /** A superuser's credential, if the request carries one (no credential or an invalid one: none, never a 401). */
  const isSuperuser = async (request: FastifyRequest): Promise<boolean> => {
    const presented = presentedCredentials(request, ctx.config.auth.cookieName);
    if (presented.apiKey === undefined && presented.bearer === undefined && presented.cookie === undefined) return false;
    const principal = ctx.auth.credentials.resolveCached(presented) ?? (await ctx.auth.credentials.resolve(presented)).principal;
    return principal?.user.isSuperuser === true;
  };

  // The reference's component report. Anyone sees each component's status; a superuser also sees the
  // version, uptime, providers and timings. No answer holds a secret, a path or an error message.
  app.get(
    '/health/detailed',
    { schema: { summary: "Each store's status (providers, timings and version for superusers)", security: PUBLIC } },
    async (request, reply) => {
      const components = await storesHealth();
      if (!components) return reply.status(503).send({ status: 'unhealthy', error: 'Health check system failure' });
      const status = healthy(components) ? 'healthy' : 'unhealthy';
      reply.status(status === 'healthy' ? 200 : 503);
      const timestamp = new Date().toISOString();
      if (!(await isSuperuser(request))) {
        const summary = Object.fromEntries(Object.entries(components).map(([name, c]) => [name, { status: c.status }]));
        return { status, timestamp, components: summary };
      }
      const { llm, embedding } = ctx.config.memory;
      const notProbed = (provider: string): ComponentHealth => ({ status: 'healthy', provider, response_time_ms: 0, details: 'Configured (not probed)' });
      return {
        status,
        timestamp,
        version: ctx.version,
        uptime: Math.floor((Date.now() - ctx.startedAt) / 1000),
        components: { ...components, llm_provider: notProbed(llm.provider), embedding_service: notProbed(embedding.provider) },
      };
    },
  );
}
