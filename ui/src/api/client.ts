/**
 * The one way the UI talks to the server: the per-resource modules beside this file (auth, users,
 * datasets, graph, search, apiKeys, permissions, settings, sessions, agents) build their requests with `request`, and
 * pages call those modules, never a URL of their own. The session is the HttpOnly cookie the server sets at
 * sign-in (D5, D21): this module never sees, stores or sends a token. Same-origin requests carry the
 * cookie and the browser's Origin header, which is what the server's CSRF rule checks.
 */

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    /** The error name or `detail` code of the reference's envelope, e.g. LOGIN_BAD_CREDENTIALS. */
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export type Body = { json: unknown } | { form: Record<string, string> } | { multipart: FormData } | undefined;

/** Listeners told when the server says the session is gone (401 on an authenticated call). */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

function describe(status: number, payload: unknown): { code: string; message: string } {
  if (payload && typeof payload === 'object') {
    const p = payload as Record<string, unknown>;
    const detail = p.detail;
    if (typeof detail === 'string') {
      const named = /^(.*) \[([A-Za-z]+)\]$/s.exec(detail);
      if (named) return { code: named[2]!, message: named[1]! };
      if (/^[A-Z][A-Z0-9_]+$/.test(detail) || detail === 'Unauthorized') return { code: detail, message: humanise(detail) };
      return { code: `HTTP_${status}`, message: detail };
    }
    if (detail && typeof detail === 'object' && !Array.isArray(detail)) {
      const d = detail as Record<string, unknown>;
      const code = typeof d.code === 'string' ? d.code : `HTTP_${status}`;
      const reason = typeof d.reason === 'string' ? d.reason : humanise(code);
      return { code, message: reason };
    }
    if (Array.isArray(detail) && detail.length > 0) {
      const first = detail[0] as Record<string, unknown>;
      const msg = typeof first.msg === 'string' ? first.msg : 'The request was not valid.';
      const loc = Array.isArray(first.loc) ? ` (${first.loc.join('.')})` : '';
      return { code: 'VALIDATION_ERROR', message: msg + loc };
    }
    // `{"error": {"message": "..."}}`, e.g. the API-key limit.
    const nested = p.error && typeof p.error === 'object' ? (p.error as Record<string, unknown>).message : undefined;
    if (typeof nested === 'string') return { code: `HTTP_${status}`, message: nested };
    const name = typeof p.error === 'string' ? p.error : typeof p.name === 'string' ? p.name : undefined;
    const message = typeof p.message === 'string' ? p.message : undefined;
    if (name || message) return { code: name ?? `HTTP_${status}`, message: message ?? name ?? '' };
  }
  return { code: `HTTP_${status}`, message: `The server answered ${status}.` };
}

/** Words for the reference's error codes that people meet. */
export function humanise(code: string): string {
  switch (code) {
    case 'LOGIN_BAD_CREDENTIALS':
      return 'Wrong e-mail or password.';
    case 'LOGIN_USER_NOT_VERIFIED':
      return 'This account must verify its e-mail address before signing in.';
    case 'REGISTER_USER_ALREADY_EXISTS':
      return 'An account with this e-mail address already exists.';
    case 'RESET_PASSWORD_BAD_TOKEN':
      return 'This reset link is not valid or has expired. Ask for a new one.';
    case 'VERIFY_USER_BAD_TOKEN':
      return 'This verification link is not valid or has expired.';
    case 'VERIFY_USER_ALREADY_VERIFIED':
      return 'This e-mail address is already verified.';
    case 'Unauthorized':
      return 'Your session has ended. Sign in again.';
    default:
      return code
        .replace(/_/g, ' ')
        .toLowerCase()
        .replace(/^./, (c) => c.toUpperCase());
  }
}

export async function request<T = unknown>(method: string, path: string, body?: Body, options: { quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (body && 'json' in body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body && 'form' in body) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(body.form).toString();
  } else if (body && 'multipart' in body) {
    payload = body.multipart;
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  } catch {
    throw new ApiFailure(0, 'NETWORK', 'The server cannot be reached.');
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const { code, message } = describe(response.status, parsed);
    const retry = Number(response.headers.get('retry-after'));
    if (response.status === 401 && !options.quiet401) for (const listener of unauthorizedListeners) listener();
    if (response.status === 429) {
      const wait = Number.isFinite(retry) && retry > 0 ? ` Try again in ${retry} s.` : ' Try again later.';
      throw new ApiFailure(429, code, `Too many attempts.${wait}`, Number.isFinite(retry) ? retry : undefined);
    }
    throw new ApiFailure(response.status, code, message, undefined);
  }
  return parsed as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const postJson = <T>(path: string, json: unknown) => request<T>('POST', path, { json });
export const del = <T>(path: string) => request<T>('DELETE', path);

/** The message to show for any error thrown by `request`. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiFailure) return error.message || humanise(error.code);
  return error instanceof Error ? error.message : String(error);
}
