import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { datasetPermissionDenied, datasetView, type DatasetRow, type PermissionName } from '../../access/index.js';
import { bareError, unauthorizedDataAccess } from '../../errors.js';
import { itemView } from '../../memory/index.js';
import { actorOf, authenticate } from '../authenticate.js';
import { attachmentDisposition } from '../content-disposition.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { pageIn, pageOf, PageQuery } from '../pagination.js';
import { NoFields, Uuid, UuidZodMessage } from '../schemas.js';
import { isUuid } from '../../ids.js';

/** A media type without parameters (RFC 9110 tokens). */
const MIME_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/;

/** A dataset's items come a page at a time, as in the reference (SDK-607): 100 unless a limit is given. */
const DATA_PAGE = 100;

const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The datasets router: every `/api/v1/datasets` route (datasets, their items, statuses and graphs). */
export function datasetRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');
  const TAGS = ['datasets'];
  const DatasetParams = z.object({ dataset_id: Uuid });
  const ItemParams = z.object({ dataset_id: Uuid, data_id: Uuid });
  // The deletions take everything from their path: a query or body field is refused (422), never ignored.
  const NoBody = NoFields.optional().nullable();

  /** The one dataset a path names, if the caller holds `permission` on it (403 otherwise). */
  const named = async (request: FastifyRequest, datasetId: string, permission: PermissionName = 'read'): Promise<DatasetRow> => {
    const [dataset] = await access.datasets(await actorOf(request, access), permission, { ids: [datasetId] });
    if (!dataset) throw datasetPermissionDenied(permission);
    return dataset;
  };

  app.get(
    '/api/v1/datasets',
    {
      schema: {
        tags: TAGS,
        summary: 'Datasets you can read in your active tenant (all of them unless a limit is given)',
        security: SECURED,
        querystring: z.object(PageQuery),
      },
      preHandler: guard,
    },
    async (request) => {
      const page = pageOf(request.query);
      return pageIn(await access.datasets(await actorOf(request, access), 'read'), page).map(datasetView);
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
    async (request) => datasetView(await access.ownDataset(await actorOf(request, access), request.body.name)),
  );

  app.delete(
    '/api/v1/datasets',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete every dataset you may delete in your active tenant',
        security: SECURED,
        querystring: NoFields,
        body: NoBody,
      },
      preHandler: guard,
    },
    async (request) => {
      for (const dataset of await access.datasets(await actorOf(request, access), 'delete')) await memory.datasets.delete(dataset);
      return null;
    },
  );

  app.delete(
    '/api/v1/datasets/:dataset_id',
    {
      schema: { tags: TAGS, summary: 'Delete a dataset (needs delete)', security: SECURED, params: DatasetParams, querystring: NoFields, body: NoBody },
      preHandler: guard,
    },
    async (request) => {
      const [dataset] = await access.datasets(await actorOf(request, access), 'delete', { ids: [request.params.dataset_id] });
      // Graph, vectors, per-dataset databases, items and files first; then the row (its grants cascade).
      if (dataset) await memory.datasets.delete(dataset);
      return null;
    },
  );

  app.get(
    '/api/v1/datasets/status',
    {
      schema: {
        tags: TAGS,
        summary: 'Latest pipeline status per dataset',
        security: SECURED,
        querystring: z.object({
          dataset: z.union([z.string(), z.array(z.string())]).optional(),
          pipeline: z.union([z.string(), z.array(z.string())]).optional(),
        }),
      },
      preHandler: guard,
    },
    async (request) => {
      // The reference answers every failure here, a refused or malformed id included, with one 409.
      try {
        const requested = asList(request.query.dataset);
        if (requested.some((d) => !isUuid(d))) throw new Error('bad id');
        const datasets = await access.datasets(await actorOf(request, access), 'read', { ids: requested });
        const ids = requested.length > 0 ? [...new Set(requested.map((d) => d.toLowerCase()))] : datasets.map((d) => d.id);
        return await memory.pipelines.statuses(ids, asList(request.query.pipeline));
      } catch {
        throw bareError(409, 'Unable to retrieve dataset statuses.');
      }
    },
  );

  app.get(
    '/api/v1/datasets/graph-summary',
    {
      schema: {
        tags: TAGS,
        summary: 'Node and edge counts per readable dataset',
        security: SECURED,
        querystring: z.object({ dataset_ids: z.union([UuidZodMessage, z.array(UuidZodMessage)]).optional() }),
      },
      preHandler: guard,
    },
    async (request) => {
      const requested = request.query.dataset_ids === undefined ? [] : ([] as string[]).concat(request.query.dataset_ids);
      return memory.datasets.graphSummary(await access.datasets(await actorOf(request, access), 'read', { ids: requested }));
    },
  );

  app.get(
    '/api/v1/datasets/:dataset_id/data',
    {
      schema: {
        tags: TAGS,
        summary: `Items of a dataset, oldest first, ${DATA_PAGE} at a time unless a limit is given (needs read)`,
        security: SECURED,
        params: DatasetParams,
        querystring: z.object(PageQuery),
      },
      preHandler: guard,
    },
    async (request) => {
      const page = pageOf(request.query, DATA_PAGE);
      return (await memory.datasets.items(await named(request, request.params.dataset_id), page)).map(itemView);
    },
  );

  app.get(
    '/api/v1/datasets/:dataset_id/data/count',
    { schema: { tags: TAGS, summary: 'How many items a dataset holds (needs read)', security: SECURED, params: DatasetParams }, preHandler: guard },
    async (request) => ({ count: await memory.datasets.itemCount(await named(request, request.params.dataset_id)) }),
  );

  app.get(
    '/api/v1/datasets/:dataset_id/data/:data_id/raw',
    { schema: { tags: TAGS, summary: 'Download the original of an item (needs read)', security: SECURED, params: ItemParams }, preHandler: guard },
    async (request, reply) => {
      const dataset = await named(request, request.params.dataset_id);
      const { row, bytes } = await memory.datasets.raw(dataset, request.params.data_id);
      // The name is the uploader's text: encoded (RFC 6266/5987), never written into the header as is;
      // a stored type that is not a plain `type/subtype` (a row another server wrote) is sent as bytes.
      const mime = MIME_TYPE.test(row.mime_type) ? row.mime_type : 'application/octet-stream';
      reply.header('content-type', mime.startsWith('text/') ? `${mime}; charset=utf-8` : mime);
      reply.header('content-disposition', attachmentDisposition(`${row.name}.${row.extension}`));
      return reply.send(bytes);
    },
  );

  app.delete(
    '/api/v1/datasets/:dataset_id/data/:data_id',
    {
      schema: { tags: TAGS, summary: 'Delete an item of a dataset (needs delete)', security: SECURED, params: ItemParams, querystring: NoFields, body: NoBody },
      preHandler: guard,
    },
    async (request) => {
      const datasetId = request.params.dataset_id;
      let dataset: DatasetRow;
      try {
        dataset = await named(request, datasetId, 'delete');
      } catch {
        throw unauthorizedDataAccess(datasetId);
      }
      await memory.datasets.deleteItem(dataset, request.params.data_id);
      return null;
    },
  );

  app.get(
    '/api/v1/datasets/:dataset_id/graph',
    { schema: { tags: TAGS, summary: 'The knowledge graph of a dataset (needs read)', security: SECURED, params: DatasetParams }, preHandler: guard },
    async (request) => memory.datasets.graph(await named(request, request.params.dataset_id)),
  );
}
