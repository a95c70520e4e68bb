import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { Config } from '../../config/index.js';
import { dropSchema } from '../stores/pgvector.js';
import type { DatasetDatabaseHandler } from './types.js';

/** The built-in dataset database handlers: a Kuzu file, a LanceDB directory, a pgvector schema per dataset. */

export function ownerDir(config: Config, ownerId: string): string {
  return join(config.systemRoot, 'databases', ownerId);
}

export function kuzuHandler(config: Config): DatasetDatabaseHandler {
  return {
    name: 'kuzu',
    kind: 'graph',
    providers: ['kuzu'],
    async createDataset(dataset) {
      return {
        graph_database_name: `${dataset.id}.kuzu`,
        graph_database_url: null,
        graph_database_provider: 'kuzu',
        graph_database_key: null,
        graph_dataset_database_handler: 'kuzu',
        graph_database_connection_info: '{}',
      };
    },
    async resolve(row) {
      return row;
    },
    async deleteDataset(row) {
      if (!row.graph_database_name) return;
      const file = join(ownerDir(config, row.owner_id), row.graph_database_name);
      for (const suffix of ['', '.wal', '.lock', '.shadow']) await rm(file + suffix, { recursive: true, force: true });
    },
  };
}

export function lancedbHandler(config: Config): DatasetDatabaseHandler {
  return {
    name: 'lancedb',
    kind: 'vector',
    providers: ['lancedb'],
    async createDataset(dataset) {
      return {
        vector_database_name: `${dataset.id}.lance.db`,
        vector_database_url: join(ownerDir(config, dataset.ownerId), `${dataset.id}.lance.db`),
        vector_database_provider: 'lancedb',
        vector_database_key: null,
        vector_dataset_database_handler: 'lancedb',
        vector_database_connection_info: '{}',
      };
    },
    async resolve(row) {
      return row;
    },
    async deleteDataset(row) {
      if (row.vector_database_url) await rm(row.vector_database_url, { recursive: true, force: true });
    },
  };
}

/** One schema per dataset in one PostgreSQL database; credentials come from configuration, never the row. */
export function pgvectorHandler(pool: () => pg.Pool): DatasetDatabaseHandler {
  return {
    name: 'pgvector',
    kind: 'vector',
    providers: ['pgvector'],
    async createDataset(dataset) {
      const schema = `ds_${dataset.id.replace(/-/g, '')}`;
      return {
        vector_database_name: schema,
        vector_database_url: null,
        vector_database_provider: 'pgvector',
        vector_database_key: null,
        vector_dataset_database_handler: 'pgvector',
        vector_database_connection_info: JSON.stringify({ schema }),
      };
    },
    async resolve(row) {
      return row;
    },
    async deleteDataset(row) {
      if (row.vector_database_name) await dropSchema(pool(), row.vector_database_name);
    },
  };
}
