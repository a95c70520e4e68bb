import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { FernetKeyring, type Database } from '../storage/index.js';
import { OfflineModel } from './providers/offline.js';
import { OpenAICompatibleModel } from './providers/openai.js';
import type { LanguageModel, ModelProvider } from './providers/types.js';

/** What `POST /api/v1/settings` stores. API keys are Fernet tokens (D20), never plaintext. */
export interface StoredSettings {
  llm?: { provider: string; model: string; endpoint?: string; apiKey?: string };
  vectorDb?: { provider: string; url: string; apiKey?: string };
}

/** OpenAI-compatible endpoints of the providers the settings page offers. */
export const PROVIDER_ENDPOINTS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  ollama: 'http://localhost:11434/v1',
  anthropic: 'https://api.anthropic.com/v1',
  gemini: 'https://generativelanguage.googleapis.com/v1beta/openai',
  mistral: 'https://api.mistral.ai/v1',
};

const KEY = 'memory';

/**
 * The settings a superuser changes at run time, kept in the relational store so every instance
 * sees them. The instance that saves applies them at once; the others apply them when they start
 * and within `SETTINGS_REFRESH_SECONDS` of a change (they compare the row's `updated_at`).
 * Only the language model is applied; vector settings are stored and shown (the vector store is
 * chosen at start by the environment).
 */
export class MemorySettings implements ModelProvider {
  readonly keyring: FernetKeyring;
  private model: LanguageModel;
  private applied: string | null = null;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: Config,
    private readonly log: Logger,
    /** The model of the environment, in effect until stored settings choose another. */
    initialModel: LanguageModel,
  ) {
    this.model = initialModel;
    this.keyring = FernetKeyring.fromSecrets(config.memory.encryptionKeys.join(','));
  }

  /** The language model in effect now. */
  current(): LanguageModel {
    return this.model;
  }

  async load(): Promise<StoredSettings> {
    return (await this.row())?.stored ?? {};
  }

  /** Decrypts a stored key; a token no current key opens reads as absent. */
  reveal(token: string | undefined): string | undefined {
    if (!token) return undefined;
    try {
      return this.keyring.decrypt(token);
    } catch {
      return undefined;
    }
  }

  async save(stored: StoredSettings): Promise<void> {
    const now = new Date().toISOString();
    const value = JSON.stringify(stored);
    await this.db
      .insertInto('settings')
      .values({ key: KEY, value, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
      .execute();
    this.apply(stored, now);
  }

  /** Applies the stored settings if they changed since this instance last applied them. */
  async refresh(): Promise<boolean> {
    const row = await this.row();
    if (!row || row.updatedAt === this.applied) return false;
    this.apply(row.stored, row.updatedAt);
    return true;
  }

  /** Applies stored settings now and checks for changes every `SETTINGS_REFRESH_SECONDS`. */
  async start(): Promise<void> {
    if (await this.refresh()) this.log.info('language model: taken from the settings stored by a superuser');
    this.timer = setInterval(() => {
      this.refresh().catch((error) => this.log.warn({ err: error }, 'reading stored settings failed'));
    }, this.config.memory.settingsRefreshSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async row(): Promise<{ stored: StoredSettings; updatedAt: string } | undefined> {
    const row = await this.db.selectFrom('settings').select(['value', 'updated_at']).where('key', '=', KEY).executeTakeFirst();
    if (!row) return undefined;
    try {
      return { stored: JSON.parse(row.value) as StoredSettings, updatedAt: row.updated_at };
    } catch {
      this.log.warn('the stored settings are not valid JSON; they are ignored');
      return undefined;
    }
  }

  private apply(stored: StoredSettings, updatedAt: string): void {
    this.applied = updatedAt;
    const llm = stored.llm;
    if (!llm) return;
    const apiKey = this.reveal(llm.apiKey);
    const endpoint = llm.endpoint ?? PROVIDER_ENDPOINTS[llm.provider];
    if (llm.apiKey && !apiKey) this.log.warn('the stored language model key cannot be decrypted with NEO4J_ENCRYPTION_KEY; the model runs without it');
    const m = this.config.memory.llm;
    this.model =
      endpoint && (apiKey || llm.provider === 'ollama')
        ? new OpenAICompatibleModel({
            endpoint,
            model: llm.model,
            ...(apiKey ? { apiKey } : {}),
            temperature: m.temperature,
            maxCompletionTokens: m.maxCompletionTokens,
            timeoutMs: m.timeoutMs,
          })
        : new OfflineModel();
    this.log.info(`language model: ${llm.provider} ${llm.model} (stored settings of ${updatedAt})`);
  }
}
