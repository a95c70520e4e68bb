import { z } from 'zod';
import { routerError } from '../../errors.js';
import type { PipelineRunInfo } from '../../memory/index.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { Uuid, camelOrSnake } from '../schemas.js';

/** The cognify router: builds the knowledge graph and vector index of datasets. */
export function cognifyRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');

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
            dataset_ids: z.array(Uuid).max(100).optional().nullable(),
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
      const body = request.body;
      if ((!body.datasets || body.datasets.length === 0) && (!body.dataset_ids || body.dataset_ids.length === 0)) {
        throw routerError(400, 'No datasets or dataset_ids provided');
      }
      if (body.ontology_key && body.ontology_key.length > 0) throw routerError(409, `Ontology key not found: ${body.ontology_key[0]}`);
      // The cognify router answers a name with spaces or dots with 409 (the add router with 400).
      if (!body.dataset_ids || body.dataset_ids.length === 0)
        for (const name of body.datasets ?? [])
          if (name.includes(' ') || name.includes('.')) throw routerError(409, 'Dataset name cannot contain spaces or dots.');
      const actor = await actorOf(request, access);
      const targets = await access.datasets(actor, 'write', { ids: body.dataset_ids, names: body.datasets, create: true });
      const opts = {
        ...(body.custom_prompt ? { customPrompt: body.custom_prompt } : {}),
        ...(body.chunk_size ? { chunkSize: body.chunk_size } : {}),
        ...(body.data_per_batch ? { dataPerBatch: Math.min(body.data_per_batch, 1000) } : {}),
        ...(body.chunks_per_batch ? { chunksPerBatch: Math.min(body.chunks_per_batch, 100) } : {}),
      };
      const userId = actor.subject.userId;
      const result: Record<string, PipelineRunInfo> = {};
      for (const dataset of targets) {
        if (body.run_in_background) {
          result[dataset.id] = await memory.pipelines.cognifyInBackground(dataset, userId, opts);
          continue;
        }
        const run = await memory.pipelines.cognify(dataset, userId, opts);
        if (run.status === 'PipelineRunErrored') throw routerError(500, 'Pipeline run errored', run.payload);
        result[dataset.id] = run;
      }
      return result;
    },
  );
}
