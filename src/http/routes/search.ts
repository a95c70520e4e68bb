import { z } from 'zod';
import type { DatasetRow } from '../../access/index.js';
import { datasetNotFound, queryValidation } from '../../errors.js';
import { SEARCH_TYPES, searchRequestOf, searchResultOf, type SearchType } from '../../memory/index.js';
import { actorOf, authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';
import { pageOf, PageQuery } from '../pagination.js';
import { SEARCH_ALIASES, SEARCH_FIELDS, camelOrSnake } from '../schemas.js';

const SearchBody = z.preprocess(
  (b) =>
    camelOrSnake(b, {
      ...SEARCH_ALIASES,
      include_references: 'includeReferences',
    }),
  z
    .object({
      search_type: z.enum(SEARCH_TYPES).optional().default('HYBRID_COMPLETION'),
      ...SEARCH_FIELDS,
      include_references: z.boolean().optional(),
    })
    .passthrough(),
);

/** The search router: search the datasets the caller can read, and the caller's history. */
export function searchRoutes(app: App, ctx: HttpContext) {
  const { auth, config, access, memory } = ctx;
  const guard = authenticate(auth, config, 'auth');

  app.post(
    '/api/v1/search',
    { schema: { tags: ['search'], summary: 'Search the datasets you can read', security: SECURED, body: SearchBody }, preHandler: guard },
    async (request) => {
      const body = request.body;
      if (body.top_k <= 0) throw queryValidation('top_k must be a positive integer.');
      const actor = await actorOf(request, access);
      const named = (body.dataset_ids && body.dataset_ids.length > 0) || (body.datasets && body.datasets.length > 0);
      const targets: DatasetRow[] = await access.datasets(actor, 'read', { ids: body.dataset_ids, names: body.datasets });
      if (named && targets.length === 0) throw datasetNotFound();
      const type = await memory.retrieval.resolveType(body.search_type as SearchType, body.query, actor.subject.userId);
      const perDataset = await memory.retrieval.search(targets, searchRequestOf(type, body), actor.subject.userId);
      const verbose = (outcome: (typeof perDataset)[number]['outcome']) => ({
        text_result: outcome.completion,
        context_result: outcome.context,
        objects_result: outcome.objects,
      });
      let response: unknown;
      if (config.posture.multiTenant) {
        response = perDataset.map(({ dataset, outcome }) => ({
          dataset_id: dataset.id,
          dataset_name: dataset.name,
          dataset_tenant_id: dataset.tenant_id,
          ...(body.verbose ? verbose(outcome) : { search_result: searchResultOf(outcome, body.only_context) }),
        }));
      } else {
        const results = perDataset.map(({ outcome }) => (body.verbose ? verbose(outcome) : searchResultOf(outcome, body.only_context)));
        response =
          !body.verbose && results.length === 1 && Array.isArray(results[0])
            ? results[0]
            : body.verbose
              ? results
              : results.flatMap((r) => (Array.isArray(r) ? r : [r]));
      }
      await memory.retrieval.record(actor.subject.userId, body.query, type, targets, response);
      return response;
    },
  );

  app.get(
    '/api/v1/search',
    {
      schema: { tags: ['search'], summary: 'Your search history (all of it unless a limit is given)', security: SECURED, querystring: z.object(PageQuery) },
      preHandler: guard,
    },
    async (request) => memory.retrieval.history(principalOf(request).user.id, pageOf(request.query)),
  );
}
