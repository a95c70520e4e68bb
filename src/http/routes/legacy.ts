import multipart from '@fastify/multipart';
import { z } from 'zod';
import { datasetPermissionDenied } from '../../access/index.js';
import { ApiError, bareError, ingestionError, routerError } from '../../errors.js';
import { ingestLimitsOf } from '../../memory/index.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { NoFields, Uuid } from '../schemas.js';
import { readUploadForm } from '../uploads.js';

/** A boolean query parameter as FastAPI reads one. */
const QueryBool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', 'True', 'False'])
  .transform((v) => ['true', '1', 'yes', 'on', 'True'].includes(v));

/** The update form's fields besides the file (`data`). */
const UPDATE_FIELDS = new Set(['node_set']);

/**
 * The reference's older routes that clients still call: `DELETE /api/v1/delete` (one item, by query)
 * and `PATCH /api/v1/update` (one file replaces an item's content, then the dataset is cognified
 * again). Both name what they touch in full and refuse any field they do not know (422), so a
 * misspelt field can never widen what is deleted or replaced.
 */
export function legacyRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');
  const ingestLimits = ingestLimitsOf(config);

  app.delete(
    '/api/v1/delete',
    {
      schema: {
        tags: ['delete'],
        summary: 'Delete one item of a dataset (deprecated: DELETE /api/v1/datasets/{dataset_id}/data/{data_id}; needs delete)',
        deprecated: true,
        security: SECURED,
        querystring: z
          .object({
            data_id: Uuid,
            dataset_id: Uuid,
            mode: z.enum(['soft', 'hard']).optional().default('soft'),
            delete_dataset_if_empty: QueryBool.optional().default(false),
          })
          .strict(),
        body: NoFields.optional().nullable(),
      },
      preHandler: guard,
    },
    async (request) => {
      const query = request.query;
      // The reference answers every failure here (a refused or unknown dataset included) with one 409.
      const [dataset] = await access.datasets(await actorOf(request, access), 'delete', { ids: [query.dataset_id] }).catch(() => []);
      if (!dataset) throw bareError(409, 'Unable to delete data.');
      try {
        await memory.datasets.deleteItem(dataset, query.data_id, { hard: query.mode === 'hard' });
        if (query.delete_dataset_if_empty && (await memory.datasets.itemCount(dataset)) === 0) await memory.datasets.delete(dataset);
      } catch (error) {
        request.log.error({ err: error }, 'DELETE /api/v1/delete failed');
        throw bareError(409, 'Unable to delete data.');
      }
      return { status: 'success' };
    },
  );

  app.register(async (scope: App) => {
    await scope.register(multipart, { limits: { fileSize: config.memory.uploadMaxBytes } });
    scope.patch(
      '/api/v1/update',
      {
        schema: {
          tags: ['update'],
          summary: "Replace an item's content with one file and cognify its dataset again (needs delete and write)",
          security: SECURED,
          consumes: ['multipart/form-data'],
          querystring: z.object({ data_id: Uuid, dataset_id: Uuid }).strict(),
        },
        preHandler: guard,
      },
      async (request) => {
        const form = await readUploadForm(request, ingestLimits);
        const unknown = [...form.fields.keys(), ...form.otherFiles].filter((name) => !UPDATE_FIELDS.has(name));
        if (unknown.length > 0) {
          throw routerValidation(unknown.map((name) => ({ type: 'extra_forbidden', loc: ['body', name], msg: 'Extra inputs are not permitted' })));
        }
        if (form.files.length === 0) throw routerValidation([{ type: 'missing', loc: ['body', 'data'], msg: 'Field required' }]);
        if (form.files.length > 1) throw ingestionError(`update() replaces exactly one document; got a list of ${form.files.length} items.`);
        const actor = await actorOf(request, access);
        const { data_id: dataId, dataset_id: datasetId } = request.query;
        // Both permissions before anything is looked up, so a refused caller learns nothing of the item.
        await access.datasets(actor, 'delete', { ids: [datasetId] });
        const [dataset] = await access.datasets(actor, 'write', { ids: [datasetId] });
        if (!dataset) throw datasetPermissionDenied('write');
        const file = form.files[0]!;
        const sets = (form.fields.get('node_set') ?? []).filter((s) => s !== '');
        const runs = await memory.replaceItem(
          dataset,
          dataId,
          { kind: 'file', filename: file.filename, bytes: file.bytes },
          { userId: actor.subject.userId, tenantId: actor.subject.activeTenantId },
          sets.length > 0 ? sets : null,
        );
        const errored = Object.values(runs).find((run) => run.status === 'PipelineRunErrored');
        if (errored) throw routerError(500, 'Pipeline run errored', errored.payload);
        return runs;
      },
    );
  });
}

/** The validation envelope (422), for what the multipart form cannot declare in a schema. */
function routerValidation(detail: { type: string; loc: string[]; msg: string }[]) {
  return new ApiError(422, { detail, body: null });
}
