import type { Logger } from 'pino';

/**
 * The last-resort guard of a running server (D22): an error thrown where nothing catches it (a timer,
 * an event listener, a callback of a stream or a child process) or a promise rejected with no
 * handler is logged and the process keeps serving, instead of Node ending it. Requests in flight
 * are answered by the HTTP layer's own handlers (`http/errors.ts`); this guard only keeps the
 * process alive for the others.
 *
 * Installed by `startEngram` while at least one server of this process runs (never on import, so a
 * program that only uses the library keeps Node's default), removed when the last one closes. The
 * log holds the error's type, code, message and stack, never the values it was thrown with (which
 * may be a request's content).
 */

const loggers = new Set<Logger>();

function describe(error: unknown) {
  if (!(error instanceof Error)) return { type: error === null ? 'null' : typeof error };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    message: error.message.slice(0, 500),
    stack: error.stack?.split('\n').slice(0, 16).join('\n'),
  };
}

function onException(error: Error, origin: string) {
  for (const log of loggers) log.error({ err: describe(error), origin }, 'an error escaped every handler; logged, and the server keeps serving');
}

function onRejection(reason: unknown) {
  for (const log of loggers) log.error({ err: describe(reason) }, 'a promise was rejected with no handler; logged, and the server keeps serving');
}

/** Starts guarding the process for one server; the returned function stops (idempotent). */
export function guardProcess(log: Logger): () => void {
  if (loggers.size === 0) {
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
  }
  loggers.add(log);
  return () => {
    if (!loggers.delete(log) || loggers.size > 0) return;
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
