import { get, postJson } from './client';

/** Searching (POST /api/v1/search) and the caller's past searches (GET /api/v1/search). */

export interface HistoryRow {
  id: string;
  text: string;
  user: 'user' | 'system';
  createdAt: string;
  datasetId: string | null;
}

export interface SearchRequest {
  query: string;
  search_type: string;
  top_k: number;
  only_context: boolean;
  verbose: boolean;
  dataset_ids?: string[];
  node_name?: string[];
}

export const searchHistory = () => get<HistoryRow[]>('/api/v1/search');

/** The answer's shape depends on the search type and the server's mode; the page reads it as it comes. */
export const search = (body: SearchRequest) => postJson<unknown>('/api/v1/search', body);
