import type { Embedder, LanguageModel } from './types.js';

/** Runs one provider call within a limit (a user's place among their concurrent model calls). */
export type CallSlot = <T>(call: () => Promise<T>) => Promise<T>;

/** The model with every call made within `slot` (USER_MAX_CONCURRENT_LLM_CALLS). */
export function limitedModel(model: LanguageModel, slot: CallSlot): LanguageModel {
  return {
    name: model.name,
    extractGraph: (text, customPrompt) => slot(() => model.extractGraph(text, customPrompt)),
    summarize: (text) => slot(() => model.summarize(text)),
    answer: (systemPrompt, question, context) => slot(() => model.answer(systemPrompt, question, context)),
    structured: (systemPrompt, userPrompt, schemaName, schema) => slot(() => model.structured(systemPrompt, userPrompt, schemaName, schema)),
  };
}

/** The embedder with every call made within `slot`. */
export function limitedEmbedder(embedder: Embedder, slot: CallSlot): Embedder {
  return {
    name: embedder.name,
    dimensions: embedder.dimensions,
    embed: (texts) => slot(() => embedder.embed(texts)),
  };
}
