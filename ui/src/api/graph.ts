import { get } from './client';

/** The knowledge graph of a dataset (`GET /api/v1/datasets/{id}/graph`). */

export interface GraphNode {
  id: string;
  label: string;
  type: string;
  properties: Record<string, unknown>;
}
export interface GraphEdge {
  source: string;
  target: string;
  label: string;
}
export interface GraphData {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export const datasetGraph = (datasetId: string) => get<GraphData>(`/api/v1/datasets/${encodeURIComponent(datasetId)}/graph`);
