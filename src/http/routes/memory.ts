import multipart from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  effectiveDatasets,
  findDataset,
  getOrCreateDataset,
  permissionDenied,
  requireOnAll,
  subjectOf,
  type DatasetRow,
  type PermissionName,
  type Subject,
} from '../../access/index.js';
import type { AuthenticatedUser } from '../../auth/index.js';
import { ApiError } from '../../errors.js';
import type { DatasetInfo, IngestItem } from '../../memory/engine.js';
import { RunStatus, latestRuns, nextSeq, recordRunStatus, type PipelineRunInfo } from '../../memory/runs.js';
import {
  DEFAULT_SYSTEM_PROMPT,
  SEARCH_TYPES,
  resolveSearchType,
  searchDataset,
  searchResultOf,
  type SearchType,
} from '../../memory/search.js';
import { classifyInput, IngestionError, readLocalFile, serverStatePaths, type LocalFilePolicy } from '../../security/local-paths.js';
import { fetchPublicUrl, SsrfProtectionError } from '../../security/outbound.js';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { camelOrSnake } from '../schemas.js';
import { IngestBudget, ingestLimitsOf, readUploadForm } from '../uploads.js';

/** The caller's queries and the answers they got, oldest first (search and recall history). */
export async function searchHistory(db: HttpContext['store']['db'], userId: string) {
  const rows = await db.selectFrom('search_history').selectAll().where('user_id', '=', userId).orderBy('seq', 'asc').execute();
  return rows.map((r) => ({ id: r.id, text: r.text, user: r.kind === 'query' ? 'user' : 'system', createdAt: r.created_at, datasetId: r.dataset_id }));
}

/** The reference's router-local error body. */
const errorResponse = (status: number, error: string, detail: unknown = null) => new ApiError(status, { error, detail });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function info(row: DatasetRow): DatasetInfo {
  return { id: row.id, ownerId: row.owner_id, name: row.name, tenantId: row.tenant_id };
}

/** Names used in pipelines may not contain spaces or dots (as the reference). */
function checkPipelineName(name: string): void {
  if (name.includes(' ') || name.includes('.')) throw errorResponse(400, 'Dataset name cannot contain spaces or dots.');
}

/**
 * The dataset an add/remember writes to: by id (needs write), or by name among the caller's own
 * datasets in the active tenant, created when missing (the creator gets all four permissions).
 */
async function writeTarget(ctx: HttpContext, principal: AuthenticatedUser, subject: Subject, datasetId?: string, datasetName?: string): Promise<DatasetRow> {
  const db = ctx.store.db;
  if (datasetId) {
    if (!UUID.test(datasetId)) throw new ApiError(400, { detail: [{ type: 'uuid_parsing', loc: ['body', 'datasetId'], msg: 'Input should be a valid UUID' }], body: null });
    await requireOnAll(db, subject, 'write', [datasetId.toLowerCase()]);
    return (await findDataset(db, datasetId.toLowerCase()))!;
  }
  if (!datasetName) throw errorResponse(400, 'Either datasetId or datasetName must be provided.');
  checkPipelineName(datasetName);
  const { dataset } = await getOrCreateDataset(db, { id: principal.user.id, parentUserId: principal.user.parentUserId }, subject.activeTenantId, datasetName);
  await requireOnAll(db, subject, 'write', [dataset.id]);
  return dataset;
}

/** Datasets named by id (permission required on all, 403 otherwise) or by the caller's own names. */
async function namedDatasets(
  ctx: HttpContext,
  principal: AuthenticatedUser,
  subject: Subject,
  permission: PermissionName,
  ids: readonly string[] | undefined,
  names: readonly string[] | undefined,
  opts: { createMissing: boolean },
): Promise<DatasetRow[]> {
  const db = ctx.store.db;
  if (ids && ids.length > 0) {
    const lower = [...new Set(ids.map((i) => i.toLowerCase()))];
    await requireOnAll(db, subject, permission, lower);
    return (await Promise.all(lower.map((id) => findDataset(db, id)))).filter((d): d is DatasetRow => d !== undefined);
  }
  const result: DatasetRow[] = [];
  for (const name of names ?? []) {
    if (opts.createMissing) {
      const { dataset } = await getOrCreateDataset(db, { id: principal.user.id, parentUserId: principal.user.parentUserId }, subject.activeTenantId, name);
      result.push(dataset);
    } else {
      const own = (await effectiveDatasets(db, subject, permission)).filter((d) => d.name === name && d.owner_id === principal.user.id);
      result.push(...own);
    }
  }
  if (result.length > 0) await requireOnAll(db, subject, permission, result.map((d) => d.id));
  return result;
}

