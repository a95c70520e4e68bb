import type { Kysely } from 'kysely';
import { dataNotFound } from '../errors.js';
import type { Database } from '../storage/index.js';
import type { DataRow, DatasetInfo, MemoryEngine } from './engine.js';
import { RunStatus, latestRuns } from './runs.js';
import type { SearchHistory } from './history.js';

/** A dataset as the relational store holds it (what access hands to memory). */
export type DatasetRecord = Pick<Database['datasets'], 'id' | 'name' | 'owner_id' | 'tenant_id'>;

export function datasetInfo(row: DatasetRecord): DatasetInfo {
  return { id: row.id, ownerId: row.owner_id, name: row.name, tenantId: row.tenant_id };
}

/** The reference's `DataDTO` (camelCase) of one item. */
export function itemView(r: DataRow) {
  return {
    id: r.id,
    name: r.name,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    extension: r.extension,
    mimeType: r.mime_type,
    rawDataLocation: r.raw_data_location,
    datasetId: r.dataset_id,
    label: r.label,
    externalMetadata: r.external_metadata ? (JSON.parse(r.external_metadata) as unknown) : null,
  };
}

const GRAPH_HIDDEN_PROPERTIES = new Set(['id', 'type', 'name', 'created_at', 'updated_at']);

/**
 * A dataset's content and lifecycle: its items, its graph and graph metrics, and its deletion.
 * Callers have checked the permission (access decides which datasets a request may touch).
 */
export class DatasetContent {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: MemoryEngine,
    private readonly history: SearchHistory,
  ) {}

  /** The dataset's items, oldest first; a window of them when `page` says so (`limit` undefined: to the end). */
  async items(dataset: DatasetRecord, page: { readonly limit?: number | undefined; readonly offset?: number } = {}): Promise<DataRow[]> {
    let query = this.db.selectFrom('data').selectAll().where('dataset_id', '=', dataset.id).orderBy('created_at').orderBy('id');
    if (page.limit !== undefined || page.offset) query = query.limit(page.limit ?? Number.MAX_SAFE_INTEGER).offset(page.offset ?? 0);
    return query.execute();
  }

  /** How many items the dataset holds. */
  async itemCount(dataset: DatasetRecord): Promise<number> {
    const { count } = await this.db
      .selectFrom('data')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('dataset_id', '=', dataset.id)
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  /** One item of the dataset, or undefined. */
  async item(dataset: DatasetRecord, dataId: string): Promise<DataRow | undefined> {
    return this.db.selectFrom('data').selectAll().where('dataset_id', '=', dataset.id).where('id', '=', dataId.toLowerCase()).executeTakeFirst();
  }

  /** The stored original of an item (404 DataNotFoundError when the dataset has no such item). */
  async raw(dataset: DatasetRecord, dataId: string): Promise<{ row: DataRow; bytes: Buffer }> {
    const row = await this.item(dataset, dataId);
    if (!row) throw dataNotFound(dataId, dataset.id);
    return { row, bytes: await this.engine.readStored(row) };
  }

  /**
   * Removes an item (its graph nodes, vectors, row and file, and the search history that could quote
   * it); the removed row, undefined when the dataset has no such item. `hard` (the reference's
   * `mode=hard`) also removes the entities no remaining chunk of the dataset mentions.
   */
  async deleteItem(dataset: DatasetRecord, dataId: string, options: { readonly hard?: boolean } = {}): Promise<DataRow | undefined> {
    const row = await this.item(dataset, dataId);
    if (row) {
      await this.engine.deleteData(datasetInfo(dataset), row);
      if (options.hard) await this.pruneUnmentionedEntities(dataset);
      // Answers given since the item was added could quote it.
      await this.history.purge(dataset.id, row.created_at);
    }
    return row;
  }

  /** Removes the dataset's entities that no chunk mentions any more, from the graph and the vectors. */
  private async pruneUnmentionedEntities(dataset: DatasetRecord): Promise<void> {
    await this.engine.databases.with(datasetInfo(dataset), async ({ graph, vector }) => {
      const entities = await graph.nodesOfType(dataset.id, ['Entity']);
      if (entities.length === 0) return;
      const mentioned = new Set<string>();
      for (const { source, target } of await graph.edgesAround(
        dataset.id,
        entities.map((e) => e.id),
      )) {
        if (source.type === 'DocumentChunk') mentioned.add(target.id);
        if (target.type === 'DocumentChunk') mentioned.add(source.id);
      }
      const unmentioned = entities.filter((e) => !mentioned.has(e.id)).map((e) => e.id);
      if (unmentioned.length === 0) return;
      await graph.deleteNodes(dataset.id, unmentioned);
      for (const collection of await vector.collections(dataset.id)) await vector.deleteIds(dataset.id, collection, unmentioned);
    });
  }

  /** Removes a dataset whole: its graph, vectors and per-dataset databases, items and files, every user's search history of it, then its row (grants cascade). */
  async delete(dataset: DatasetRecord): Promise<void> {
    await this.engine.deleteDataset(datasetInfo(dataset));
    await this.history.purge(dataset.id);
    await this.db.deleteFrom('datasets').where('id', '=', dataset.id).execute();
  }

  /** The dataset's knowledge graph as the reference's graph DTO. */
  async graph(dataset: DatasetRecord) {
    const graph = await this.engine.databases.with(datasetInfo(dataset), ({ graph }) => graph.getGraph(dataset.id));
    return {
      nodes: graph.nodes.map((n) => ({
        id: n.id,
        label: n.name || `${n.type}_${n.id}`,
        type: n.type,
        properties: Object.fromEntries(Object.entries(n.properties).filter(([k, v]) => !GRAPH_HIDDEN_PROPERTIES.has(k) && v !== null && v !== undefined)),
      })),
      edges: graph.edges.map((e) => ({ source: e.source, target: e.target, label: e.relationship })),
    };
  }

  /**
   * Node and edge counts of each dataset's latest cognify run (datasets never cognified are left
   * out). Counts of a completed run are kept, so they are computed once per run.
   */
  async graphSummary(datasets: readonly DatasetRecord[]) {
    const runs = await latestRuns(
      this.db,
      'cognify_pipeline',
      datasets.map((d) => d.id),
    );
    const out = [];
    for (const dataset of datasets) {
      const run = runs.get(dataset.id);
      if (!run) continue;
      let metrics = await this.db
        .selectFrom('graph_metrics')
        .selectAll()
        .where('dataset_id', '=', dataset.id)
        .where('pipeline_run_id', '=', run.pipeline_run_id)
        .executeTakeFirst();
      if (!metrics) {
        const counts = await this.engine.databases.with(datasetInfo(dataset), ({ graph }) => graph.counts(dataset.id));
        metrics = {
          dataset_id: dataset.id,
          pipeline_run_id: run.pipeline_run_id,
          num_nodes: counts.nodes,
          num_edges: counts.edges,
          computed_at: new Date().toISOString(),
        };
        if (run.status === RunStatus.COMPLETED) {
          await this.db
            .insertInto('graph_metrics')
            .values(metrics)
            .onConflict((oc) => oc.columns(['dataset_id', 'pipeline_run_id']).doNothing())
            .execute();
        }
      }
      out.push({
        datasetId: dataset.id,
        pipelineRunId: run.pipeline_run_id,
        numNodes: metrics.num_nodes,
        numEdges: metrics.num_edges,
        computedAt: metrics.computed_at,
      });
    }
    return out;
  }
}
