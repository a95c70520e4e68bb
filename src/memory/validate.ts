import { datasetInfo, type DatasetRecord } from './datasets.js';
import type { MemoryEngine } from './engine.js';
import { entityId, entityTypeId } from './graph-builder.js';

/**
 * The reference's read-only consistency check of a dataset's graph and vector stores
 * (`GET /api/v1/validate`): edges that name a node the graph does not hold (error), entities and
 * entity types whose id is not the one their name derives (warning: a correctly derived duplicate
 * could coexist), and entities and chunks with no point in their vector collection (error:
 * unreachable by every embedding-based search). Nothing is written.
 */
export interface ValidationIssue {
  readonly severity: 'error' | 'warning';
  readonly type: 'orphaned_edge' | 'identity_id_mismatch' | 'missing_vector_entry';
  readonly detail: string;
}

export interface ValidationReport {
  readonly status: 'healthy' | 'degraded' | 'unhealthy';
  readonly summary: { graph_nodes: number; graph_edges: number; node_type_distribution: Record<string, number> };
  readonly issues: ValidationIssue[];
}

/** The node types with an id derived from their name, and how. */
const IDENTITY: Record<string, (name: string) => string> = { Entity: entityId, EntityType: entityTypeId };
/** The node types every embedding-based search reaches through a collection. */
const INDEXED: Record<string, string> = { Entity: 'Entity_name', DocumentChunk: 'DocumentChunk_text' };

export async function validateDatasets(engine: MemoryEngine, datasets: readonly DatasetRecord[]): Promise<ValidationReport> {
  const issues: ValidationIssue[] = [];
  const summary = { graph_nodes: 0, graph_edges: 0, node_type_distribution: {} as Record<string, number> };
  for (const dataset of datasets) {
    await engine.databases.with(datasetInfo(dataset), async ({ graph, vector }) => {
      const { nodes, edges } = await graph.getGraph(dataset.id);
      summary.graph_nodes += nodes.length;
      summary.graph_edges += edges.length;
      const ids = new Set(nodes.map((n) => n.id));
      for (const edge of edges) {
        const missing = [edge.source, edge.target].filter((id) => !ids.has(id));
        if (missing.length > 0) {
          issues.push({
            severity: 'error',
            type: 'orphaned_edge',
            detail: `Edge '${edge.source}' -[${edge.relationship}]-> '${edge.target}' references missing node id(s): ${JSON.stringify(missing)}`,
          });
        }
      }
      const byCollection = new Map<string, { id: string; type: string }[]>();
      for (const node of nodes) {
        summary.node_type_distribution[node.type || 'unknown'] = (summary.node_type_distribution[node.type || 'unknown'] ?? 0) + 1;
        const derive = IDENTITY[node.type];
        if (derive && node.name !== '' && derive(node.name) !== node.id) {
          issues.push({
            severity: 'warning',
            type: 'identity_id_mismatch',
            detail: `${node.type} node '${node.id}' (name '${node.name}') does not match the id its name derives ('${derive(node.name)}'): a second, correctly-derived node could coexist as an undetected duplicate.`,
          });
        }
        const collection = INDEXED[node.type];
        if (collection) byCollection.set(collection, [...(byCollection.get(collection) ?? []), { id: node.id, type: node.type }]);
      }
      for (const [collection, indexed] of byCollection) {
        const present = await vector.presentIds(
          dataset.id,
          collection,
          indexed.map((n) => n.id),
        );
        for (const node of indexed.filter((n) => !present.has(n.id))) {
          issues.push({
            severity: 'error',
            type: 'missing_vector_entry',
            detail: `${node.type} node '${node.id}' has no matching point in vector collection '${collection}': it exists in the graph but is unreachable by semantic search.`,
          });
        }
      }
    });
  }
  const status = issues.some((i) => i.severity === 'error') ? 'unhealthy' : issues.length > 0 ? 'degraded' : 'healthy';
  return { status, summary, issues };
}
