/** What the memory engine needs of a language model and an embedder. */

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
  /** True for the built-in offline mode: completions then answer with the retrieved context. */
  readonly offline: boolean;
  extractGraph(text: string, customPrompt?: string): Promise<ExtractedGraph>;
  summarize(text: string): Promise<string>;
  /** A plain-text answer to `userPrompt` given `systemPrompt`. */
  complete(systemPrompt: string, userPrompt: string): Promise<string>;
  /** A JSON value matching `schema` (JSON Schema), for structured output. */
  structured<T>(systemPrompt: string, userPrompt: string, schemaName: string, schema: Record<string, unknown>): Promise<T>;
}
