import { z } from 'zod';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { pageIn, pageOf, PageQuery } from '../pagination.js';
import { Uuid, camelOrSnake } from '../schemas.js';
import type { FastifyRequest } from 'fastify';

const TAGS = ['permissions'];

/** `/api/v1/permissions`: sharing, roles and tenants (reference shapes; D14, D15). */
export function permissionRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access } = ctx;
  const { management } = access;
  const guard = authenticate(auth, config, 'auth');
  const subject = (request: FastifyRequest) => access.subjectOf(principalOf(request));
  /** A change to a user's roles or tenants: apply it, then drop that user's cached credentials everywhere. */
  const changeOf = async <T>(userId: string, change: Promise<T>): Promise<T> => {
    const result = await change;
    await auth.invalidate(userId);
    return result;
  };
  const base = '/api/v1/permissions';
  const DatasetIds = z.array(Uuid).max(10_000);
  const PermissionQuery = z.object({ permission_name: z.string().max(64) });

  for (const [method, action, summary, message] of [
    [
      'POST',
      'grant',
      'Grant a permission you hold on datasets to another user, role or tenant (needs share on every dataset)',
      'Permission assigned to principal',
    ],
    [
      'DELETE',
      'revoke',
      "Revoke a permission on datasets from a user, role or tenant (needs share on every dataset; the owner's grants: the owner or a superuser)",
      'Permission revoked from principal',
    ],
  ] as const) {
    app.route({
      method,
      url: `${base}/datasets/:principal_id`,
      schema: {
        tags: TAGS,
        summary,
        security: SECURED,
        params: z.object({ principal_id: Uuid }),
        querystring: PermissionQuery,
        body: DatasetIds,
      },
      preHandler: guard,
      handler: async (request) => {
        const superuser = principalOf(request).user.isSuperuser;
        const { pending } = await management.changeDatasetPermission(
          await subject(request),
          action,
          request.params.principal_id,
          request.query.permission_name,
          request.body,
          { superuser },
        );
        // D23: the reference's answer, plus the datasets whose share waits for the recipient's acceptance.
        return pending.length > 0 ? { message, pending_dataset_ids: pending } : { message };
      },
    });
  }

  // D23: the recipient's side of sharing (Engram's own routes).
  const received = `${base}/shares/received`;
  app.get(
    received,
    { schema: { tags: TAGS, summary: 'Datasets shared with you as a user, accepted or waiting for your acceptance', security: SECURED }, preHandler: guard },
    async (request) => management.receivedShares(await subject(request)),
  );
  for (const [url, method, summary, rule] of [
    [`${received}/:dataset_id/accept`, 'POST', 'Accept the share of a dataset offered to you', management.acceptShare],
    [`${received}/:dataset_id/decline`, 'POST', 'Decline the share of a dataset offered to you', management.declineShare],
    [`${received}/:dataset_id`, 'DELETE', 'Drop every permission you received as a user on a dataset (not your own datasets)', management.dropShare],
  ] as const) {
    app.route({
      method,
      url,
      schema: { tags: TAGS, summary, security: SECURED, params: z.object({ dataset_id: Uuid }) },
      preHandler: guard,
      handler: async (request) => rule(await subject(request), request.params.dataset_id),
    });
  }

  app.get(
    `${base}/datasets/:dataset_id/principals`,
    {
      schema: {
        tags: TAGS,
        summary: 'Who holds which permission on a dataset (needs share on it; an Engram addition)',
        security: SECURED,
        params: z.object({ dataset_id: Uuid }),
      },
      preHandler: guard,
    },
    async (request) => management.datasetPrincipals(await subject(request), request.params.dataset_id),
  );

  app.post(
    `${base}/datasets/:dataset_id/owner`,
    {
      schema: {
        tags: TAGS,
        summary: "Restore a dataset's owner with its four permissions, or make another member its owner (superuser; an Engram addition)",
        security: SECURED,
        params: z.object({ dataset_id: Uuid }),
        querystring: z.object({ user_id: Uuid.optional() }),
      },
      preHandler: authenticate(auth, config, 'superuser'),
    },
    async (request) => management.restoreDatasetOwner(request.params.dataset_id, request.query.user_id ?? null),
  );

  app.get(
    `${base}/principals/:principal_id/datasets`,
    {
      schema: {
        tags: TAGS,
        summary: "A principal's datasets in your active tenant",
        security: SECURED,
        params: z.object({ principal_id: Uuid }),
        querystring: z.object({ permission_name: z.string().max(64).default('read') }),
      },
      preHandler: guard,
    },
    async (request) => management.principalDatasets(await subject(request), request.params.principal_id, request.query.permission_name),
  );

  app.post(
    `${base}/roles`,
    {
      schema: {
        tags: TAGS,
        summary: 'Create a role in your active tenant (owner only)',
        security: SECURED,
        querystring: z.object({ role_name: z.string().trim().min(1).max(255) }),
      },
      preHandler: guard,
    },
    async (request) => management.createRole(await subject(request), request.query.role_name),
  );

  app.delete(
    `${base}/roles/:role_id`,
    { schema: { tags: TAGS, summary: 'Delete a role (owner or admin)', security: SECURED, params: z.object({ role_id: Uuid }) }, preHandler: guard },
    async (request) => {
      const result = await management.deleteRole(await subject(request), request.params.role_id);
      return { message: result.message };
    },
  );

  app.post(
    `${base}/users/:user_id/roles`,
    {
      schema: {
        tags: TAGS,
        summary: 'Add a tenant member to a role (owner only)',
        security: SECURED,
        params: z.object({ user_id: Uuid }),
        querystring: z.object({ role_id: Uuid }),
      },
      preHandler: guard,
    },
    async (request) => {
      const userId = request.params.user_id;
      return changeOf(userId, management.addUserToRole(await subject(request), userId, request.query.role_id));
    },
  );

  app.delete(
    `${base}/users/:user_id/roles`,
    {
      schema: {
        tags: TAGS,
        summary: 'Remove a user from a role (owner or admin)',
        security: SECURED,
        params: z.object({ user_id: Uuid }),
        querystring: z.object({ role_id: Uuid }),
      },
      preHandler: guard,
    },
    async (request) => {
      const userId = request.params.user_id;
      return changeOf(userId, management.removeUserFromRole(await subject(request), userId, request.query.role_id));
    },
  );

  app.post(
    `${base}/users/:user_id/tenants`,
    {
      schema: {
        tags: TAGS,
        summary: 'Add a user to a tenant (owner only); their active tenant does not change',
        security: SECURED,
        params: z.object({ user_id: Uuid }),
        querystring: z.object({ tenant_id: Uuid }),
      },
      preHandler: guard,
    },
    async (request) => {
      const userId = request.params.user_id;
      return changeOf(userId, management.addUserToTenant(await subject(request), userId, request.query.tenant_id));
    },
  );

  app.delete(
    `${base}/tenants/:tenant_id/users/:user_id`,
    {
      schema: {
        tags: TAGS,
        summary: 'Remove a user and their agents from a tenant (owner or admin)',
        security: SECURED,
        params: z.object({ tenant_id: Uuid, user_id: Uuid }),
      },
      preHandler: guard,
    },
    async (request) => {
      // The member's agents leave with them (D24): every one of them loses its cached credentials.
      const result = await management.removeUserFromTenant(await subject(request), request.params.tenant_id, request.params.user_id);
      for (const userId of result.affectedUsers) await auth.invalidate(userId);
      return { message: result.message };
    },
  );

  app.post(
    `${base}/tenants`,
    {
      schema: {
        tags: TAGS,
        summary: 'Create a tenant; you become its owner and it becomes your active tenant',
        security: SECURED,
        querystring: z.object({ tenant_name: z.string().trim().min(1).max(255) }),
      },
      preHandler: guard,
    },
    async (request) => {
      const userId = principalOf(request).user.id;
      const tenantId = await access.createTenant(userId, request.query.tenant_name);
      await auth.invalidate(userId);
      return { message: 'Tenant created.', tenant_id: tenantId };
    },
  );

  app.post(
    `${base}/tenants/:tenant_id/owner`,
    {
      schema: {
        tags: TAGS,
        summary: "Make a member the tenant's owner, so the owner before can be deleted (superuser; an Engram addition)",
        security: SECURED,
        params: z.object({ tenant_id: Uuid }),
        querystring: z.object({ user_id: Uuid }),
      },
      preHandler: authenticate(auth, config, 'superuser'),
    },
    async (request) => access.transferTenant(request.params.tenant_id, request.query.user_id),
  );

  app.post(
    `${base}/tenants/select`,
    {
      schema: {
        tags: TAGS,
        summary: 'Select your active tenant (null: your personal space)',
        security: SECURED,
        body: z.preprocess((body) => camelOrSnake(body, { tenant_id: 'tenantId' }), z.object({ tenant_id: Uuid.nullable().optional() })),
      },
      preHandler: guard,
    },
    async (request) => {
      const userId = principalOf(request).user.id;
      const tenantId = request.body.tenant_id || null;
      return changeOf(userId, management.selectTenant(userId, tenantId));
    },
  );

  app.get(`${base}/tenants/me`, { schema: { tags: TAGS, summary: 'Tenants you belong to', security: SECURED }, preHandler: guard }, async (request) =>
    access.tenantsOf(principalOf(request).user.id),
  );

  app.get(
    `${base}/tenants/:tenant_id/roles`,
    {
      schema: {
        tags: TAGS,
        summary: "A tenant's roles (all for managers, your own otherwise; all of them unless a limit is given)",
        security: SECURED,
        params: z.object({ tenant_id: Uuid }),
        querystring: z.object(PageQuery),
      },
      preHandler: guard,
    },
    async (request) => {
      const page = pageOf(request.query);
      return pageIn(await management.tenantRoles(await subject(request), request.params.tenant_id), page);
    },
  );

  app.get(
    `${base}/tenants/:tenant_id/roles/:role_id/users`,
    {
      schema: { tags: TAGS, summary: "A role's members", security: SECURED, params: z.object({ tenant_id: Uuid, role_id: Uuid }) },
      preHandler: guard,
    },
    async (request) => management.roleMembers(await subject(request), request.params.tenant_id, request.params.role_id),
  );

  app.get(
    `${base}/tenants/:tenant_id/roles/users/:user_id`,
    {
      schema: {
        tags: TAGS,
        summary: "A user's roles in this tenant (owner or admin)",
        security: SECURED,
        params: z.object({ tenant_id: Uuid, user_id: Uuid }),
      },
      preHandler: guard,
    },
    async (request) => management.userRolesInTenant(await subject(request), request.params.tenant_id, request.params.user_id),
  );

  app.get(
    `${base}/tenants/:tenant_id/users`,
    {
      schema: {
        tags: TAGS,
        summary: "A tenant's members with their roles (owner or admin; all of them unless a limit is given)",
        security: SECURED,
        params: z.object({ tenant_id: Uuid }),
        querystring: z.object(PageQuery),
      },
      preHandler: guard,
    },
    async (request) => {
      const page = pageOf(request.query);
      return pageIn(await management.tenantUsers(await subject(request), request.params.tenant_id), page);
    },
  );
}
