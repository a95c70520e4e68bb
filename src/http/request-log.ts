import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

/**
 * Logging on the request path, cheap enough for every request.
 *
 * Fastify gives each request its own child logger (bound to its `reqId`). Building one costs more
 * than most hooks, and on the hot path nothing logs through it: the request's logger is built when
 * it first writes at an enabled level (a refusal, an error), with the same bindings and options, so
 * those lines are unchanged.
 *
 * The access line (one per answered request) is written by a logger of its own, with the request
 * id as a field. It holds a fixed set of fields and nothing a client sent but the method and the
 * path without its query string — no header, no body, no credential — so pino's path redaction,
 * which with wildcard paths runs on every field of every record and is the largest part of a
 * record's cost, has nothing to find in it and is not run for it. Every other record keeps it.
 */

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

class DeferredRequestLogger {
  private built: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private logger(): Logger {
    return (this.built ??= this.parent.child(this.bindings, this.options));
  }

  private write(level: LogMethod, args: unknown[]): void {
    if (this.built === undefined && !this.parent.isLevelEnabled(level)) return;
    (this.logger()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.built?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  fatal(...args: unknown[]) {
    this.write('fatal', args);
  }
  error(...args: unknown[]) {
    this.write('error', args);
  }
  warn(...args: unknown[]) {
    this.write('warn', args);
  }
  info(...args: unknown[]) {
    this.write('info', args);
  }
  debug(...args: unknown[]) {
    this.write('debug', args);
  }
  trace(...args: unknown[]) {
    this.write('trace', args);
  }
  silent() {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger().child(bindings, options) as FastifyBaseLogger;
  }
}

/**
 * Fastify's `childLoggerFactory`: a request's logger, built on first use. A route with a log level
 * of its own gets its logger at once (the deferral relies on the parent's level).
 */
export function deferredRequestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  const parent = logger as Logger;
  if (options.level && options.level !== parent.level) return parent.child(bindings, options) as FastifyBaseLogger;
  return new DeferredRequestLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}

/** The fields of the access line, and only these. */
export interface AccessRecord {
  readonly reqId: string;
  readonly method: string;
  /** Without the query string (it may hold secrets). */
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  readonly userId?: string;
  readonly via?: string;
}

const pathOf = (url: string) => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

/** The `onResponse` hook writing one structured line per request (see above); nothing when info is off. */
export function accessLog(log: Logger) {
  const lines = log.child({}, { redact: [] });
  return function (request: FastifyRequest, reply: FastifyReply, done: () => void) {
    if (lines.isLevelEnabled('info')) {
      const principal = request.principal;
      const record: AccessRecord = {
        reqId: request.id,
        method: request.method,
        path: pathOf(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(principal ? { userId: principal.user.id, via: principal.via } : {}),
      };
      lines.info(record, 'request');
    }
    done();
  };
}
