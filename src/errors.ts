/**
 * The one error type every layer throws; `http/` renders it. The reference uses three envelopes,
 * all kept for wire compatibility:
 *   - `{"detail": <string|object>}` (fastapi-users and FastAPI errors)
 *   - `{"detail": "<message> [<Name>]"}` (named domain errors, `ApiError.named`)
 *   - a custom body (`{"error": {"message": ...}}` for API keys, `{"error": "..."}` for settings)
 */
export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(typeof body === 'object' ? JSON.stringify(body) : String(body));
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }

  static detail(status: number, detail: unknown, headers?: Record<string, string>): ApiError {
    return new ApiError(status, { detail }, headers);
  }

  static named(status: number, name: string, message: string): ApiError {
    return new ApiError(status, { detail: `${message} [${name}]` });
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
