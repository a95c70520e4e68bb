import type { GraphStore, VectorStore } from '../types.js';
import type { StorePair } from './types.js';

/**
 * The stores of a dataset that has no databases yet (multi-tenant mode, no `dataset_database` row:
 * none of its stores was ever opened, so nothing was ever written to them). Reads answer what the
 * dataset's freshly created stores would answer, nothing; nothing is opened or created on disk.
 * Writes and Cypher are refused: they go through the dataset's real stores.
 */
function refused(): Promise<never> {
  return Promise.reject(new Error('the dataset has no databases: writes and Cypher need its stores opened'));
}

const graph: GraphStore = {
  upsertNodes: refused,
  upsertEdges: refused,
  deleteNodes: refused,
  deleteDataset: refused,
  cypher: refused,
  getNodes: async () => [],
  nodesOfType: async () => [],
  getGraph: async () => ({ nodes: [], edges: [] }),
  edgesAround: async () => [],
  counts: async () => ({ nodes: 0, edges: 0 }),
  close: async () => undefined,
};

function vector(dimensions: number): VectorStore {
  return {
    dimensions,
    upsert: refused,
    deleteIds: refused,
    deleteDataset: refused,
    search: async () => [],
    presentIds: async () => new Set<string>(),
    collections: async () => [],
    close: async () => undefined,
  };
}

/** Empty, read-only stores of `dimensions`-long vectors. */
export function emptyStores(dimensions: number): StorePair {
  return { graph, vector: vector(dimensions) };
}
