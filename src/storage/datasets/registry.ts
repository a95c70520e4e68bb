import { ConfigError, type Config } from '../../config/index.js';
import type { DatasetDatabaseHandler } from './types.js';

/** Registry of handlers by name; a wrong provider/handler pair is a startup error. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, DatasetDatabaseHandler>();

  register(handler: DatasetDatabaseHandler): void {
    this.handlers.set(handler.name, handler);
  }

  get(name: string): DatasetDatabaseHandler | undefined {
    return this.handlers.get(name);
  }

  /** Checks that the configured handlers exist, have the right kind and serve the configured providers. */
  validate(config: Config): void {
    const checks = [
      ['GRAPH_DATASET_DATABASE_HANDLER', config.memory.graphHandler, 'graph', config.memory.graphProvider, 'GRAPH_DATABASE_PROVIDER'],
      ['VECTOR_DATASET_DATABASE_HANDLER', config.memory.vectorHandler, 'vector', config.memory.vectorProvider, 'VECTOR_DB_PROVIDER'],
    ] as const;
    for (const [variable, name, kind, provider, providerVariable] of checks) {
      const handler = this.handlers.get(name);
      if (!handler || handler.kind !== kind) {
        const known = [...this.handlers.values()].filter((h) => h.kind === kind).map((h) => h.name);
        throw new ConfigError(variable, `unknown ${kind} dataset database handler ${JSON.stringify(name)}; registered: ${known.join(', ')}`);
      }
      if (!handler.providers.includes(provider)) {
        throw new ConfigError(
          variable,
          `handler ${JSON.stringify(name)} cannot serve ${providerVariable}=${provider} (it serves ${handler.providers.join(', ')})`,
        );
      }
    }
  }
}
