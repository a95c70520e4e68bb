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

/** The query fields search and recall share, with the reference's defaults and Engram's bounds. */
export const SEARCH_FIELDS = {
  datasets: z.array(z.string().max(255)).max(100).optional().nullable(),
  dataset_ids: z.array(Uuid).max(100).optional().nullable(),
  query: z.string().max(100_000).optional().default('What is in the document?'),
  system_prompt: z.string().max(100_000).optional().nullable(),
  node_name: z.array(z.string().max(255)).max(100).optional().nullable(),
  top_k: z.number().int().optional().default(15),
  only_context: z.boolean().optional().default(false),
  verbose: z.boolean().optional().default(false),
};

/** The camelCase spellings of the query fields that search and recall share (with `camelOrSnake`). */
export const SEARCH_ALIASES = {
  search_type: 'searchType',
  dataset_ids: 'datasetIds',
  system_prompt: 'systemPrompt',
  node_name: 'nodeName',
  top_k: 'topK',
  only_context: 'onlyContext',
} as const;

/**
 * The body of a route that deletes: both spellings of a field are accepted (as with `camelOrSnake`),
 * but nothing is guessed. A field the route does not know is refused (422 `extra_forbidden`, as
 * `http/errors.ts` renders it) and the two spellings of one field with different values are refused
 * (400), so a misspelt or unknown narrowing field can never widen what is deleted.
 */
export function deletionBody<S extends z.ZodRawShape>(aliases: Record<string, string>, shape: S) {
  return z.preprocess((body, ctx) => {
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const fields = body as Record<string, unknown>;
      for (const [snake, camel] of Object.entries(aliases)) {
        if (fields[snake] !== undefined && fields[camel] !== undefined && JSON.stringify(fields[snake]) !== JSON.stringify(fields[camel])) {
          ctx.addIssue({ code: 'custom', path: [camel], message: `${camel} and ${snake} are the same field; they were given different values` });
        }
      }
    }
    return camelOrSnake(body, aliases);
  }, z.object(shape).strict());
}

/** The query (or the body) of a route that deletes what its path names: no field at all (422 for any). */
export const NoFields = z.object({}).strict();

const TRUE_WORDS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const BOOL_WORDS = new Set([...TRUE_WORDS, '0', 'off', 'f', 'false', 'n', 'no']);
/** A query-string boolean as the reference (pydantic) reads it: true/false, 1/0, yes/no, on/off, t/f, y/n in any case. */
export const QueryBool = z
  .string()
  .refine((v) => BOOL_WORDS.has(v.toLowerCase()), { message: 'Input should be a valid boolean, unable to interpret input' })
  .transform((v) => TRUE_WORDS.has(v.toLowerCase()));

/** Free text a client names something with: trimmed of nothing, within `max` characters, no control characters. */
export const FreeText = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, 'Control characters are not allowed');
