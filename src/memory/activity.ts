/**
 * The memory side of `/api/v1/activity`: recent pipeline runs of the datasets a caller may read,
 * and a dataset's Markdown memory report (`/activity/export/{dataset_id}`), in the reference's
 * shapes. Which datasets a request may see is decided before, by `access`.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type { DatasetContent, DatasetRecord } from './datasets.js';

/** As the reference: the latest 50 rows. */
export const PIPELINE_RUNS_SHOWN = 50;

/** Node types the report lists apart from "Other Nodes" (the reference's list). */
const LISTED_TYPES = new Set(['Entity', 'TextSummary', 'DocumentChunk', 'TextDocument']);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');
/** Python's `%b %d, %Y` in UTC. */
const day = (d: Date) => `${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())}, ${d.getUTCFullYear()}`;
/** Markdown table cells: pipes escaped, as the reference. */
const cell = (text: string) => text.replace(/\|/g, '\\|');

export class Activity {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly content: DatasetContent,
  ) {}

  /** The reference's pipeline-run rows of these datasets (one per status change), newest first, with each dataset's owner. */
  async pipelineRuns(datasets: readonly DatasetRecord[]) {
    if (datasets.length === 0) return [];
    const rows = await this.db
      .selectFrom('pipeline_runs')
      .leftJoin('datasets', 'datasets.id', 'pipeline_runs.dataset_id')
      .leftJoin('users', 'users.id', 'datasets.owner_id')
      .select([
        'pipeline_runs.id',
        'pipeline_runs.pipeline_name',
        'pipeline_runs.status',
        'pipeline_runs.dataset_id',
        'datasets.name as dataset_name',
        'datasets.owner_id',
        'users.email as owner_email',
        'pipeline_runs.created_at',
        'pipeline_runs.pipeline_run_id',
      ])
      .where(
        'pipeline_runs.dataset_id',
        'in',
        datasets.map((d) => d.id),
      )
      .orderBy('pipeline_runs.created_at', 'desc')
      .orderBy('pipeline_runs.seq', 'desc')
      .limit(PIPELINE_RUNS_SHOWN)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      pipeline_name: r.pipeline_name,
      status: r.status,
      dataset_id: r.dataset_id,
      dataset_name: r.dataset_name ?? null,
      owner_id: r.owner_id ?? null,
      owner_email: r.owner_email ?? null,
      created_at: r.created_at,
      pipeline_run_id: r.pipeline_run_id,
    }));
  }

  /** The reference's Markdown memory report of a dataset: its summaries, entities, relationships, documents and other nodes. */
  async exportMarkdown(dataset: DatasetRecord, now = new Date()): Promise<{ filename: string; markdown: string }> {
    const docs = await this.content.items(dataset);
    const { nodes, edges } = await this.content.graph(dataset);
    const entities = nodes.filter((n) => n.type === 'Entity');
    const summaries = nodes.filter((n) => n.type === 'TextSummary');
    const others = nodes.filter((n) => !LISTED_TYPES.has(n.type));
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    const name = dataset.name || dataset.id;

    const lines = [`# Dataset: ${name}`, ''];
    lines.push(
      `Exported: ${day(now)} ${two(now.getUTCHours())}:${two(now.getUTCMinutes())} UTC | ${docs.length} documents | ${entities.length} entities | ${edges.length} relationships`,
      '',
    );
    if (summaries.length > 0) {
      lines.push('## Summaries', '');
      for (const s of summaries) if (text(s.properties.text)) lines.push(`> ${text(s.properties.text)}`, '');
    }
    if (entities.length > 0) {
      lines.push('## Entities', '', '| Entity | Description |', '|--------|-------------|');
      for (const e of entities) lines.push(`| ${cell(e.label)} | ${cell(text(e.properties.description)).replace(/\n/g, ' ')} |`);
      lines.push('');
    }
    if (edges.length > 0) {
      const labels = new Map(nodes.map((n) => [n.id, n.label]));
      const labelOf = (id: string) => labels.get(id) ?? id.slice(0, 12);
      lines.push('## Relationships', '', '| Source | Relationship | Target |', '|--------|-------------|--------|');
      for (const e of edges) lines.push(`| ${cell(labelOf(e.source))} | ${cell(e.label)} | ${cell(labelOf(e.target))} |`);
      lines.push('');
    }
    if (docs.length > 0) {
      lines.push('## Documents', '');
      for (const d of docs)
        lines.push(`- **${d.name || 'unnamed'}** (${(d.extension || '').toUpperCase()}, ${d.created_at ? day(new Date(d.created_at)) : '?'})`);
      lines.push('');
    }
    if (others.length > 0) {
      lines.push('## Other Nodes', '');
      for (const n of others) lines.push(`- [${n.type}] ${n.label}`);
      lines.push('');
    }
    return { filename: `${name}-memory-export.md`, markdown: lines.join('\n') };
  }
}
