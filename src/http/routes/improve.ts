import { z } from 'zod';
import { ApiError, datasetNotFound, routerError } from '../../errors.js';
import { UsageTally, meterUsage, type PipelineRunInfo } from '../../memory/index.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { deletionBody } from '../schemas.js';
import { isUuid } from '../../ids.js';

const ALIASES = {
  extraction_tasks: 'extractionTasks',
  enrichment_tasks: 'enrichmentTasks',
  dataset_name: 'datasetName',
  dataset_id: 'datasetId',
  node_name: 'nodeName',
  run_in_background: 'runInBackground',
  build_global_context_index: 'buildGlobalContextIndex',
  session_ids: 'sessionIds',
};

const tasks = z.array(z.string().max(255)).max(50).optional().nullable();
const common = {
  extraction_tasks: tasks,
  enrichment_tasks: tasks,
  data: z.string().max(1_000_000).optional().nullable(),
  dataset_name: z.string().max(255).optional().nullable(),
  dataset_id: z
    .union([z.string().max(64), z.literal('')])
    .optional()
    .nullable(),
  node_name: z.array(z.string().max(255)).max(100).optional().nullable(),
  run_in_background: z.boolean().optional().default(false),
};

/** The reference's `ImprovePayloadDTO` (camelCase or snake_case); unknown fields are refused (422). */
const ImproveBody = deletionBody(ALIASES, {
  ...common,
  build_global_context_index: z.boolean().optional().default(false),
  session_ids: z.array(z.string().min(1).max(255)).max(100).optional().nullable(),
});
/** The reference's `MemifyPayloadDTO`. */
const MemifyBody = deletionBody(ALIASES, common);

/**
 * `POST /api/v1/improve` and `/api/v1/memify`: bridge the caller's named sessions into the dataset
 * (improve), add the request's `data` as an item, then re-index what is not cognified yet; the
 * answer is cognify's `{dataset_id: PipelineRunInfo}`, in the background when asked.
 */
export function improveRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');

  type Body = z.infer<typeof MemifyBody> & { session_ids?: string[] | null | undefined };
  const run = async (request: Parameters<typeof actorOf>[0], body: Body): Promise<Record<string, PipelineRunInfo>> => {
    if (!body.dataset_id && !body.dataset_name) throw ApiError.detail(400, 'Either datasetId or datasetName must be provided.');
    const named = [...(body.extraction_tasks ?? []), ...(body.enrichment_tasks ?? [])].filter((t) => t !== '');
    // The reference's named tasks are pipelines of its own; none runs here, and a task asked for is never skipped silently.
    if (named.length > 0)
      throw ApiError.detail(
        422,
        `Unknown or unsupported task(s): ${named.join(', ')}. This server's improve bridges sessions and re-indexes; it runs no named tasks.`,
      );
    if (body.dataset_id && !isUuid(body.dataset_id)) throw ApiError.detail(400, 'dataset_id must be a UUID.');
    const actor = await actorOf(request, access);
    const [dataset] = await access.datasets(actor, 'write', body.dataset_id ? { ids: [body.dataset_id] } : { names: [body.dataset_name!] });
    if (!dataset) throw datasetNotFound();
    const owner = { userId: actor.subject.userId, tenantId: actor.subject.activeTenantId };
    if (body.session_ids && body.session_ids.length > 0) await memory.improvement.bridge(owner, dataset, body.session_ids);
    if (body.data && body.data.trim() !== '') {
      await memory.pipelines.add(
        dataset,
        owner.userId,
        owner.tenantId,
        [{ kind: 'text', text: body.data }],
        body.node_name && body.node_name.length > 0 ? body.node_name : null,
      );
    }
    if (body.run_in_background) return { [dataset.id]: await memory.pipelines.cognifyInBackground(dataset, owner.userId) };
    // An improve of one session adds what its model calls cost to that session, as the reference's.
    const tally = new UsageTally();
    const result = await meterUsage(tally.sink, () => memory.pipelines.cognify(dataset, owner.userId));
    const sole = body.session_ids?.length === 1 ? await memory.sessions.find(owner, body.session_ids[0]!) : undefined;
    if (sole) await memory.sessions.recordTally(sole, tally);
    if (result.status === 'PipelineRunErrored') throw routerError(409, 'An error occurred during graph improvement.');
    return { [dataset.id]: result };
  };

  app.post(
    '/api/v1/improve',
    {
      schema: { tags: ['memory'], summary: 'Bridge sessions into a dataset and re-index it (needs write)', security: SECURED, body: ImproveBody },
      preHandler: guard,
    },
    async (request) => run(request, request.body),
  );
  app.post(
    '/api/v1/memify',
    {
      schema: { tags: ['memory'], summary: 'Add data to a dataset and re-index it (needs write)', security: SECURED, body: MemifyBody },
      preHandler: guard,
    },
    async (request) => run(request, request.body),
  );
}
