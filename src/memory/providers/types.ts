/** Chat and embeddings, as the memory engine needs them. */
export interface Embedder {
  readonly dimensions: number;
  readonly name: string;
  embed(texts: readonly string[]): Promise<number[][]>;
}

export interface ExtractedGraph {
  readonly nodes: Array<{ id: string; name: string; type: string; description: string }>;
  readonly edges: Array<{ source_node_id: string; target_node_id: string; relationship_name: string; description?: string }>;
}

export interface LanguageModel {
  readonly name: string;
  extractGraph(text: string, customPrompt?: string): Promise<ExtractedGraph>;
  summarize(text: string): Promise<string>;
  /** The answer to `question` from the retrieved `context`, under `systemPrompt` (a completion search's answer). */
  answer(systemPrompt: string, question: string, context: string): Promise<string>;
  /**
   * A JSON value matching `schema` (JSON Schema), for structured output; a model that cannot
   * produce one throws `StructuredOutputUnavailableError`.
   */
  structured<T>(systemPrompt: string, userPrompt: string, schemaName: string, schema: Record<string, unknown>): Promise<T>;
}

/** The language model in effect now (the one a superuser stored, else the environment's). */
export interface ModelProvider {
  current(): LanguageModel;
}

/** Thrown by a model that has no structured output (the offline model): callers fall back to rules. */
export class StructuredOutputUnavailableError extends Error {
  constructor(message = 'Structured output needs a language model; set LLM_API_KEY.') {
    super(message);
    this.name = 'StructuredOutputUnavailableError';
  }
}
