import { z } from 'zod';
import {
  datasetView,
  deleteDatasetRow,
  effectiveDatasets,
  findDataset,
  getOrCreateDataset,
  requireOnAll,
  subjectOf,
} from '../../access/index.js';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { Uuid } from '../schemas.js';

/** `/api/v1/datasets`: list, get-or-create, delete (the memory engine extends what delete removes). */
export function datasetRoutes(app: App, ctx: HttpContext) {
  const { auth, config, store } = ctx;
  const db = store.db;
  const guard = authenticate(auth, config, 'auth');
  const TAGS = ['datasets'];

  app.get(
    '/api/v1/datasets',
    { schema: { tags: TAGS, summary: 'Datasets you can read in your active tenant', security: SECURED }, preHandler: guard },
    async (request) => {
      const rows = await effectiveDatasets(db, await subjectOf(db, principalOf(request)), 'read');
      return rows.map(datasetView);
    },
  );

  app.post(
    '/api/v1/datasets',
    {
      schema: {
        tags: TAGS,
        summary: 'Your dataset of that name in the active tenant, created with all four permissions if missing',
        security: SECURED,
        body: z.object({ name: z.string().trim().min(1).max(255) }),
      },
      preHandler: guard,
    },
    async (request) => {
      const principal = principalOf(request);
      const subject = await subjectOf(db, principal);
      const { dataset } = await getOrCreateDataset(
        db,
        { id: principal.user.id, parentUserId: principal.user.parentUserId },
        subject.activeTenantId,
        request.body.name,
      );
      return datasetView(dataset);
    },
  );

  app.delete(
    '/api/v1/datasets/:dataset_id',
    {
      schema: { tags: TAGS, summary: 'Delete a dataset (needs delete)', security: SECURED, params: z.object({ dataset_id: Uuid }) },
      preHandler: guard,
    },
    async (request) => {
      const id = request.params.dataset_id.toLowerCase();
      await requireOnAll(db, await subjectOf(db, principalOf(request)), 'delete', [id]);
      const dataset = await findDataset(db, id);
      // Graph, vectors, per-dataset databases, items and files first; then the row (its grants cascade).
      if (dataset) await ctx.memory.deleteDataset({ id, ownerId: dataset.owner_id, name: dataset.name, tenantId: dataset.tenant_id });
      await deleteDatasetRow(db, id);
      return null;
    },
  );
}
