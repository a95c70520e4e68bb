import { ApiFailure, postJson, request } from './client';

/** The signed-in account and looking accounts up by e-mail (`/api/v1/users/…`). */

export interface User {
  id: string;
  email: string;
  is_active: boolean;
  is_superuser: boolean;
  is_verified: boolean;
  tenant_id: string | null;
}

/** The signed-in account. `quiet401`: a 401 just means signed out, without the sign-in-again flow. */
export function me(options: { quiet401?: boolean } = {}): Promise<User> {
  return request<User>('GET', '/api/v1/users/me', undefined, options);
}

/** The id of the account using this e-mail address. */
export async function userIdOf(email: string): Promise<string> {
  try {
    return (await postJson<{ user_id: string }>('/api/v1/users/get-user-id', { email })).user_id;
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 404) throw new Error(`No account uses the e-mail address ${email}.`);
    throw e;
  }
}
