import multipart from '@fastify/multipart';
import { z } from 'zod';
import type { Actor, DatasetRow } from '../../access/index.js';
import { ApiError, routerError } from '../../errors.js';
import { ingestLimitsOf, type IngestItem, type PipelineRunInfo } from '../../memory/index.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { camelOrSnake } from '../schemas.js';
import { parseExternalMetadata, parseLabels, readUploadForm } from '../uploads.js';
import { isUuid } from '../../ids.js';

/** A boolean form field as the reference's `Form(bool)` reads it (absent: false); anything else is its 400. */
function formBoolean(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '') return false;
  const text = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on', 't', 'y'].includes(text)) return true;
  if (['false', '0', 'no', 'off', 'f', 'n'].includes(text)) return false;
  throw new ApiError(400, {
    detail: [{ type: 'bool_parsing', loc: ['body', name], msg: 'Input should be a valid boolean, unable to interpret input' }],
    body: null,
  });
}

/** The add router: `/api/v1/add` (files) and `/api/v1/add_text` (text, URLs, local paths). */
export function addRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');
  const ingestLimits = ingestLimitsOf(config);

  /**
   * The dataset an add writes to: by id (needs write; a malformed id is the reference's
   * `uuid_parsing` 400), or by name among the actor's own datasets in the active tenant, created
   * when missing (names in pipelines may not contain spaces or dots: 400, as the add router).
   */
  async function writeTarget(actor: Actor, datasetId?: string, datasetName?: string): Promise<DatasetRow> {
    if (datasetId) {
      if (!isUuid(datasetId))
        throw new ApiError(400, { detail: [{ type: 'uuid_parsing', loc: ['body', 'datasetId'], msg: 'Input should be a valid UUID' }], body: null });
      return (await access.datasets(actor, 'write', { ids: [datasetId] }))[0]!;
    }
    if (!datasetName) throw routerError(400, 'Either datasetId or datasetName must be provided.');
    if (datasetName.includes(' ') || datasetName.includes('.')) throw routerError(400, 'Dataset name cannot contain spaces or dots.');
    return (await access.datasets(actor, 'write', { names: [datasetName], create: true }))[0]!;
  }

  const add = (actor: Actor, dataset: DatasetRow, items: IngestItem[], nodeSet: string[] | null): Promise<PipelineRunInfo> =>
    memory.pipelines.add(dataset, actor.subject.userId, actor.subject.activeTenantId, items, nodeSet);

  app.register(async (scope: App) => {
    await scope.register(multipart, { limits: { fileSize: config.memory.uploadMaxBytes } });
    scope.post(
      '/api/v1/add',
      {
        schema: { tags: ['add'], summary: 'Upload files into a dataset (needs write)', security: SECURED, consumes: ['multipart/form-data'] },
        preHandler: guard,
      },
      async (request) => {
        const form = await readUploadForm(request, ingestLimits);
        const field = (name: string) => form.fields.get(name)?.[0];
        const background = formBoolean(field('run_in_background'), 'run_in_background');
        const labels = parseLabels(field('labels'), form.files.length);
        const metadata = parseExternalMetadata(field('external_metadata'), form.files.length);
        const actor = await actorOf(request, access);
        const datasetId = field('datasetId') || field('dataset_id') || undefined;
        const datasetName = field('datasetName') || field('dataset_name') || undefined;
        if (!datasetId && !datasetName) throw routerError(400, 'Either datasetId or datasetName must be provided.');
        // Checked before the dataset is resolved, so an empty request never creates a dataset.
        if (form.files.length === 0) throw routerError(400, 'No data provided: send one or more files in the data field.');
        const dataset = await writeTarget(actor, datasetId, datasetName);
        const items: IngestItem[] = [];
        form.files.forEach((f, i) => {
          if (labels && labels[i] === null && field('labels')?.trim().startsWith('[') === false) return;
          items.push({ kind: 'file', filename: f.filename, bytes: f.bytes, label: labels?.[i] ?? null, externalMetadata: metadata?.[i] ?? null });
        });
        const sets = (form.fields.get('node_set') ?? []).filter((s) => s !== '');
        const done = await add(actor, dataset, items, sets.length > 0 ? sets : null);
        // The upload is stored (files and rows) before any answer, so nothing is lost whatever
        // happens next; what the reference leaves running in the background (parsing) is cognify's
        // work here, so a background add answers the reference's started run, already complete.
        return background ? { ...done, status: 'PipelineRunStarted' as const, payload: [], data_ingestion_info: null } : done;
      },
    );
  });

  app.post(
    '/api/v1/add_text',
    {
      schema: {
        tags: ['add'],
        summary: 'Add text, or http(s) URLs fetched under the outbound rules, to a dataset (needs write)',
        security: SECURED,
        body: z.preprocess(
          (b) => camelOrSnake(b, { text_data: 'textData', dataset_id: 'datasetId', dataset_name: 'datasetName', node_set: 'nodeSet' }),
          z.object({
            text_data: z.array(z.string().max(5_000_000)).min(1).max(1000),
            dataset_id: z.string().optional().nullable(),
            dataset_name: z.string().max(255).optional().nullable(),
            node_set: z.array(z.string().max(255)).max(100).optional().nullable(),
          }),
        ),
      },
      preHandler: guard,
    },
    async (request) => {
      const actor = await actorOf(request, access);
      const body = request.body;
      const dataset = await writeTarget(actor, body.dataset_id || undefined, body.dataset_name || undefined);
      const items = await memory.inputs.read(body.text_data);
      return add(actor, dataset, items, body.node_set && body.node_set.length > 0 ? body.node_set : null);
    },
  );
}
