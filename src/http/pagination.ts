import { z } from 'zod';
import { ApiError } from '../errors.js';

/**
 * `limit` and `offset` on the routes that list (the reference pages a dataset's items so since its
 * SDK-607 fix: `limit` 1..1000, default 100, `offset` ≥ 0). The other lists keep their whole answer
 * when no `limit` is given, so old clients see what they always did. A value out of range or not an
 * integer is 422 in the validation envelope, naming the field (never clamped, so a client learns its
 * page is not what it asked for).
 */
export const MAX_PAGE_LIMIT = 1000;

/** A window over a list: `limit` undefined means to the end. */
export interface Page {
  readonly limit: number | undefined;
  readonly offset: number;
}

export const PageQuery = {
  limit: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe(`Page size, 1..${MAX_PAGE_LIMIT}`),
  offset: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe('Rows to skip, ≥ 0'),
};

type Issue = { type: string; loc: string[]; msg: string };

function integer(field: 'limit' | 'offset', raw: string | string[] | undefined, min: number, max: number | undefined, issues: Issue[]): number | undefined {
  if (raw === undefined) return undefined;
  // A repeated parameter: the last one counts, as FastAPI reads a scalar query parameter.
  const text = (Array.isArray(raw) ? raw[raw.length - 1]! : raw).trim();
  const loc = ['query', field];
  if (!/^[+-]?\d{1,15}$/.test(text)) {
    issues.push({ type: 'int_parsing', loc, msg: 'Input should be a valid integer, unable to parse string as an integer' });
    return undefined;
  }
  const value = Number(text);
  if (value < min) issues.push({ type: 'greater_than_equal', loc, msg: `Input should be greater than or equal to ${min}` });
  else if (max !== undefined && value > max) issues.push({ type: 'less_than_equal', loc, msg: `Input should be less than or equal to ${max}` });
  return value;
}

/** The page a query asks for; `defaultLimit` when it names no limit (undefined: the whole list). */
export function pageOf(query: { limit?: string | string[] | undefined; offset?: string | string[] | undefined }, defaultLimit?: number): Page {
  const issues: Issue[] = [];
  const limit = integer('limit', query.limit, 1, MAX_PAGE_LIMIT, issues);
  const offset = integer('offset', query.offset, 0, undefined, issues);
  if (issues.length > 0) throw new ApiError(422, { detail: issues, body: null });
  return { limit: limit ?? defaultLimit, offset: offset ?? 0 };
}

/** The page of a list already in memory. */
export function pageIn<T>(items: readonly T[], page: Page): T[] {
  return items.slice(page.offset, page.limit === undefined ? undefined : page.offset + page.limit);
}
