import { del, get, postJson } from './client';

/** The caller's API keys (`/api/v1/auth/api-keys`). */

/** What `GET /api/v1/auth/api-keys` lists: `key` is masked when keys are hashed; `label` is its first characters. */
export interface ApiKey {
  id: string;
  key: string;
  label: string | null;
  name: string | null;
}

export const listApiKeys = () => get<ApiKey[]>('/api/v1/auth/api-keys');

/** Creates a key; the answer holds the whole key, this one time. */
export const createApiKey = (name: string | null) => postJson<ApiKey>('/api/v1/auth/api-keys', { name });

export async function deleteApiKey(id: string): Promise<void> {
  await del(`/api/v1/auth/api-keys/${encodeURIComponent(id)}`);
}