function startedInfo(dataset: DatasetRow, pipelineRunId: string): PipelineRunInfo {
  return { status: 'PipelineRunStarted', pipeline_run_id: pipelineRunId, dataset_id: dataset.id, dataset_name: dataset.name, payload: [], data_ingestion_info: null };
}

/** `labels`: a JSON array of strings/nulls, or comma-separated text; positional with the files. */
function parseLabels(value: string | undefined, count: number): (string | null)[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let labels: unknown;
  try {
    labels = JSON.parse(value);
  } catch {
    labels = value.split(',').map((s) => s.trim());
  }
  if (!Array.isArray(labels) || labels.some((l) => l !== null && typeof l !== 'string')) {
    throw ApiError.named(400, 'InvalidLabelsError', 'Labels must be a JSON array of strings or nulls, or comma-separated text.');
  }
  if (labels.length !== count) {
    throw ApiError.named(400, 'LabelCountMismatchError', `Provide one label per uploaded file: got ${labels.length} labels for ${count} files.`);
  }
  return labels.map((l) => (l === '' ? null : (l as string | null)));
}

function parseExternalMetadata(value: string | undefined, count: number): unknown[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw ApiError.named(400, 'InvalidExternalMetadataError', 'external_metadata must be a JSON array of objects or nulls.');
  }
  if (!Array.isArray(parsed) || parsed.some((m) => m !== null && (typeof m !== 'object' || Array.isArray(m)))) {
    throw ApiError.named(400, 'InvalidExternalMetadataError', 'external_metadata must be a JSON array of objects or nulls.');
  }
  if (parsed.some((m) => m && Object.prototype.hasOwnProperty.call(m, 'node_set'))) {
    throw ApiError.named(400, 'InvalidExternalMetadataError', 'The key node_set is reserved in external_metadata.');
  }
  if (parsed.length !== count) {
    throw ApiError.named(400, 'ExternalMetadataCountMismatchError', `Provide one metadata entry per uploaded file: got ${parsed.length} entries for ${count} files.`);
  }
  return parsed;
}

