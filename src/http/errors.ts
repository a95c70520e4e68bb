import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, DomainError, isErrorStatus, withoutServerPaths } from '../errors.js';

/** Routes whose every input problem is answered as a failed login, as the reference does. */
const LOGIN_PATH = '/api/v1/auth/login';

interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
}

function pathOf(request: FastifyRequest): string {
  const url = request.url;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The issue type of a field a strict schema does not know (pydantic's name for it). */
const EXTRA_FORBIDDEN = 'extra_forbidden';

function toIssues(error: FastifyError): ValidationIssue[] {
  const context = (error as FastifyError & { validationContext?: string }).validationContext ?? 'body';
  const loc0 = context === 'querystring' ? 'query' : context === 'params' ? 'path' : context === 'headers' ? 'header' : 'body';
  return (error.validation ?? []).flatMap((v) => {
    const params = (v.params ?? {}) as { issue?: { code?: string; path?: (string | number)[] }; keys?: unknown };
    const path = params.issue?.path ?? (v.instancePath ?? '').split('/').filter(Boolean);
    // A field a strict schema does not know: one issue per field, as the reference's `extra="forbid"`.
    if ((params.issue?.code ?? v.keyword) === 'unrecognized_keys') {
      const keys = Array.isArray(params.keys) ? params.keys.map(String) : [];
      return keys.map((key) => ({ type: EXTRA_FORBIDDEN, loc: [loc0, ...path, key], msg: 'Extra inputs are not permitted' }));
    }
    return [
      {
        type: params.issue?.code ?? v.keyword ?? 'value_error',
        loc: [loc0, ...path],
        msg: v.message ?? 'Invalid value',
      },
    ];
  });
}

/** The multipart parser throws plain errors (no status) for a malformed body: a client error. */
const MALFORMED_MULTIPART = /^(Multipart: |Unexpected end of (multipart data|form)|Malformed part header|Boundary required|The needle |\w+ terminated early)/;

/**
 * Renders every error once, in the reference's envelopes; never a stack trace:
 *   - an `ApiError`: its status, headers and body;
 *   - any other `DomainError` (an LLM provider's refusal, a refused local path or URL, a refused or
 *     limited Cypher query...) with a 4xx/5xx status: that status and the body it renders, by
 *     default the reference's named envelope `{"detail": "<message> [<Name>]"}`;
 *   - validation errors: 400 `{"detail": [{type, loc, msg}], "body": ...}` as the reference, or 422 in
 *     the same envelope when a strict schema met fields it does not know (`extra_forbidden`);
 *   - Fastify's own errors (body parsing, limits) by their `statusCode`;
 *   - anything else: 500 `Internal Server Error`, logged, with nothing of the error in the answer.
 */
export function installErrorHandling(app: FastifyInstance, notFound?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined) {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiError) {
      return reply.status(error.status).headers(error.headers).send(error.body);
    }
    if (error instanceof DomainError && isErrorStatus(error.status)) {
      if (error.status >= 500) request.log.warn({ err: error }, 'answered with a server-side domain error');
      return reply.status(error.status).headers(error.headers).send(error.toBody());
    }
    const isLogin = pathOf(request) === LOGIN_PATH;
    if (error.validation) {
      if (isLogin) return reply.status(400).send({ detail: 'LOGIN_BAD_CREDENTIALS' });
      // Unknown fields (strict schemas: the routes that delete) are 422, in the same envelope.
      const issues = toIssues(error);
      const status = issues.some((i) => i.type === EXTRA_FORBIDDEN) ? 422 : 400;
      return reply.status(status).send({ detail: issues, body: request.body ?? null });
    }
    const status = error.statusCode ?? (MALFORMED_MULTIPART.test(String(error.message)) ? 400 : 500);
    if (status < 500) {
      if (isLogin && status !== 429) return reply.status(400).send({ detail: 'LOGIN_BAD_CREDENTIALS' });
      const detail =
        error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }]
          : error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? 'Request body is too large'
            : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
              ? 'Unsupported Media Type'
              : status === 404
                ? 'Not Found'
                : withoutServerPaths(error.message).slice(0, 200);
      return reply.status(status).send(Array.isArray(detail) ? { detail, body: null } : { detail });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ detail: 'Internal Server Error' });
  });

  app.setNotFoundHandler((request, reply) => notFound?.(request, reply) ?? reply.status(404).send({ detail: 'Not Found' }));
}

/** Errors Fastify raises before routing (a path that is not a valid URL component): same envelope. */
export function frameworkErrorHandler(_error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  return reply.status(400).send({ detail: 'Bad Request: the URL is not valid' });
}

/** Errors of Node's HTTP parser (headers over the limit, malformed framing): same envelope, then close. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'Request header fields too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'Request timeout']
        : [400, 'Bad Request', 'Bad Request'];
  const body = JSON.stringify({ detail });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * Header values found writable, by name: most answers repeat the same few (the security headers,
 * the content type), so those are checked once. Bounded; a value that is not remembered is checked.
 */
const knownWritable = new Map<string, string | number>();
const KNOWN_WRITABLE_MAX = 64;

/** True when Node would write this header as is (it throws on the answer otherwise). */
function writableHeader(name: string, value: unknown): boolean {
  if (knownWritable.get(name) === value) return true;
  try {
    validateHeaderName(name);
    for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, typeof v === 'number' ? String(v) : v);
  } catch {
    return false;
  }
  if ((typeof value === 'string' || typeof value === 'number') && (knownWritable.size < KNOWN_WRITABLE_MAX || knownWritable.has(name))) {
    knownWritable.set(name, value);
  }
  return true;
}

/**
 * The last `onSend` step (D22): an answer with a header Node cannot write (a value outside Latin-1,
 * a CR or LF, a bad name) would throw when the answer is written, after every error handler, and
 * end the process. Such an answer becomes 500 `{"detail": "Internal Server Error"}` without the
 * offending headers (logged by name only, never by value), and the server keeps serving.
 */
export function guardAnswerHeaders(request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void) {
  done(null, guardedPayload(request, reply, payload));
}

function guardedPayload(request: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
  const headers = reply.getHeaders();
  let bad: string[] | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !writableHeader(name, value)) (bad ??= []).push(name);
  }
  if (bad === undefined) return payload;
  request.log.error({ headers: bad.map((n) => n.slice(0, 64)) }, 'an answer carried a header that cannot be written; answered 500 instead');
  for (const name of bad) reply.removeHeader(name);
  reply.removeHeader('content-length');
  reply.removeHeader('content-disposition');
  if (payload && typeof (payload as { destroy?: unknown }).destroy === 'function') (payload as { destroy(): void }).destroy();
  reply.code(500).header('content-type', 'application/json; charset=utf-8');
  return JSON.stringify({ detail: 'Internal Server Error' });
}
