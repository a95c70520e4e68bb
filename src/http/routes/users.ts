import { z } from 'zod';
import { userRead } from '../../auth/index.js';
import { isUuid } from '../../ids.js';
import { ApiError } from '../../errors.js';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { removeUser } from '../user-removal.js';
import { Email, UserRead } from '../schemas.js';

const UserUpdate = z.object({
  email: Email.nullable().optional(),
  password: z.string().max(4096).nullable().optional(),
  is_active: z.boolean().nullable().optional(),
  is_superuser: z.boolean().nullable().optional(),
  is_verified: z.boolean().nullable().optional(),
});

export function userRoutes(app: App, ctx: HttpContext) {
  const { auth, config } = ctx;
  const strict = authenticate(auth, config, 'strict');
  const superuser = authenticate(auth, config, 'superuser');

  /** A non-UUID id is "Not Found", as in the reference. */
  const target = async (id: string) => {
    const user = isUuid(id) ? await auth.users.findById(id.toLowerCase()) : undefined;
    if (!user) throw ApiError.notFound();
    return user;
  };

  app.get(
    '/api/v1/users/me',
    { schema: { tags: ['users'], summary: 'The authenticated user', security: SECURED, response: { 200: UserRead } }, preHandler: strict },
    async (request) => userRead(principalOf(request).user),
  );

  app.patch(
    '/api/v1/users/me',
    {
      schema: {
        tags: ['users'],
        summary: 'Change your e-mail or password (a password change ends every session)',
        security: SECURED,
        body: UserUpdate,
        response: { 200: UserRead },
      },
      preHandler: strict,
    },
    async (request) => {
      const me = await target(principalOf(request).user.id);
      const { email, password } = request.body;
      return auth.updateUser(me, { email, password }, false);
    },
  );

  app.post(
    '/api/v1/users/get-user-id',
    {
      schema: { tags: ['users'], summary: 'Look up a user id by exact e-mail', security: SECURED, body: z.object({ email: Email }) },
      preHandler: authenticate(auth, config, 'auth'),
    },
    async (request) => {
      const email = request.body.email;
      const at = email.lastIndexOf('@');
      const normalised = `${email.slice(0, at)}${email.slice(at).toLowerCase()}`;
      const user = await auth.users.findByEmailExact(normalised);
      if (!user) throw ApiError.detail(404, 'User not found');
      return { user_id: user.id };
    },
  );

  const IdParams = z.object({ id: z.string().max(64) });

  app.get(
    '/api/v1/users/:id',
    { schema: { tags: ['users'], summary: 'A user (superuser)', security: SECURED, params: IdParams, response: { 200: UserRead } }, preHandler: superuser },
    async (request) => userRead(await target(request.params.id)),
  );

  app.patch(
    '/api/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Update a user (superuser); deactivation ends their sessions',
        security: SECURED,
        params: IdParams,
        body: UserUpdate,
        response: { 200: UserRead },
      },
      preHandler: superuser,
    },
    async (request) => auth.updateUser(await target(request.params.id), request.body, true),
  );

  app.delete(
    '/api/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        summary:
          "Delete a user and their agents (superuser); ends their sessions; their tenant datasets go to the tenant's owner, their personal datasets are deleted",
        security: SECURED,
        params: IdParams,
      },
      preHandler: superuser,
    },
    async (request, reply) => {
      const user = await target(request.params.id);
      await removeUser(ctx, user.id, request.log);
      return reply.status(204).send();
    },
  );
}