export function memoryRoutes(app: App, ctx: HttpContext) {
  const { auth, config, store, memory } = ctx;
  const db = store.db;
  const guard = authenticate(auth, config, 'auth');
  const ingestLimits = ingestLimitsOf(config);

  /** Stores the items, records the add pipeline, and resets the dataset's cognify status to INITIATED. */
  async function add(principal: AuthenticatedUser, subject: Subject, dataset: DatasetRow, items: IngestItem[], nodeSet: string[] | null): Promise<PipelineRunInfo> {
    const pipelineRunId = randomUUID();
    const run = { pipelineRunId, pipelineName: 'add_pipeline' as const, datasetId: dataset.id, userId: principal.user.id };
    await recordRunStatus(db, run, RunStatus.STARTED);
    const rows = await memory.ingest(info(dataset), principal.user.id, subject.activeTenantId, items, nodeSet);
    await recordRunStatus(db, run, RunStatus.COMPLETED, { data: rows.map((r) => r.id) });
    const cognify = (await latestRuns(db, 'cognify_pipeline', [dataset.id])).get(dataset.id);
    if (cognify && cognify.status !== RunStatus.INITIATED) {
      await recordRunStatus(db, { ...run, pipelineName: 'cognify_pipeline', pipelineRunId: cognify.pipeline_run_id }, RunStatus.INITIATED);
    }
    return {
      status: 'PipelineRunCompleted',
      pipeline_run_id: pipelineRunId,
      dataset_id: dataset.id,
      dataset_name: dataset.name,
      payload: null,
      data_ingestion_info: rows.map((r) => ({
        data_id: r.id,
        run_info: { status: 'PipelineRunCompleted', pipeline_run_id: pipelineRunId, dataset_id: dataset.id, dataset_name: dataset.name, payload: null, data_ingestion_info: null },
      })),
    };
  }

  app.register(async (scope: App) => {
    await scope.register(multipart, { limits: { fileSize: config.memory.uploadMaxBytes } });
    scope.post(
      '/api/v1/add',
      { schema: { tags: ['add'], summary: 'Upload files into a dataset (needs write)', security: SECURED, consumes: ['multipart/form-data'] }, preHandler: guard },
      async (request) => {
        const principal = principalOf(request);
        const form = await readUploadForm(request, ingestLimits);
        const field = (name: string) => form.fields.get(name)?.[0];
        const labels = parseLabels(field('labels'), form.files.length);
        const metadata = parseExternalMetadata(field('external_metadata'), form.files.length);
        const subject = await subjectOf(db, principal);
        const datasetId = field('datasetId') || field('dataset_id') || undefined;
        const datasetName = field('datasetName') || field('dataset_name') || undefined;
        if (!datasetId && !datasetName) throw errorResponse(400, 'Either datasetId or datasetName must be provided.');
        // Checked before the dataset is resolved, so an empty request never creates a dataset.
        if (form.files.length === 0) throw errorResponse(400, 'No data provided: send one or more files in the data field.');
        const dataset = await writeTarget(ctx, principal, subject, datasetId, datasetName);
        const items: IngestItem[] = [];
        form.files.forEach((f, i) => {
          if (labels && labels[i] === null && field('labels')?.trim().startsWith('[') === false) return;
          items.push({ kind: 'file', filename: f.filename, bytes: f.bytes, label: labels?.[i] ?? null, externalMetadata: metadata?.[i] ?? null });
        });
        const sets = (form.fields.get('node_set') ?? []).filter((s) => s !== '');
        return add(principal, subject, dataset, items, sets.length > 0 ? sets : null);
      },
    );
  });

  // D17: local paths in add_text; the server's own state is never readable, whatever the roots.
  const localFiles: LocalFilePolicy = {
    acceptLocalFilePath: config.memory.acceptLocalFilePath,
    allowedRoots: [...config.memory.allowedLocalRoots],
    protectedPaths: serverStatePaths(config),
  };

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
      const principal = principalOf(request);
      const subject = await subjectOf(db, principal);
      const body = request.body;
      const dataset = await writeTarget(ctx, principal, subject, body.dataset_id || undefined, body.dataset_name || undefined);
      const items: IngestItem[] = [];
      const budget = new IngestBudget(ingestLimits.maxTotalBytes);
      for (const entry of body.text_data) {
        try {
          const kind = await classifyInput(entry, localFiles);
          if (kind.kind === 'text') items.push({ kind: 'text', text: kind.text });
          else if (kind.kind === 'url') {
            const fetched = await fetchPublicUrl(kind.url, { allowHttpRequests: config.memory.allowHttpRequests, maxBytes: config.memory.urlMaxBytes });
            budget.take(fetched.body.length);
            const html = /html/i.test(fetched.contentType) || !/^(text\/plain|application\/json|text\/csv|text\/markdown)/i.test(fetched.contentType);
            const name = (new URL(fetched.finalUrl).hostname + new URL(fetched.finalUrl).pathname).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);
            items.push({ kind: 'file', filename: `${name}.${html ? 'html' : 'txt'}`, bytes: fetched.body, externalMetadata: { source_url: fetched.finalUrl } });
          } else {
            const bytes = await readLocalFile(kind.path, localFiles, config.memory.uploadMaxBytes);
            budget.take(bytes.length);
            items.push({ kind: 'file', filename: kind.path, bytes });
          }
        } catch (error) {
          if (error instanceof SsrfProtectionError) throw ApiError.named(403, 'SSRFProtectionError', error.message);
          if (error instanceof IngestionError) throw ApiError.named(415, 'IngestionError', error.message);
          if (error instanceof ApiError) throw error;
          throw errorResponse(400, error instanceof Error ? error.message.slice(0, 300) : 'Could not ingest the item.');
        }
      }
      return add(principal, subject, dataset, items, body.node_set && body.node_set.length > 0 ? body.node_set : null);
    },
  );

  app.post(
    '/api/v1/cognify',
    {
      schema: {
        tags: ['cognify'],
        summary: 'Build the knowledge graph and vector index of datasets (needs write)',
        security: SECURED,
        body: z.preprocess(
          (b) =>
            camelOrSnake(b, {
              dataset_ids: 'datasetIds',
              run_in_background: 'runInBackground',
              custom_prompt: 'customPrompt',
              chunk_size: 'chunkSize',
              graph_model: 'graphModel',
              ontology_key: 'ontologyKey',
              chunks_per_batch: 'chunksPerBatch',
              data_per_batch: 'dataPerBatch',
            }),
          z.object({
            datasets: z.array(z.string().max(255)).max(100).optional().nullable(),
            dataset_ids: z.array(z.uuid({ message: 'Input should be a valid UUID' })).max(100).optional().nullable(),
            run_in_background: z.boolean().optional().default(false),
            custom_prompt: z.string().max(100_000).optional().nullable(),
            chunk_size: z.number().int().min(16).max(100_000).optional().nullable(),
            graph_model: z.unknown().optional(),
            ontology_key: z.array(z.string()).optional().nullable(),
            chunks_per_batch: z.number().int().positive().optional().nullable(),
            data_per_batch: z.number().int().positive().optional().nullable(),
          }),
        ),
      },
      preHandler: guard,
    },
    async (request) => {
      const principal = principalOf(request);
      const body = request.body;
      if ((!body.datasets || body.datasets.length === 0) && (!body.dataset_ids || body.dataset_ids.length === 0)) {
        throw errorResponse(400, 'No datasets or dataset_ids provided');
      }
      if (body.ontology_key && body.ontology_key.length > 0) throw errorResponse(409, `Ontology key not found: ${body.ontology_key[0]}`);
      if (!body.dataset_ids || body.dataset_ids.length === 0) for (const name of body.datasets ?? []) if (name.includes(' ') || name.includes('.')) throw errorResponse(409, 'Dataset name cannot contain spaces or dots.');
      const subject = await subjectOf(db, principal);
      const targets = await namedDatasets(ctx, principal, subject, 'write', body.dataset_ids ?? undefined, body.datasets ?? undefined, { createMissing: true });
      const opts = {
        ...(body.custom_prompt ? { customPrompt: body.custom_prompt } : {}),
        ...(body.chunk_size ? { chunkSize: body.chunk_size } : {}),
        ...(body.data_per_batch ? { dataPerBatch: Math.min(body.data_per_batch, 1000) } : {}),
        ...(body.chunks_per_batch ? { chunksPerBatch: Math.min(body.chunks_per_batch, 100) } : {}),
      };
      const result: Record<string, PipelineRunInfo> = {};
      if (body.run_in_background) {
        for (const dataset of targets) {
          const runId = randomUUID();
          result[dataset.id] = startedInfo(dataset, runId);
          await memory.background(info(dataset), principal.user.id, runId, opts);
        }
        return result;
      }
      for (const dataset of targets) {
        const run = await memory.cognify(info(dataset), principal.user.id, randomUUID(), opts);
        if (run.status === 'PipelineRunErrored') throw errorResponse(500, 'Pipeline run errored', run.payload);
        result[dataset.id] = run;
      }
      return result;
    },
  );

  const SearchBody = z.preprocess(
    (b) =>
      camelOrSnake(b, {
        search_type: 'searchType',
        dataset_ids: 'datasetIds',
        system_prompt: 'systemPrompt',
        node_name: 'nodeName',
        top_k: 'topK',
        only_context: 'onlyContext',
        include_references: 'includeReferences',
      }),
    z.object({
      search_type: z.enum(SEARCH_TYPES).optional().default('HYBRID_COMPLETION'),
      datasets: z.array(z.string().max(255)).max(100).optional().nullable(),
      dataset_ids: z.array(z.uuid({ message: 'Input should be a valid UUID' })).max(100).optional().nullable(),
      query: z.string().max(100_000).optional().default('What is in the document?'),
      system_prompt: z.string().max(100_000).optional().nullable(),
      node_name: z.array(z.string().max(255)).max(100).optional().nullable(),
      top_k: z.number().int().optional().default(15),
      only_context: z.boolean().optional().default(false),
      verbose: z.boolean().optional().default(false),
      include_references: z.boolean().optional(),
    }).passthrough(),
  );

  app.post(
    '/api/v1/search',
    { schema: { tags: ['search'], summary: 'Search the datasets you can read', security: SECURED, body: SearchBody }, preHandler: guard },
    async (request) => {
      const principal = principalOf(request);
      const body = request.body;
      if (body.top_k <= 0) throw ApiError.named(422, 'QueryValidationError', 'top_k must be a positive integer.');
      const subject = await subjectOf(db, principal);
      let targets: DatasetRow[];
      if ((body.dataset_ids && body.dataset_ids.length > 0) || (body.datasets && body.datasets.length > 0)) {
        targets = await namedDatasets(ctx, principal, subject, 'read', body.dataset_ids ?? undefined, body.datasets ?? undefined, { createMissing: false });
        if (targets.length === 0) throw ApiError.named(404, 'DatasetNotFoundError', 'No datasets found.');
      } else {
        targets = await effectiveDatasets(db, subject, 'read');
      }
      const type = await resolveSearchType(memory, body.search_type as SearchType, body.query);
      const searchRequest = {
        type,
        query: body.query,
        topK: Math.min(body.top_k, 1000),
        systemPrompt: body.system_prompt || DEFAULT_SYSTEM_PROMPT,
        onlyContext: body.only_context,
        ...(body.node_name && body.node_name.length > 0 ? { nodeName: body.node_name } : {}),
      };
      const perDataset = await Promise.all(
        targets.map(async (dataset) => ({ dataset, outcome: await searchDataset(memory, info(dataset), searchRequest) })),
      );
      let response: unknown;
      if (config.posture.multiTenant) {
        response = perDataset.map(({ dataset, outcome }) => ({
          dataset_id: dataset.id,
          dataset_name: dataset.name,
          dataset_tenant_id: dataset.tenant_id,
          ...(body.verbose
            ? { text_result: outcome.completion, context_result: outcome.context, objects_result: outcome.objects }
            : { search_result: searchResultOf(outcome, body.only_context) }),
        }));
      } else {
        const results = perDataset.map(({ outcome }) =>
          body.verbose ? { text_result: outcome.completion, context_result: outcome.context, objects_result: outcome.objects } : searchResultOf(outcome, body.only_context),
        );
        response = !body.verbose && results.length === 1 && Array.isArray(results[0]) ? results[0] : body.verbose ? results : results.flatMap((r) => (Array.isArray(r) ? r : [r]));
      }
      await logSearch(principal.user.id, body.query, type, targets, response);
      return response;
    },
  );

  async function logSearch(userId: string, query: string, type: string, targets: DatasetRow[], response: unknown) {
    const queryId = randomUUID();
    const datasetId = targets.length === 1 ? targets[0]!.id : null;
    const now = new Date().toISOString();
    await db
      .insertInto('search_history')
      .values([
        { id: queryId, user_id: userId, kind: 'query', query_id: null, text: query, query_type: type, dataset_id: datasetId, created_at: now, seq: nextSeq() },
        { id: randomUUID(), user_id: userId, kind: 'result', query_id: queryId, text: JSON.stringify(response).slice(0, 1_000_000), query_type: type, dataset_id: datasetId, created_at: now, seq: nextSeq() },
      ])
      .execute();
  }

  app.get(
    '/api/v1/search',
    { schema: { tags: ['search'], summary: 'Your search history', security: SECURED }, preHandler: guard },
    async (request) => {
      return searchHistory(db, principalOf(request).user.id);
    },
  );

  app.get(
    '/api/v1/datasets/status',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Latest pipeline status per dataset',
        security: SECURED,
        querystring: z.object({ dataset: z.union([z.string(), z.array(z.string())]).optional(), pipeline: z.union([z.string(), z.array(z.string())]).optional() }),
      },
      preHandler: guard,
    },
    async (request) => {
      try {
        const subject = await subjectOf(db, principalOf(request));
        const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
        const requested = asList(request.query.dataset).map((d) => d.toLowerCase());
        if (requested.some((d) => !UUID.test(d))) throw new Error('bad id');
        let ids: string[];
        if (requested.length > 0) {
          await requireOnAll(db, subject, 'read', requested);
          ids = requested;
        } else ids = (await effectiveDatasets(db, subject, 'read')).map((d) => d.id);
        const pipelines = asList(request.query.pipeline);
        const names = pipelines.length > 0 ? pipelines : ['cognify_pipeline'];
        const byPipeline = new Map<string, Map<string, { status: string }>>();
        for (const name of names) byPipeline.set(name, await latestRuns(db, name, ids));
        const out: Record<string, unknown> = {};
        for (const id of ids) {
          if (names.length === 1) {
            const run = byPipeline.get(names[0]!)!.get(id);
            if (run) out[id] = run.status;
          } else {
            const entry: Record<string, string> = {};
            for (const name of names) {
              const run = byPipeline.get(name)!.get(id);
              if (run) entry[name] = run.status;
            }
            if (Object.keys(entry).length > 0) out[id] = entry;
          }
        }
        return out;
      } catch {
        throw new ApiError(409, { error: 'Unable to retrieve dataset statuses.' });
      }
    },
  );

  const readable = async (request: FastifyRequest, datasetId: string, permission: PermissionName = 'read'): Promise<DatasetRow> => {
    const subject = await subjectOf(db, principalOf(request));
    await requireOnAll(db, subject, permission, [datasetId.toLowerCase()]);
    const dataset = await findDataset(db, datasetId.toLowerCase());
    if (!dataset) throw permissionDenied(permission);
    return dataset;
  };

  app.get(
    '/api/v1/datasets/:dataset_id/data',
    { schema: { tags: ['datasets'], summary: 'Items of a dataset (needs read)', security: SECURED, params: z.object({ dataset_id: z.uuid({ message: 'Input should be a valid UUID' }) }) }, preHandler: guard },
    async (request) => {
      const dataset = await readable(request, request.params.dataset_id);
      const rows = await db.selectFrom('data').selectAll().where('dataset_id', '=', dataset.id).orderBy('created_at').execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        extension: r.extension,
        mimeType: r.mime_type,
        rawDataLocation: r.raw_data_location,
        datasetId: r.dataset_id,
        label: r.label,
        externalMetadata: r.external_metadata ? JSON.parse(r.external_metadata) : null,
      }));
    },
  );

  app.get(
    '/api/v1/datasets/:dataset_id/data/:data_id/raw',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Download the original of an item (needs read)',
        security: SECURED,
        params: z.object({ dataset_id: z.uuid({ message: 'Input should be a valid UUID' }), data_id: z.uuid({ message: 'Input should be a valid UUID' }) }),
      },
      preHandler: guard,
    },
    async (request, reply) => {
      const dataset = await readable(request, request.params.dataset_id);
      const row = await db.selectFrom('data').selectAll().where('dataset_id', '=', dataset.id).where('id', '=', request.params.data_id.toLowerCase()).executeTakeFirst();
      if (!row) throw ApiError.named(404, 'DataNotFoundError', `Data ${request.params.data_id} not found in dataset ${dataset.id}.`);
      const bytes = await memory.readStored(row);
      const filename = `${row.name}.${row.extension}`.replace(/["\\\r\n]/g, '_');
      reply.header('content-type', row.mime_type.startsWith('text/') ? `${row.mime_type}; charset=utf-8` : row.mime_type);
      reply.header('content-disposition', `attachment; filename="${filename}"`);
      return reply.send(bytes);
    },
  );

  app.delete(
    '/api/v1/datasets/:dataset_id/data/:data_id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Delete an item of a dataset (needs delete)',
        security: SECURED,
        params: z.object({ dataset_id: z.uuid({ message: 'Input should be a valid UUID' }), data_id: z.uuid({ message: 'Input should be a valid UUID' }) }),
      },
      preHandler: guard,
    },
    async (request) => {
      const datasetId = request.params.dataset_id.toLowerCase();
      const subject = await subjectOf(db, principalOf(request));
      try {
        await requireOnAll(db, subject, 'delete', [datasetId]);
      } catch {
        throw ApiError.named(401, 'UnauthorizedDataAccessError', `Dataset ${datasetId} not accessible.`);
      }
      const dataset = (await findDataset(db, datasetId))!;
      const row = await db.selectFrom('data').selectAll().where('dataset_id', '=', datasetId).where('id', '=', request.params.data_id.toLowerCase()).executeTakeFirst();
      if (row) await memory.deleteData(info(dataset), row);
      return null;
    },
  );

  app.get(
    '/api/v1/datasets/:dataset_id/graph',
    { schema: { tags: ['datasets'], summary: 'The knowledge graph of a dataset (needs read)', security: SECURED, params: z.object({ dataset_id: z.uuid({ message: 'Input should be a valid UUID' }) }) }, preHandler: guard },
    async (request) => {
      const dataset = await readable(request, request.params.dataset_id);
      const graph = await memory.databases.with(info(dataset), ({ graph }) => graph.getGraph(dataset.id));
      const hidden = new Set(['id', 'type', 'name', 'created_at', 'updated_at']);
      return {
        nodes: graph.nodes.map((n) => ({
          id: n.id,
          label: n.name || `${n.type}_${n.id}`,
          type: n.type,
          properties: Object.fromEntries(Object.entries(n.properties).filter(([k, v]) => !hidden.has(k) && v !== null && v !== undefined)),
        })),
        edges: graph.edges.map((e) => ({ source: e.source, target: e.target, label: e.relationship })),
      };
    },
  );

  app.get(
    '/api/v1/datasets/graph-summary',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Node and edge counts per readable dataset',
        security: SECURED,
        querystring: z.object({ dataset_ids: z.union([z.uuid(), z.array(z.uuid())]).optional() }),
      },
      preHandler: guard,
    },
    async (request) => {
      const subject = await subjectOf(db, principalOf(request));
      const requested = request.query.dataset_ids === undefined ? [] : ([] as string[]).concat(request.query.dataset_ids).map((d) => d.toLowerCase());
      let datasets: DatasetRow[];
      if (requested.length > 0) {
        await requireOnAll(db, subject, 'read', requested);
        datasets = (await Promise.all(requested.map((id) => findDataset(db, id)))).filter((d): d is DatasetRow => !!d);
      } else datasets = await effectiveDatasets(db, subject, 'read');
      const runs = await latestRuns(db, 'cognify_pipeline', datasets.map((d) => d.id));
      const out = [];
      for (const dataset of datasets) {
        const run = runs.get(dataset.id);
        if (!run) continue;
        let metrics = await db.selectFrom('graph_metrics').selectAll().where('dataset_id', '=', dataset.id).where('pipeline_run_id', '=', run.pipeline_run_id).executeTakeFirst();
        if (!metrics) {
          const counts = await memory.databases.with(info(dataset), ({ graph }) => graph.counts(dataset.id));
          metrics = { dataset_id: dataset.id, pipeline_run_id: run.pipeline_run_id, num_nodes: counts.nodes, num_edges: counts.edges, computed_at: new Date().toISOString() };
          if (run.status === RunStatus.COMPLETED) {
            await db.insertInto('graph_metrics').values(metrics).onConflict((oc) => oc.columns(['dataset_id', 'pipeline_run_id']).doNothing()).execute();
          }
        }
        out.push({ datasetId: dataset.id, pipelineRunId: run.pipeline_run_id, numNodes: metrics.num_nodes, numEdges: metrics.num_edges, computedAt: metrics.computed_at });
      }
      return out;
    },
  );
}
