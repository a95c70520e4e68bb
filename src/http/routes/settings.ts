import { z } from 'zod';
import { bareError } from '../../errors.js';
import { PROVIDER_ENDPOINTS as ENDPOINTS } from '../../memory/settings.js';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';

/**
 * `/api/v1/settings`: the reference's shape, with these differences. Changes are persisted in the
 * relational store (every instance applies them, see `MemorySettings`; secrets are Fernet tokens,
 * D20) instead of mutating one process; a key shorter than 10 characters is masked entirely instead
 * of returned as is; only a superuser sees the endpoints and the keys' first characters (anyone else
 * sees whether a key is set: `KEY_IS_SET`, or null); and a stored key is never carried over to
 * another provider, endpoint or vector store URL: changing one of them needs the key again.
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
/** What a user who is not a superuser sees of a key that is set. */
export const KEY_IS_SET = '**********';

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
  /** The language model endpoint in effect: the stored one, the provider's, or the configured one. */
  const llmEndpoint = (stored: Awaited<ReturnType<typeof load>>): string | null =>
    stored.llm ? (stored.llm.endpoint ?? ENDPOINTS[stored.llm.provider] ?? null) : (config.memory.llm.endpoint ?? null);

  app.get(
    '/api/v1/settings',
    { schema: { tags: ['settings'], summary: 'Language model and vector store settings (keys masked)', security: SECURED }, preHandler: guard },
    async (request) => {
      const stored = await load();
      const m = config.memory;
      const superuser = principalOf(request).user.isSuperuser;
      const shown = (key: string | undefined | null) => (superuser ? maskKey(key) : key ? KEY_IS_SET : null);
      const llmKey = stored.llm ? reveal(stored.llm.apiKey) : m.llm.apiKey;
      return {
        llm: {
          provider: stored.llm?.provider ?? m.llm.provider,
          model: stored.llm?.model ?? m.llm.model,
          endpoint: superuser ? llmEndpoint(stored) : null,
          apiVersion: null,
          apiKey: shown(llmKey),
          providers: LLM_PROVIDERS,
          models: LLM_MODELS,
        },
        vectorDb: {
          provider: stored.vectorDb?.provider ?? m.vectorProvider,
          url: superuser ? (stored.vectorDb?.url ?? '') : '',
          apiKey: shown(reveal(stored.vectorDb?.apiKey)) ?? '',
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
      // A stored key is only ever sent where it was entered for: another provider, endpoint or URL needs it again.
      const keyNeeded = (what: string) => bareError(400, `Changing the ${what} needs the API key again: send apiKey with it.`);
      let llm = stored.llm;
      if (body.llm) {
        const next = {
          provider: body.llm.provider,
          model: body.llm.model,
          ...(body.llm.endpoint ? { endpoint: body.llm.endpoint.replace(/\/+$/, '') } : {}),
        };
        const entered = newKey(body.llm.apiKey ?? body.llm.api_key);
        const kept = stored.llm?.apiKey;
        const moved = stored.llm !== undefined && (next.provider !== stored.llm.provider || llmEndpoint({ ...stored, llm: next }) !== llmEndpoint(stored));
        if (entered === undefined && kept !== undefined && moved) throw keyNeeded('language model provider or endpoint');
        const key = entered ?? kept;
        llm = { ...next, ...(key ? { apiKey: key } : {}) };
      }
      let vectorDb = stored.vectorDb;
      const vector = body.vectorDb ?? body.vector_db;
      if (vector) {
        const entered = newKey(vector.apiKey ?? vector.api_key);
        const kept = stored.vectorDb?.apiKey;
        const moved = stored.vectorDb !== undefined && (vector.provider !== stored.vectorDb.provider || vector.url !== stored.vectorDb.url);
        if (entered === undefined && kept !== undefined && moved) throw keyNeeded('vector store provider or URL');
        const key = entered ?? kept;
        vectorDb = { provider: vector.provider, url: vector.url, ...(key ? { apiKey: key } : {}) };
      }
      if (llm) stored.llm = llm;
      if (vectorDb) stored.vectorDb = vectorDb;
      await settings.save(stored);
      return null;
    },
  );
}
