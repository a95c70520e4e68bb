import multipart from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { datasetPermissionDenied, type DatasetRow } from '../../access/index.js';
import { ApiError, bareError, routerError } from '../../errors.js';
import { ingestLimitsOf, type IngestItem } from '../../memory/index.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { deletionBody } from '../schemas.js';
import { sessionText, storeSessionText } from './session-entries.js';
import { parseExternalMetadata, parseLabels, readUploadForm } from '../uploads.js';
import { isUuid } from '../../ids.js';

/**
 * The reference's `ForgetPayloadDTO`: camelCase (`dataId`, `datasetId`, `memoryOnly`) or snake_case.
 * Unlike the reference, which ignores what it does not know, a field this route does not know is
 * refused (422): a narrowing field lost to a typo must not turn "forget this item" into "forget
 * the dataset".
 */
const ForgetBody = deletionBody(
  { data_id: 'dataId', dataset_id: 'datasetId', memory_only: 'memoryOnly' },
  {
    data_id: z.string().max(64).optional().nullable(),
    dataset: z.string().max(255).optional().nullable(),
    dataset_id: z.string().max(64).optional().nullable(),
    everything: z.boolean().optional().default(false),
    memory_only: z.boolean().optional().default(false),
  },
);

/** The reference's check of remember's `graph_model`: JSON with a top-level `title` (400 otherwise). */
function checkGraphModel(text: string): void {
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw ApiError.detail(400, `graph_model is not valid JSON: ${(error as Error).message}`);
  }
  if (!schema || typeof schema !== 'object' || Array.isArray(schema) || typeof (schema as { title?: unknown }).title !== 'string') {
    throw ApiError.detail(
      400,
      "graph_model could not be converted to a graph model schema. Expected the same dict format as the cognify endpoint, including a top-level 'title' key.",
    );
  }
}

