import { del, get, postJson } from './client';

/** The caller's API keys (`/api/v1/auth/api-keys`). */

/** What `GET /api/v1/auth/api-keys` lists: `key` is null when keys are hashed; `label` is its first characters. */
export interface ApiKey {
  id: string;
  key: string | null;
  label: string | null;
  name: string | null;
}

export const listApiKeys = () => get<ApiKey[]>('/api/v1/auth/api-keys');

/** Creates a key; the answer holds the whole key, this one time. */
export const createApiKey = (name: string | null) => postJson<ApiKey & { key: string }>('/api/v1/auth/api-keys', { name });

export async function deleteApiKey(id: string): Promise<void> {
  await del(`/api/v1/auth/api-keys/${encodeURIComponent(id)}`);
}
