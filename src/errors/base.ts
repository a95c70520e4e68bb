/**
 * The error types every layer throws; `http/errors.ts` renders them, once. The reference uses three
 * envelopes, all kept for wire compatibility:
 *   - `{"detail": <string|object>}` (fastapi-users and FastAPI errors)
 *   - `{"detail": "<message> [<Name>]"}` (named domain errors: `namedBody`)
 *   - a custom body (`{"error": {"message": ...}}` for API keys, `{"error": "..."}` for settings)
 *
 * This module imports nothing: every layer may import it.
 */

/** The reference's named envelope: `{"detail": "<message> [<Name>]"}`. */
export function namedBody(name: string, message: string): { detail: string } {
  return { detail: `${message} [${name}]` };
}

/** A 4xx or 5xx status, the only ones an error may be answered with. */
export function isErrorStatus(status: unknown): status is number {
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599;
}

/**
 * An error that knows how a client sees it: the HTTP status it is answered with and the body. By
 * default the body is the reference's named envelope of the error's `name` and `message`; a
 * subclass whose reference error has another name or message overrides `toBody`.
 */
export abstract class DomainError extends Error {
  /** The HTTP status the server answers with when this error reaches a client. */
  abstract readonly status: number;

  /** Response headers sent with the answer. */
  readonly headers: Readonly<Record<string, string>> = {};

  /** The response body. */
  toBody(): unknown {
    return namedBody(this.name, this.message);
  }
}

/** An error built directly from the status and body the client gets (see `errors/catalogue.ts`). */
export class ApiError extends DomainError {
  readonly status: number;
  readonly body: unknown;
  override readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(typeof body === 'object' ? JSON.stringify(body) : String(body));
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }

  override toBody(): unknown {
    return this.body;
  }

  static detail(status: number, detail: unknown, headers?: Record<string, string>): ApiError {
    return new ApiError(status, { detail }, headers);
  }

  /** A named domain error in the reference's envelope; prefer the catalogue's constructors. */
  static named(status: number, name: string, message: string): ApiError {
    return new ApiError(status, namedBody(name, message));
  }

  static unauthorized(): ApiError {
    return ApiError.detail(401, 'Unauthorized');
  }

  static forbidden(): ApiError {
    return ApiError.detail(403, 'Forbidden');
  }

  static notFound(): ApiError {
    return ApiError.detail(404, 'Not Found');
  }
}
