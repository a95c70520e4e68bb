import { z } from 'zod';
import { datasetNotFound } from '../../errors.js';
import { actorOf, authenticate } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';

/** The reference's default dataset, validated when none is named. */
const DEFAULT_DATASET = 'main_dataset';

/**
 * `GET /api/v1/validate?dataset=<name>` (repeatable): the reference's read-only cross-check of the
 * named datasets' graph and vector stores. 503 when the report is unhealthy; 404
 * `DatasetNotFoundError` when a name is not one of the caller's readable datasets.
 */
export function validateRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  app.get(
    '/api/v1/validate',
    {
      schema: {
        tags: ['validate'],
        summary: "Cross-check your datasets' graph and vector stores for consistency (read-only; needs read)",
        security: SECURED,
        querystring: z.object({ dataset: z.union([z.string().max(255), z.array(z.string().max(255)).max(100)]).optional() }),
      },
      preHandler: authenticate(auth, config, 'auth'),
    },
    async (request, reply) => {
      const names = [...new Set(request.query.dataset === undefined ? [DEFAULT_DATASET] : ([] as string[]).concat(request.query.dataset))];
      const datasets = await access.datasets(await actorOf(request, access), 'read', { names });
      if (new Set(datasets.map((d) => d.name)).size !== names.length) throw datasetNotFound('Dataset not found or not readable.');
      let report;
      try {
        report = await memory.validate(datasets);
      } catch (error) {
        request.log.error({ err: error }, 'validate failed');
        return reply.status(500).send({ status: 'error', reason: 'validation failed' });
      }
      return reply.status(report.status === 'unhealthy' ? 503 : 200).send(report);
    },
  );
}
