import { ConfigError, int, raw, type Env } from './parse.js';

/** A model's price in US dollars per million tokens, prompt (in) and completion (out). */
export interface ModelPrice {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
}

/** Agent sessions: their limits and the price table their token use is costed with. */
export interface SessionConfig {
  /** Largest serialized QA turn or trace step accepted (SESSION_ENTRY_MAX_BYTES); 413 past it. */
  readonly entryMaxBytes: number;
  /** Entries of a session a recall reads, the most recent first (SESSION_RECALL_WINDOW). */
  readonly recallWindow: number;
  /** A running session idle longer than this reads as abandoned (SESSION_ABANDON_AFTER_SECONDS, as the reference). */
  readonly abandonAfterSeconds: number;
  /** Prices by model name, lower case; MODEL_PRICES (JSON) adds to and overrides the defaults. */
  readonly prices: Readonly<Record<string, ModelPrice>>;
}

/**
 * List prices of common models (USD per million tokens) as published by their vendors; a model not
 * listed costs 0 until the operator prices it with MODEL_PRICES. Local and offline models cost 0.
 */
const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  'text-embedding-3-small': { inputPerMillion: 0.02, outputPerMillion: 0 },
  'text-embedding-3-large': { inputPerMillion: 0.13, outputPerMillion: 0 },
};

/**
 * MODEL_PRICES: a JSON object from model name to `{"input": <USD per 1M prompt tokens>, "output":
 * <USD per 1M completion tokens>}`, e.g. `{"my-model": {"input": 0.5, "output": 1.5}}`.
 */
function prices(env: Env): Record<string, ModelPrice> {
  const table: Record<string, ModelPrice> = { ...DEFAULT_PRICES };
  const value = raw(env, 'MODEL_PRICES');
  if (value === undefined) return table;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ConfigError('MODEL_PRICES', 'expected a JSON object such as {"my-model": {"input": 0.5, "output": 1.5}}');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('MODEL_PRICES', 'expected a JSON object of model names');
  for (const [model, price] of Object.entries(parsed as Record<string, unknown>)) {
    const p = price as { input?: unknown; output?: unknown } | null;
    const ok = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
    if (!p || typeof p !== 'object' || !ok(p.input) || !ok(p.output ?? 0)) {
      throw new ConfigError('MODEL_PRICES', `${JSON.stringify(model)}: expected {"input": <number ≥ 0>, "output": <number ≥ 0>}`);
    }
    table[model.toLowerCase()] = { inputPerMillion: p.input as number, outputPerMillion: (p.output as number | undefined) ?? 0 };
  }
  return table;
}

/** The most session text one recall reads (and parses on the event loop): 64 MiB. */
const MAX_RECALL_BYTES = 64 * 1024 * 1024;

export function loadSessionConfig(env: Env): SessionConfig {
  const entryMaxBytes = int(env, 'SESSION_ENTRY_MAX_BYTES', 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 });
  const recallWindow = int(env, 'SESSION_RECALL_WINDOW', 200, { min: 1, max: 100_000 });
  // A recall reads and parses up to window × entry size on the event loop: bound it, so no session stalls other tenants.
  if (entryMaxBytes * recallWindow > MAX_RECALL_BYTES) {
    throw new ConfigError(
      'SESSION_RECALL_WINDOW',
      `SESSION_RECALL_WINDOW × SESSION_ENTRY_MAX_BYTES must stay within ${MAX_RECALL_BYTES} bytes (what one recall may read)`,
    );
  }
  return {
    entryMaxBytes,
    recallWindow,
    abandonAfterSeconds: int(env, 'SESSION_ABANDON_AFTER_SECONDS', 1800, { min: 1 }),
    prices: prices(env),
  };
}
