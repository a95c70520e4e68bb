import { get, postJson } from './client';

/** The server's model and vector store settings (`/api/v1/settings`, superusers). */

export interface Option {
  value: string;
  label: string;
}

/** `GET /api/v1/settings`: keys come back masked and are only ever shown that way. */
export interface Settings {
  llm: {
    provider: string;
    model: string;
    endpoint: string | null;
    apiVersion: string | null;
    apiKey: string | null;
    providers: Option[];
    models: Record<string, Option[]>;
  };
  vectorDb: {
    provider: string;
    url: string;
    apiKey: string;
    providers: Option[];
  };
}

/** What is saved: a key is sent only when one was typed, so an absent key keeps the stored one. */
export interface SettingsUpdate {
  llm: { provider: string; model: string; endpoint: string | null; apiKey?: string };
  vectorDb: { provider: string; url: string; apiKey?: string };
}

export const getSettings = () => get<Settings>('/api/v1/settings');

export async function saveSettings(body: SettingsUpdate): Promise<void> {
  await postJson('/api/v1/settings', body);
}
