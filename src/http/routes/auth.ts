import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';

import { ApiError } from '../../errors.js';
import { authenticate, principalOf } from '../authenticate.js';
import { PUBLIC, SECURED, type App, type HttpContext } from '../context.js';
import { addressLimit, sharedAddressLimit } from '../rate-limits.js';
import { Email, UserRead, UuidZodMessage } from '../schemas.js';

const LoginForm = z.object({
  username: z.string().min(1).max(320),
  password: z.string().min(1).max(4096),
  grant_type: z
    .string()
    .regex(/^password$/)
    .optional(),
  scope: z.string().max(4096).optional(),
  client_id: z.string().max(4096).optional(),
  client_secret: z.string().max(4096).optional(),
});

/** Passwords above the policy's maximum are refused by the policy; this bound only stops abuse. */
const Password = z.string().max(4096);

const Register = z.object({
  email: Email,
  password: Password,
  // Accepted for compatibility and ignored (D10).
  is_active: z.unknown().optional(),
  is_superuser: z.unknown().optional(),
  is_verified: z.unknown().optional(),
  parent_user_id: z.unknown().optional(),
});

const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

export function authRoutes(app: App, ctx: HttpContext) {
  const { auth, config } = ctx;
  const cookieOptions = {
    httpOnly: true,
    sameSite: 'lax' as const,
    path: '/',
    secure: config.auth.cookieSecure,
    ...(config.auth.cookieDomain ? { domain: config.auth.cookieDomain } : {}),
  };
  const clearCookies = (reply: FastifyReply) => {
    for (const name of new Set([config.auth.cookieName, 'fastapiusersauth'])) {
      reply.clearCookie(name, { ...cookieOptions, maxAge: 0, expires: new Date(0) });
    }
  };

  // The login form (the only form body the API reads, D25) may also come as multipart (as the
  // reference accepts); the parsers are scoped to this route, multipart takes small fields only, no files.
  app.register(async (scope: App) => {
    await scope.register(formbody, { bodyLimit: config.http.bodyLimitBytes });
    await scope.register(multipart, {
      attachFieldsToBody: 'keyValues',
      limits: { files: 0, fields: 10, fieldSize: 8192, parts: 10 },
    });
    scope.post(
      '/api/v1/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in with an OAuth2 password form; returns a bearer token and sets the session cookie',
          security: PUBLIC,
          consumes: ['application/x-www-form-urlencoded', 'multipart/form-data'],
          body: LoginForm,
        },
        config: addressLimit(config, 'login'),
        // The reference reads form fields only: a JSON body is a failed login (before the login
        // limit, which it does not count).
        preHandler: async (request) => {
          if (!FORM_TYPES.test(request.headers['content-type'] ?? '')) throw ApiError.detail(400, 'LOGIN_BAD_CREDENTIALS');
        },
      },
      async (request, reply) => {
        const issued = await auth.login(request.body.username, request.body.password, request.ip);
        reply.setCookie(config.auth.cookieName, issued.token, {
          ...cookieOptions,
          maxAge: config.auth.jwtLifetimeSeconds,
        });
        reply.header('cache-control', 'no-store');
        return { access_token: issued.token, token_type: 'bearer' };
      },
    );
  });

  app.post(
    '/api/v1/auth/logout',
    {
      schema: { tags: ['auth'], summary: 'End the session: revokes the presented token and clears the cookie', security: SECURED },
      preHandler: authenticate(auth, config, 'auth', { endsSession: true }),
    },
    async (request, reply) => {
      await auth.logout(principalOf(request));
      clearCookies(reply);
      return {};
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      schema: { tags: ['auth'], summary: 'The e-mail of the authenticated user', security: SECURED },
      preHandler: authenticate(auth, config, 'auth'),
    },
    async (request) => ({ email: principalOf(request).user.email }),
  );

  app.post(
    '/api/v1/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        security: PUBLIC,
        body: Register,
        response: { 201: UserRead },
      },
      config: addressLimit(config, 'register'),
    },
    async (request, reply) => {
      const user = await auth.register(request.body);
      return reply.status(201).send(user);
    },
  );

  app.post(
    '/api/v1/auth/forgot-password',
    {
      schema: { tags: ['auth'], summary: 'Send a password reset token', security: PUBLIC, body: z.object({ email: Email }) },
      config: addressLimit(config, 'forgot-password'),
    },
    async (request, reply) => {
      await auth.forgotPassword(request.body.email);
      return reply.status(202).send(null);
    },
  );

  app.post(
    '/api/v1/auth/reset-password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with a reset token',
        security: PUBLIC,
        body: z.object({ token: z.string().max(8192), password: Password }),
      },
      config: addressLimit(config, 'reset-password'),
    },
    async (request, reply) => {
      await auth.resetPassword(request.body.token, request.body.password);
      return reply.status(200).send(null);
    },
  );

  // Both verification routes count in the one `verify` bucket.
  const verifyLimit = sharedAddressLimit(app, config, 'verify');
  app.post(
    '/api/v1/auth/request-verify-token',
    {
      schema: { tags: ['auth'], summary: 'Send an e-mail verification token', security: PUBLIC, body: z.object({ email: Email }) },
      ...(verifyLimit ? { preHandler: verifyLimit } : {}),
    },
    async (request, reply) => {
      await auth.requestVerifyToken(request.body.email);
      return reply.status(202).send(null);
    },
  );

  app.post(
    '/api/v1/auth/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Verify an e-mail address with its token',
        security: PUBLIC,
        body: z.object({ token: z.string().max(8192) }),
        response: { 200: UserRead },
      },
      ...(verifyLimit ? { preHandler: verifyLimit } : {}),
    },
    async (request) => auth.verify(request.body.token),
  );

  // API keys (D11).
  const ApiKeyBody = z.object({ name: z.string().max(255).nullable().optional() }).nullable();
  app.get(
    '/api/v1/auth/api-keys',
    { schema: { tags: ['api-keys'], summary: "List the caller's API keys", security: SECURED }, preHandler: authenticate(auth, config, 'auth') },
    async (request) => auth.apiKeys.list(principalOf(request).user.id),
  );
  app.post(
    '/api/v1/auth/api-keys',
    {
      schema: { tags: ['api-keys'], summary: 'Create an API key (the key is shown once)', security: SECURED, body: ApiKeyBody },
      preHandler: authenticate(auth, config, 'auth'),
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return auth.apiKeys.create(principalOf(request).user.id, request.body?.name ?? null);
    },
  );
  app.delete(
    '/api/v1/auth/api-keys/:api_key_id',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Delete one of your API keys',
        security: SECURED,
        params: z.object({ api_key_id: UuidZodMessage }),
      },
      preHandler: authenticate(auth, config, 'auth'),
    },
    async (request) => {
      await auth.deleteApiKey(principalOf(request).user.id, request.params.api_key_id);
      return null;
    },
  );
}