/** The "memory API": remember (add + cognify), recall (search with routing), forget (four modes). */
export function memoryApiRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');

  app.register(async (scope: App) => {
    await scope.register(multipart, { limits: { fileSize: config.memory.uploadMaxBytes } });
    scope.post(
      '/api/v1/remember',
      {
        schema: { tags: ['memory'], summary: 'Add files to a dataset and cognify it (needs write)', security: SECURED, consumes: ['multipart/form-data'] },
        preHandler: guard,
      },
      async (request, reply) => {
        const started = Date.now();
        const { files, fields } = await readUploadForm(request, ingestLimitsOf(config));
        const field = (...names: string[]) => names.map((n) => fields.get(n)?.[0]).find((v) => v !== undefined && v !== '');
        const sessionId = field('session_id');
        if (sessionId !== undefined && sessionId.length > 255) throw ApiError.detail(400, 'session_id must be at most 255 characters.');
        if (field('content_type')) throw ApiError.detail(400, `Unsupported content_type: ${field('content_type')}.`);
        if (field('repositories')) throw ApiError.detail(400, 'repositories requires content_type=code, which this server does not support.');
        const datasetId = field('datasetId', 'dataset_id');
        const datasetName = field('datasetName', 'dataset_name');
        if (!datasetId && !datasetName) throw ApiError.detail(400, 'Either datasetId or datasetName must be provided.');
        if (files.length === 0) throw ApiError.detail(400, 'No data provided: send one or more files in the data field.');
        const chunkSize = field('chunk_size') ? Number(field('chunk_size')) : undefined;
        if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize < 16 || chunkSize > 100_000)) {
          throw ApiError.detail(400, 'chunk_size must be an integer between 16 and 100000.');
        }
        const chunksPerBatch = field('chunks_per_batch') ? Number(field('chunks_per_batch')) : undefined;
        if (chunksPerBatch !== undefined && (!Number.isInteger(chunksPerBatch) || chunksPerBatch < 1 || chunksPerBatch > 1000)) {
          throw ApiError.detail(400, 'chunks_per_batch must be an integer between 1 and 1000.');
        }
        const labels = parseLabels(field('labels'), files.length);
        const metadata = parseExternalMetadata(field('external_metadata'), files.length);
        // As the reference's: labels and metadata live on items, which session memory does not make.
        if (sessionId && (labels?.some((l) => l !== null) || metadata?.some((m) => m !== null && Object.keys(m as object).length > 0))) {
          throw ApiError.detail(400, 'labels and external_metadata are only supported for normal ingestion — remove session_id and content_type to use them.');
        }
        const graphModel = field('graph_model');
        if (graphModel !== undefined) checkGraphModel(graphModel);
        const ontologyKeys = (fields.get('ontology_key') ?? []).filter((k) => k !== '');
        // No ontology has been uploaded to this server (it keeps none yet): every key is unknown, as cognify answers.
        if (ontologyKeys.length > 0) throw routerError(409, `Ontology key not found: ${ontologyKeys[0]}`);
        const actor = await actorOf(request, access);
        // The remember router answers a malformed id or a bad name with a plain 400 detail.
        if (datasetId && !isUuid(datasetId)) throw ApiError.detail(400, 'datasetId must be a UUID.');
        if (!datasetId && (datasetName!.includes(' ') || datasetName!.includes('.'))) throw ApiError.detail(400, 'Dataset name cannot contain spaces or dots.');
        const [dataset] = await access.datasets(actor, 'write', datasetId ? { ids: [datasetId] } : { names: [datasetName!], create: true });
        if (sessionId) {
          // Session memory: the text of each upload becomes a turn of the caller's session (an upload
          // that is not UTF-8 text is skipped, as the reference skips what it cannot read as text).
          const texts = files.map((f) => sessionText(f.bytes)).filter((t): t is string => t !== undefined);
          const owner = { userId: actor.subject.userId, tenantId: actor.subject.activeTenantId };
          await storeSessionText(memory.sessions, owner, sessionId, dataset!.id, texts);
          return {
            status: 'session_stored',
            dataset_name: dataset!.name,
            dataset_id: dataset!.id,
            pipeline_run_id: null,
            items_processed: 0,
            elapsed_seconds: (Date.now() - started) / 1000,
            session_ids: [sessionId],
          };
        }
        const nodeSets = (fields.get('node_set') ?? []).filter((s) => s !== '');
        const items: IngestItem[] = files.map((f, i) => ({
          kind: 'file',
          filename: f.filename,
          bytes: f.bytes,
          label: labels?.[i] ?? null,
          externalMetadata: metadata?.[i] ?? null,
        }));
        const userId = actor.subject.userId;
        const rows = await memory.pipelines.ingest(dataset!, userId, actor.subject.activeTenantId, items, nodeSets.length > 0 ? nodeSets : null);
        const pipelineRunId = randomUUID();
        const opts = {
          ...(field('custom_prompt') ? { customPrompt: field('custom_prompt')! } : {}),
          ...(chunkSize ? { chunkSize } : {}),
          ...(chunksPerBatch ? { chunksPerBatch: Math.min(chunksPerBatch, 100) } : {}),
        };
        // The reference's RememberResult: per-item info and the first item's content hash.
        const itemInfo = rows.map((r) => ({
          id: r.id,
          name: r.name,
          content_hash: r.content_hash,
          token_count: r.token_count,
          mime_type: r.mime_type,
          data_size: r.data_size,
        }));
        const base = {
          dataset_name: dataset!.name,
          dataset_id: dataset!.id,
          pipeline_run_id: pipelineRunId,
          items_processed: rows.length,
          ...(rows.length > 0 ? { content_hash: rows[0]!.content_hash, items: itemInfo } : {}),
        };
        if (/^(true|1|yes|on)$/i.test(field('run_in_background') ?? '')) {
          await memory.pipelines.cognifyInBackground(dataset!, userId, opts, pipelineRunId);
          return { status: 'running', ...base, elapsed_seconds: (Date.now() - started) / 1000 };
        }
        const run = await memory.pipelines.cognify(dataset!, userId, opts, pipelineRunId);
        const elapsed = (Date.now() - started) / 1000;
        if (run.status === 'PipelineRunErrored') {
          return reply.status(409).send({ status: 'errored', ...base, elapsed_seconds: elapsed, error: String(run.payload) });
        }
        return { status: 'completed', ...base, elapsed_seconds: elapsed };
      },
    );
  });

  const invalid = () => bareError(422, 'Invalid request parameters. Specify dataset or dataset_id, data_id+dataset, or everything=True.');

  app.post(
    '/api/v1/forget',
    {
      schema: {
        tags: ['memory'],
        summary: 'Forget an item, a dataset, the memory of either, or everything you may delete (unknown fields: 422)',
        security: SECURED,
        body: ForgetBody,
      },
      preHandler: guard,
    },
    async (request) => {
      const body = request.body;
      const actor = await actorOf(request, access);
      if (body.everything) {
        // The reference ignores any dataset or item sent with `everything`; a request naming both is
        // ambiguous about what it means to delete, so it is refused rather than read as everything.
        if (body.dataset || body.dataset_id || body.data_id || body.memory_only) throw invalid();
        const all = await access.datasets(actor, 'delete');
        for (const dataset of all) await memory.datasets.delete(dataset);
        return { datasets_removed: all.length, status: 'success' };
      }
      if ((body.dataset && body.dataset_id) || (!body.dataset && !body.dataset_id)) throw invalid();
      if (body.dataset_id && !isUuid(body.dataset_id)) throw invalid();
      if (body.data_id && !isUuid(body.data_id)) throw invalid();
      const [dataset]: (DatasetRow | undefined)[] = await access.datasets(
        actor,
        'delete',
        body.dataset_id ? { ids: [body.dataset_id] } : { names: [body.dataset!] },
      );
      if (!dataset) throw datasetPermissionDenied('delete');
      if (body.data_id && body.memory_only) {
        // One item's memory (graph and vectors); its record and file stay.
        const row = await memory.pipelines.forgetItemMemory(dataset, body.data_id);
        if (!row) throw invalid();
        return { data_id: row.id, dataset_id: dataset.id, status: 'success' };
      }
      if (body.data_id) {
        const row = await memory.datasets.deleteItem(dataset, body.data_id);
        if (!row) throw invalid();
        return { data_id: row.id, dataset_id: dataset.id, status: 'success' };
      }
      if (body.memory_only) {
        const reset = await memory.pipelines.forgetMemory(dataset, actor.subject.userId);
        return { dataset_id: dataset.id, data_records_reset: reset, status: 'success' };
      }
      await memory.datasets.delete(dataset);
      return { dataset_id: dataset.id, status: 'success' };
    },
  );
}
