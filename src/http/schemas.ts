import { z } from 'zod';

/** Request schemas shared by routers. They also feed the OpenAPI document. */
export const Email = z
  .string()
  .trim()
  .max(320)
  .pipe(z.email({ message: 'value is not a valid email address' }));
/**
 * The one UUID schema: a UUID in either case, handed on lower-cased (ids are stored lower-case), so
 * a route never lower-cases an id itself. An invalid value is answered as the reference does, with
 * the message 'Input should be a valid UUID'.
 */
export const Uuid = z.uuid({ message: 'Input should be a valid UUID' }).overwrite((v) => v.toLowerCase());
/**
 * `Uuid` answering zod's own message ('Invalid UUID') for an invalid value, as the routes that
 * always did keep doing (DELETE /api/v1/auth/api-keys/:api_key_id).
 */
export const UuidZodMessage = z.uuid().overwrite((v) => v.toLowerCase());

export const UserRead = z.object({
  id: z.string(),
  email: z.string(),
  is_active: z.boolean(),
  is_superuser: z.boolean(),
  is_verified: z.boolean(),
  tenant_id: z.string().nullable(),
  parent_user_id: z.string().nullable(),
});

/** Accepts both camelCase and snake_case keys (the reference's InDTO); snake_case wins. */
export function camelOrSnake<T extends Record<string, unknown>>(body: unknown, keys: Record<string, string>): T {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body as T;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const [snake, camel] of Object.entries(keys)) {
    if (out[snake] === undefined && out[camel] !== undefined) out[snake] = out[camel];
    delete out[camel];
  }
  return out as T;
}

/** The camelCase spellings of the query fields that search and recall share (with `camelOrSnake`). */
export const SEARCH_ALIASES = {
  search_type: 'searchType',
  dataset_ids: 'datasetIds',
  system_prompt: 'systemPrompt',
  node_name: 'nodeName',
  top_k: 'topK',
  only_context: 'onlyContext',
} as const;
