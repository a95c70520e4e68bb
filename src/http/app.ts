import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { HttpContext } from './context.js';
import { capConnections, connectionOptions } from './connections.js';
import { clientErrorHandler, frameworkErrorHandler, guardAnswerHeaders, installErrorHandling } from './errors.js';
import { rejectNulCharacters } from './input-guard.js';
import { acceptEmptyJsonBodies } from './json-body.js';
import { registerAddressLimits } from './rate-limits.js';
import { accessLog, deferredRequestLogger } from './request-log.js';
import { logAllowedHosts, requestGuard } from './request-guard.js';
import { activityRoutes } from './routes/activity.js';
import { agentConnectionRoutes } from './routes/agent-connections.js';
import { agentRoutes } from './routes/agents.js';
import { authRoutes } from './routes/auth.js';
import { configurationRoutes } from './routes/configuration.js';
import { addRoutes } from './routes/add.js';
import { cognifyRoutes } from './routes/cognify.js';
import { datasetRoutes } from './routes/datasets.js';
import { legacyRoutes } from './routes/legacy.js';
import { memoryApiRoutes } from './routes/memory-api.js';
import { recallRoutes } from './routes/recall.js';
import { sessionEntryRoutes } from './routes/session-entries.js';
import { sessionRoutes } from './routes/sessions.js';
import { improveRoutes } from './routes/improve.js';
import { searchRoutes } from './routes/search.js';
import { permissionRoutes } from './routes/permissions.js';
import { rootRoutes } from './routes/root.js';
import { settingsRoutes } from './routes/settings.js';
import { userRoutes } from './routes/users.js';
import { recordRequestSpans } from './spans.js';
import { validateRoutes } from './routes/validate.js';
import { isPageRequest, loadUi, locateUi, sendIndex, uiRoutes, type UiBundle } from './ui.js';

const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['cross-origin-opener-policy', 'same-origin'],
];

/** API answers are data, never documents: nothing in one may run, load or be framed. */
const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

export interface AppOptions {
  /** When set, the per-address limits (D9) count in this Redis, shared by every instance. */
  readonly limitsRedis?: Redis | undefined;
}

export async function buildApp(ctx: HttpContext, log: Logger, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = ctx;
  const connections = connectionOptions(config.http.connections);
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    disableRequestLogging: true,
    // A hop count or the proxies' addresses, never `true`: the client address is the right-most
    // untrusted hop of X-Forwarded-For, not the left-most one a client writes itself.
    trustProxy: typeof config.http.trustProxy === 'object' ? [...config.http.trustProxy] : config.http.trustProxy,
    bodyLimit: config.http.bodyLimitBytes,
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
    // Slow clients are cut off (HTTP_*_TIMEOUT_MS); headers beyond 16 KiB are refused by Node
    // before they reach any route (431).
    ...connections,
    http: { ...connections.http, maxHeaderSize: 16 * 1024 },
    // Errors before routing, and of the HTTP parser, in the same JSON envelope as every other error.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: () => crypto.randomUUID(),
  }).withTypeProvider<ZodTypeProvider>();

  capConnections(app.server, config.http.connections);
  // A request's logger is built on first use (src/http/request-log.ts); before any route is added.
  app.setChildLoggerFactory(deferredRequestLogger);
  // Declared up front so every request object has the same shape (set by the auth hooks).
  app.decorateRequest('principal', undefined);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  acceptEmptyJsonBodies(app);
  const uiRoot = config.http.serveUi ? locateUi() : undefined;
  const ui: UiBundle | undefined = uiRoot ? loadUi(uiRoot) : undefined;
  if (config.http.serveUi && !ui) log.warn('the web UI is not built (dist/ui is missing): run `npm run build`; the API is served without it');
  installErrorHandling(app, ui ? (request, reply) => (isPageRequest(request) ? sendIndex(reply, ui) : undefined) : undefined);
  app.addHook('preHandler', rejectNulCharacters);

  await app.register(cookie as never);
  await app.register(cors, {
    origin: [...config.http.corsOrigins],
    credentials: true,
    methods: ['OPTIONS', 'GET', 'PUT', 'POST', 'PATCH', 'DELETE'],
  });
  // After CORS, so an allowed frontend can read the refusals (D25).
  app.addHook('onRequest', requestGuard(config));
  logAllowedHosts(config, log);

  const required = config.posture.requireAuthentication;
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Engram API',
        version: '1.0.0',
        description: 'Shared long-term memory for AI agents and apps. Wire-compatible with the Cognee REST API.',
      },
      components: {
        securitySchemes: {
          BearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          ApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
      ...(required ? { security: [{ BearerAuth: [] }, { ApiKeyAuth: [] }] } : {}),
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await registerAddressLimits(app, config, options.limitsRedis);

  // Callback style (as every hook on the request path): no promise per request.
  app.addHook('onSend', (request, reply, payload, done) => {
    for (const [name, value] of SECURITY_HEADERS) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    // API answers hold account data and credentials: no shared or browser cache keeps them.
    if (request.url.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    if (!reply.hasHeader('content-security-policy') && !request.url.startsWith('/docs')) reply.header('content-security-policy', API_CONTENT_SECURITY_POLICY);
    done(null, payload);
  });
  // Last: an answer whose headers Node could not write becomes a 500 instead of a throw (D22).
  app.addHook('onSend', guardAnswerHeaders);

  // One structured line per request; no query string, headers or bodies (they may hold secrets).
  app.addHook('onResponse', accessLog(log));

  // Authenticated API requests as traces for /api/v1/activity/spans (in memory, bounded).
  const spans = recordRequestSpans(app);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  rootRoutes(app, ctx, ui);
  if (ui) uiRoutes(app, ui);
  authRoutes(app, ctx);
  userRoutes(app, ctx);
  permissionRoutes(app, ctx);
  datasetRoutes(app, ctx);
  addRoutes(app, ctx);
  cognifyRoutes(app, ctx);
  searchRoutes(app, ctx);
  memoryApiRoutes(app, ctx);
  legacyRoutes(app, ctx);
  validateRoutes(app, ctx);
  recallRoutes(app, ctx);
  sessionEntryRoutes(app, ctx);
  sessionRoutes(app, ctx);
  improveRoutes(app, ctx);
  settingsRoutes(app, ctx);
  agentConnectionRoutes(app, ctx);
  activityRoutes(app, ctx, spans);
  agentRoutes(app, ctx);
  configurationRoutes(app, ctx);

  await app.ready();
  return app;
}
