import { del, get, postJson, request } from './client';

/** Datasets, their items, adding data and cognify (`/api/v1/datasets…`, `/add`, `/add_text`, `/cognify`). */

/** A dataset as `GET /api/v1/datasets` lists it: the one Dataset type of the UI. */
export interface Dataset {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string | null;
  ownerId: string;
  tenantId: string | null;
}

/** An item of a dataset as `GET /api/v1/datasets/{id}/data` answers it. */
export interface DataItem {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string | null;
  extension: string;
  mimeType: string;
  label: string | null;
  dataSize?: number;
  data_size?: number;
}

export interface AddAnswer {
  data_ingestion_info?: unknown[] | null;
}

export const listDatasets = () => get<Dataset[]>('/api/v1/datasets');

/** Creates a dataset, or answers the caller's existing one of that name. */
export const createDataset = (name: string) => postJson<Dataset>('/api/v1/datasets', { name });

export async function deleteDataset(id: string): Promise<void> {
  await del(`/api/v1/datasets/${id}`);
}

/** Latest cognify status of each dataset by id (the `dataset` query parameter repeats). */
export async function datasetStatuses(ids: readonly string[]): Promise<Record<string, string>> {
  if (ids.length === 0) return {};
  const query = new URLSearchParams();
  for (const id of ids) query.append('dataset', id);
  const answer = await get<Record<string, unknown>>(`/api/v1/datasets/status?${query.toString()}`);
  const out: Record<string, string> = {};
  for (const [id, value] of Object.entries(answer ?? {})) if (typeof value === 'string') out[id] = value;
  return out;
}

/** The first 1000 items (the server pages them, 100 by default). */
export const listItems = (datasetId: string) => get<DataItem[]>(`/api/v1/datasets/${datasetId}/data?limit=1000`);

/** Deletes an item. Not being allowed is a 401 here (as the reference answers); it must not end the session. */
export async function deleteItem(datasetId: string, itemId: string): Promise<void> {
  await request('DELETE', `/api/v1/datasets/${datasetId}/data/${itemId}`, undefined, { quiet401: true });
}

/** Where an item's original bytes are downloaded from (a plain link: the browser sends the cookie). */
export const itemRawUrl = (datasetId: string, itemId: string) => `/api/v1/datasets/${datasetId}/data/${itemId}/raw`;

/** Uploads files into a dataset as one multipart request. */
export function addFiles(datasetId: string, files: readonly File[]): Promise<AddAnswer> {
  const form = new FormData();
  for (const file of files) form.append('data', file, file.name);
  form.append('datasetId', datasetId);
  return request<AddAnswer>('POST', '/api/v1/add', { multipart: form });
}

/** Adds text items (or URLs, one per item) to a dataset. */
export async function addText(datasetId: string, textData: string[]): Promise<void> {
  await postJson('/api/v1/add_text', { textData, datasetId });
}

/** Starts cognify of the datasets in the background; its progress is read with `datasetStatuses`. */
export async function cognify(datasetIds: string[]): Promise<void> {
  await postJson('/api/v1/cognify', { datasetIds, runInBackground: true });
}
