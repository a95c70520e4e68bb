import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { OfflineModel } from '../../memory/providers/offline.js';
import { OpenAICompatibleModel } from '../../memory/providers/openai.js';
import { FernetKeyring } from '../../security/fernet.js';
import { authenticate, principalOf } from '../authenticate.js';
import { SECURED, type App, type HttpContext } from '../context.js';

/**
 * `/api/v1/settings`: the reference's shape, with two differences. Changes are persisted in the
 * relational store (every instance sees them; secrets are Fernet tokens, D20) instead of mutating
 * one process; and a key shorter than 10 characters is masked entirely instead of returned as is.
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
/** OpenAI-compatible endpoints of the providers the settings page offers. */
const ENDPOINTS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  ollama: 'http://localhost:11434/v1',
  anthropic: 'https://api.anthropic.com/v1',
  gemini: 'https://generativelanguage.googleapis.com/v1beta/openai',
  mistral: 'https://api.mistral.ai/v1',
};

export function maskKey(key: string | undefined | null): string | null {
  if (!key) return null;
  if (key.length < 10) return '*'.repeat(key.length);
  return key.slice(0, 10) + '*'.repeat(key.length - 10);
}

interface StoredSettings {
  llm?: { provider: string; model: string; endpoint?: string; apiKey?: string /* Fernet token */ };
  vectorDb?: { provider: string; url: string; apiKey?: string /* Fernet token */ };
}

const ProviderKey = z.string().max(4096).optional().nullable();

export function settingsRoutes(app: App, ctx: HttpContext) {
  const { auth, config, store, memory } = ctx;
  const db = store.db;
  const keyring = FernetKeyring.fromSecrets(config.memory.encryptionKeys.join(','));
  const guard = authenticate(auth, config, 'auth');

  async function load(): Promise<StoredSettings> {
    const row = await db.selectFrom('settings').select('value').where('key', '=', 'memory').executeTakeFirst();
    return row ? (JSON.parse(row.value) as StoredSettings) : {};
  }
  const reveal = (token: string | undefined) => {
    if (!token) return undefined;
    try {
      return keyring.decrypt(token);
    } catch {
      return undefined;
    }
  };

  app.get('/api/v1/settings', { schema: { tags: ['settings'], summary: 'Language model and vector store settings (keys masked)', security: SECURED }, preHandler: guard }, async () => {
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
  });

  app.post(
    '/api/v1/settings',
    {
      schema: {
        tags: ['settings'],
        summary: 'Change settings (superusers only); keys are stored encrypted',
        security: SECURED,
        body: z
          .object({
            llm: z.object({ provider: z.enum(['openai', 'ollama', 'anthropic', 'gemini', 'mistral']), model: z.string().min(1).max(200), endpoint: z.url({ protocol: /^https?$/ }).max(2048).optional().nullable(), apiKey: ProviderKey, api_key: ProviderKey }).optional().nullable(),
            vectorDb: z.object({ provider: z.enum(['lancedb', 'pgvector']), url: z.string().max(2048), apiKey: ProviderKey, api_key: ProviderKey }).optional().nullable(),
            vector_db: z.object({ provider: z.enum(['lancedb', 'pgvector']), url: z.string().max(2048), apiKey: ProviderKey, api_key: ProviderKey }).optional().nullable(),
          }),
      },
      preHandler: guard,
    },
    async (request) => {
      if (!principalOf(request).user.isSuperuser) throw new ApiError(403, { error: 'Superuser privileges required to modify settings' });
      const body = request.body;
      const stored = await load();
      // A masked key sent back unchanged (or a blank one) keeps the stored key, as the reference.
      const newKey = (k: string | null | undefined) => (k && k.trim() !== '' && !k.includes('*****') ? keyring.encrypt(k) : undefined);
      if (body.llm) {
        const key = newKey(body.llm.apiKey ?? body.llm.api_key) ?? stored.llm?.apiKey;
        stored.llm = { provider: body.llm.provider, model: body.llm.model, ...(body.llm.endpoint ? { endpoint: body.llm.endpoint.replace(/\/+$/, '') } : {}), ...(key ? { apiKey: key } : {}) };
      }
      const vector = body.vectorDb ?? body.vector_db;
      if (vector) {
        const key = newKey(vector.apiKey ?? vector.api_key) ?? stored.vectorDb?.apiKey;
        stored.vectorDb = { provider: vector.provider, url: vector.url, ...(key ? { apiKey: key } : {}) };
      }
      const now = new Date().toISOString();
      const value = JSON.stringify(stored);
      await db
        .insertInto('settings')
        .values({ key: 'memory', value, updated_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
        .execute();
      if (body.llm) applyLlm(stored);
      return null;
    },
  );

  /** Points this instance's language model at the stored settings. */
  function applyLlm(stored: StoredSettings) {
    const llm = stored.llm;
    if (!llm) return;
    const apiKey = reveal(llm.apiKey);
    const endpoint = llm.endpoint ?? ENDPOINTS[llm.provider]!;
    memory.model = apiKey || llm.provider === 'ollama'
      ? new OpenAICompatibleModel({ endpoint, model: llm.model, ...(apiKey ? { apiKey } : {}), temperature: config.memory.llm.temperature, timeoutMs: config.memory.llm.timeoutMs })
      : new OfflineModel();
  }
}
