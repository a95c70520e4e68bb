import { z } from 'zod';
import { bareError } from '../../errors.js';
import { PROVIDER_ENDPOINTS as ENDPOINTS } from '../../memory/settings.js';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';

/**
 * `/api/v1/settings`: the reference's shape, with two differences. Changes are persisted in the
 * relational store (every instance applies them, see `MemorySettings`; secrets are Fernet tokens,
 * D20) instead of mutating one process; and a key shorter than 10 characters is masked entirely
 * instead of returned as is.
 */

const LLM_PROVIDERS = [
  { value: 'openai', label: 'OpenAI' },
  { value: 'ollama', label: 'Ollama' },
  { value: 'anthropic', label: 'Anthropic' },
  { value: 'gemini', label: 'Gemini' },
  { value: 'mistral', label: 'Mistral' },
  { value: 'bedrock', label: 'Bedrock' },
];
const LLM_MODELS: Record<string, { value: string; label: string }[]> = {
  openai: ['gpt-5-mini', 'gpt-4o', 'gpt-4-turbo', 'gpt-3.5-turbo'].map((m) => ({ value: m, label: m })),
  ollama: ['llama3', 'mistral'].map((m) => ({ value: m, label: m })),
  anthropic: [
    { value: 'claude-3-opus-20240229', label: 'Claude 3 Opus' },
    { value: 'claude-3-sonnet-20240229', label: 'Claude 3 Sonnet' },
    { value: 'claude-3-haiku-20240307', label: 'Claude 3 Haiku' },
  ],
  gemini: [{ value: 'gemini-2.0-flash-exp', label: 'Gemini 2.0 Flash' }],
  mistral: ['mistral-large-latest', 'mistral-medium-latest', 'mistral-small-latest', 'open-mistral-nemo'].map((m) => ({ value: m, label: m })),
  bedrock: ['anthropic.claude-3-sonnet', 'anthropic.claude-3-haiku', 'meta.llama3-70b'].map((m) => ({ value: m, label: m })),
};
export function maskKey(key: string | undefined | null): string | null {
  if (!key) return null;
  if (key.length < 10) return '*'.repeat(key.length);
  return key.slice(0, 10) + '*'.repeat(key.length - 10);
}

const ProviderKey = z.string().max(4096).optional().nullable();

export function settingsRoutes(app: App, ctx: HttpContext) {
  const { auth, config, memory } = ctx;
  const settings = memory.settings;
  const guard = authenticate(auth, config, 'auth');
  const load = () => settings.load();
  const reveal = (token: string | undefined) => settings.reveal(token);

  app.get(
    '/api/v1/settings',
    { schema: { tags: ['settings'], summary: 'Language model and vector store settings (keys masked)', security: SECURED }, preHandler: guard },
    async () => {
      const stored = await load();
      const m = config.memory;
      const llmKey = stored.llm ? reveal(stored.llm.apiKey) : m.llm.apiKey;
      return {
        llm: {
          provider: stored.llm?.provider ?? m.llm.provider,
          model: stored.llm?.model ?? m.llm.model,
          endpoint: stored.llm ? (stored.llm.endpoint ?? ENDPOINTS[stored.llm.provider] ?? null) : (m.llm.endpoint ?? null),
          apiVersion: null,
          apiKey: maskKey(llmKey),
          providers: LLM_PROVIDERS,
          models: LLM_MODELS,
        },
        vectorDb: {
          provider: stored.vectorDb?.provider ?? m.vectorProvider,
          url: stored.vectorDb?.url ?? '',
          apiKey: maskKey(reveal(stored.vectorDb?.apiKey)) ?? '',
          providers: [
            { value: 'lancedb', label: 'LanceDB' },
            { value: 'pgvector', label: 'PGVector' },
          ],
        },
      };
    },
  );

  app.post(
    '/api/v1/settings',
    {
      schema: {
        tags: ['settings'],
        summary: 'Change settings (superusers only); keys are stored encrypted',
        security: SECURED,
        body: z.object({
          llm: z
            .object({
              provider: z.enum(['openai', 'ollama', 'anthropic', 'gemini', 'mistral']),
              model: z.string().min(1).max(200),
              endpoint: z
                .url({ protocol: /^https?$/ })
                .max(2048)
                .optional()
                .nullable(),
              apiKey: ProviderKey,
              api_key: ProviderKey,
            })
            .optional()
            .nullable(),
          vectorDb: z
            .object({ provider: z.enum(['lancedb', 'pgvector']), url: z.string().max(2048), apiKey: ProviderKey, api_key: ProviderKey })
            .optional()
            .nullable(),
          vector_db: z
            .object({ provider: z.enum(['lancedb', 'pgvector']), url: z.string().max(2048), apiKey: ProviderKey, api_key: ProviderKey })
            .optional()
            .nullable(),
        }),
      },
      preHandler: guard,
    },
    async (request) => {
      if (!principalOf(request).user.isSuperuser) throw bareError(403, 'Superuser privileges required to modify settings');
      const body = request.body;
      const stored = await load();
      // A masked key sent back unchanged (or a blank one) keeps the stored key, as the reference.
      const newKey = (k: string | null | undefined) => (k && k.trim() !== '' && !k.includes('*****') ? settings.keyring.encrypt(k) : undefined);
      if (body.llm) {
        const key = newKey(body.llm.apiKey ?? body.llm.api_key) ?? stored.llm?.apiKey;
        stored.llm = {
          provider: body.llm.provider,
          model: body.llm.model,
          ...(body.llm.endpoint ? { endpoint: body.llm.endpoint.replace(/\/+$/, '') } : {}),
          ...(key ? { apiKey: key } : {}),
        };
      }
      const vector = body.vectorDb ?? body.vector_db;
      if (vector) {
        const key = newKey(vector.apiKey ?? vector.api_key) ?? stored.vectorDb?.apiKey;
        stored.vectorDb = { provider: vector.provider, url: vector.url, ...(key ? { apiKey: key } : {}) };
      }
      await settings.save(stored);
      return null;
    },
  );
}
