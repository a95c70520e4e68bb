import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Token use, as the model providers report it in their answers (`usage.prompt_tokens`,
 * `usage.completion_tokens`), handed to whoever meters the work in progress: a recall or an
 * improve of a session adds what its model calls cost to that session.
 */
export type UsageSink = (model: string, tokensIn: number, tokensOut: number) => void;

const current = new AsyncLocalStorage<UsageSink>();

/** Runs `fn`; every provider answer inside it (through awaits) reports its tokens to `sink`. */
export function meterUsage<T>(sink: UsageSink, fn: () => Promise<T>): Promise<T> {
  return current.run(sink, fn);
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0);

/** Reports a provider answer's `usage` to the metering in effect, if any (the model the answer names wins). */
export function reportUsage(model: string, answer: unknown): void {
  const sink = current.getStore();
  if (!sink || answer === null || typeof answer !== 'object') return;
  const usage = (answer as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
  if (!usage || typeof usage !== 'object') return;
  const named = (answer as { model?: unknown }).model;
  const tokensIn = count(usage.prompt_tokens);
  const tokensOut = count(usage.completion_tokens);
  if (tokensIn === 0 && tokensOut === 0) return;
  sink(typeof named === 'string' && named !== '' ? named.slice(0, 200) : model, tokensIn, tokensOut);
}

/** Sums token use per model (what a request then records on its session). */
export class UsageTally {
  readonly byModel = new Map<string, { tokensIn: number; tokensOut: number }>();
  readonly sink: UsageSink = (model, tokensIn, tokensOut) => {
    const t = this.byModel.get(model) ?? { tokensIn: 0, tokensOut: 0 };
    t.tokensIn += tokensIn;
    t.tokensOut += tokensOut;
    this.byModel.set(model, t);
  };
}
