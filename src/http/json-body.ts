import type { FastifyInstance } from 'fastify';

/**
 * JSON bodies, as Fastify reads them (its own parser: prototype and constructor poisoning refused,
 * the server's body limit), except that an empty body is no body. A client that sets
 * `Content-Type: application/json` on every request, a DELETE with nothing to send included, is
 * answered as if it had sent no body (the reference's FastAPI does the same), rather than with a
 * JSON decode error; a route that needs a body still says it is missing. The request guard's rule
 * on declared content types (D25) runs before this and is unchanged.
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
}
