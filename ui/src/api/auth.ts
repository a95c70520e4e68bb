import { postJson, request } from './client';

/**
 * Sign-in, sign-out, registration, e-mail verification and password reset (`/api/v1/auth/…`).
 * Sign-in answers set the HttpOnly session cookie; the token in the answer is never kept (D21).
 */

const AUTH = '/api/v1/auth';

/** Signs in with the form the reference expects (`username` is the e-mail). A 401 here is a wrong password, not an ended session. */
export async function login(email: string, password: string): Promise<void> {
  await request('POST', `${AUTH}/login`, { form: { username: email, password } }, { quiet401: true });
}

export async function logout(): Promise<void> {
  await request('POST', `${AUTH}/logout`, undefined, { quiet401: true });
}

export async function register(email: string, password: string): Promise<void> {
  await postJson(`${AUTH}/register`, { email, password });
}

/** Asks for a verification e-mail; the answer is the same whether or not the account exists. */
export async function requestVerifyToken(email: string): Promise<void> {
  await postJson(`${AUTH}/request-verify-token`, { email });
}

export async function verify(token: string): Promise<void> {
  await postJson(`${AUTH}/verify`, { token });
}

/** Asks for a reset e-mail; the answer is the same whether or not the account exists. */
export async function forgotPassword(email: string): Promise<void> {
  await postJson(`${AUTH}/forgot-password`, { email });
}

export async function resetPassword(token: string, password: string): Promise<void> {
  await postJson(`${AUTH}/reset-password`, { token, password });
}
