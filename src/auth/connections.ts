/**
 * Agent connections (the reference's `/api/v1/agents/register` and `/connections`): an agent (or
 * any user) announces a running session under a name of its choosing; the connection belongs to
 * that user and to the tenant active when it registered, and is seen only by that user and the user
 * who created it (D24: an agent's connections are its creator's). Liveness follows the reference:
 * `status` is `active` from registration until `unregister` (`inactive`); `last_active_at` is the
 * later of the last registration and the last use of the user's API keys (written at most every
 * five minutes by credential resolution, so a request costs no write here).
 */
import { createHash } from 'node:crypto';
import type { ExpressionBuilder, Kysely } from 'kysely';
import { toBool, type Database } from '../storage/index.js';
import { isUniqueViolation } from './user-store.js';

export const CONNECTION_STATUSES = ['active', 'inactive', 'unknown'] as const;
export const MEMORY_MODES = ['session', 'cognee', 'hybrid', 'none', 'unknown'] as const;
export const CONNECTION_SOURCES = ['agent_memory', 'session_trace', 'serve', 'api_key', 'mcp', 'api'] as const;
export const CONNECTION_RANGES = ['24h', '7d', '30d', 'all'] as const;

export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];
export type MemoryMode = (typeof MEMORY_MODES)[number];
export type ConnectionSource = (typeof CONNECTION_SOURCES)[number];
type MemorySourceType = 'dataset' | 'company_brain' | 'knowledge_wiki' | 'project_dataset';

/** A connection's metadata is at most this many bytes of JSON; a merge that would pass it keeps the new metadata alone. */
export const MAX_METADATA_BYTES = 16 * 1024;

/** At most this many connections per user (every tenant): past it the least recently active go, inactive ones first. */
export const MAX_CONNECTIONS_PER_USER = 200;

/** The reference's `RegisterAgentRequest`, validated by the router. */
export interface RegisterConnection {
  readonly agent_session_name: string;
  readonly type: string;
  readonly memory_mode: MemoryMode;
  readonly session_id?: string | null | undefined;
  readonly dataset_ids: readonly string[];
  readonly dataset_names: readonly string[];
  readonly source: ConnectionSource;
  readonly origin_function?: string | null | undefined;
  readonly metadata: Record<string, unknown>;
}

/** Whose a connection is: a user and the tenant active when it registered (null: the personal space). */
export interface ConnectionScope {
  readonly userId: string;
  readonly tenantId: string | null;
}

export interface ConnectionQuery {
  readonly agent_id?: string | undefined;
  readonly status?: ConnectionStatus | undefined;
  readonly include_sources: boolean;
  readonly active_only: boolean;
  readonly limit: number;
  readonly offset: number;
}

export interface DatasetRef {
  readonly id: string | null;
  readonly name: string | null;
  readonly role: string;
  readonly type: MemorySourceType;
}

/** The reference's `AgentConnection`, snake_case on the wire. */
export interface AgentConnection {
  readonly id: string;
  readonly agent_session_name: string;
  readonly type: string;
  readonly memory_mode: string;
  readonly session_id: string | null;
  readonly user_id: string;
  readonly tenant_id: string | null;
  readonly datasets: DatasetRef[];
  readonly last_active_at: string;
  readonly status: ConnectionStatus;
  readonly source: string;
  readonly origin_function: string | null;
  readonly metadata: Record<string, unknown>;
}

/** A readable dataset, as the access rules hand it over. */
export interface ReadableDataset {
  readonly id: string;
  readonly name: string;
  readonly owner_id: string;
  readonly tenant_id: string | null;
}

/** The reference's `classify_memory_source_type`. */
export function memorySourceType(name: string | null): MemorySourceType {
  const normalized = (name ?? '').toLowerCase();
  if (normalized.includes('brain')) return 'company_brain';
  if (normalized.includes('wiki')) return 'knowledge_wiki';
  if (normalized.includes('project')) return 'project_dataset';
  return 'dataset';
}

/**
 * A connection's id, in the reference's form `<name as a slug, last 48 characters>-<16 hex>`. The
 * digest covers the name, the user and the tenant, so one name in two tenants is two connections.
 */
export function connectionId(name: string, scope: ConnectionScope): string {
  const digest = createHash('sha256')
    .update(`${name}|${scope.userId}|${scope.tenantId ?? ''}`, 'utf8')
    .digest('hex')
    .slice(0, 16);
  const slug = name.replace(/[^a-zA-Z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return `${slug.slice(-48) || 'agent'}-${digest}`;
}

type Row = Database['agent_connections'];

/** Rows of one tenant, or of the personal space. */
const inTenant = (tenantId: string | null) => (eb: ExpressionBuilder<Database, 'agent_connections'>) =>
  tenantId === null ? eb('agent_connections.tenant_id', 'is', null) : eb('agent_connections.tenant_id', '=', tenantId);

function mergedMetadata(stored: string | undefined, given: Record<string, unknown>): string {
  const merged = JSON.stringify({ ...(stored ? (JSON.parse(stored) as Record<string, unknown>) : {}), ...given });
  return Buffer.byteLength(merged) <= MAX_METADATA_BYTES ? merged : JSON.stringify(given);
}

const later = (a: string, b: string | null | undefined) => (b && b > a ? b : a);

export class AgentConnections {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Registers (or re-registers) a connection: active, last active now, metadata merged over the stored. */
  async register(scope: ConnectionScope, request: RegisterConnection): Promise<AgentConnection> {
    const id = connectionId(request.agent_session_name, scope);
    const now = this.now().toISOString();
    const datasets: DatasetRef[] = [
      ...request.dataset_ids.map((d) => ({ id: d, name: null, role: 'read_write', type: 'dataset' as const })),
      ...request.dataset_names.map((n) => ({ id: null, name: n, role: 'read_write', type: memorySourceType(n) })),
    ];
    const write = () =>
      this.db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('agent_connections').select(['metadata', 'created_at']).where('id', '=', id).executeTakeFirst();
        const values: Row = {
          id,
          user_id: scope.userId,
          tenant_id: scope.tenantId,
          agent_session_name: request.agent_session_name,
          type: request.type,
          memory_mode: request.memory_mode,
          source: request.source,
          origin_function: request.origin_function ?? null,
          session_id: request.session_id ?? null,
          datasets: JSON.stringify(datasets),
          metadata: mergedMetadata(existing?.metadata, request.metadata),
          status: 'active',
          created_at: existing?.created_at ?? now,
          last_active_at: now,
        };
        if (existing) {
          const { id: _id, created_at: _created, ...changes } = values;
          await trx.updateTable('agent_connections').set(changes).where('id', '=', id).execute();
        } else {
          await trx.insertInto('agent_connections').values(values).execute();
          await this.prune(trx, scope.userId);
        }
        return values;
      });
    let row: Row;
    try {
      row = await write();
    } catch (error) {
      // A concurrent first registration of the same connection: register over it.
      if (!isUniqueViolation(error)) throw error;
      row = await write();
    }
    return this.view(row, null);
  }

  /** Keeps a user's connections within the limit: the least recently active go, inactive ones first. */
  private async prune(trx: Kysely<Database>, userId: string) {
    const surplus = await trx
      .selectFrom('agent_connections')
      .select('id')
      .where('user_id', '=', userId)
      .orderBy((eb) => eb.case().when('status', '=', 'active').then(1).else(0).end(), 'desc')
      .orderBy('last_active_at', 'desc')
      .offset(MAX_CONNECTIONS_PER_USER)
      .limit(1000)
      .execute();
    if (surplus.length > 0)
      await trx
        .deleteFrom('agent_connections')
        .where(
          'id',
          'in',
          surplus.map((r) => r.id),
        )
        .execute();
  }

  /** Marks the caller's connection of that name inactive (nothing when there is none); answers how many of the caller's connections stay active there. */
  async unregister(scope: ConnectionScope, name: string): Promise<number> {
    await this.db
      .updateTable('agent_connections')
      .set({ status: 'inactive' })
      .where('id', '=', connectionId(name, scope))
      .where('user_id', '=', scope.userId)
      .execute();
    const { count } = await this.db
      .selectFrom('agent_connections')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where(inTenant(scope.tenantId))
      .where('user_id', '=', scope.userId)
      .where('status', '=', 'active')
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  /**
   * The reference's `AgentsListResponse` for a viewer: the connections of the viewer and of the
   * agents the viewer created, in the viewer's active tenant, most recently active first; and the
   * datasets the viewer may read as memory sources, each with the connections that name it.
   */
  async list(viewer: ConnectionScope, query: ConnectionQuery, readable: readonly ReadableDataset[]) {
    const agents = this.db.selectFrom('users').select('id').where('parent_user_id', '=', viewer.userId);
    let select = this.db
      .selectFrom('agent_connections')
      .innerJoin('users', 'users.id', 'agent_connections.user_id')
      .selectAll('agent_connections')
      .select('users.is_active')
      .where(inTenant(viewer.tenantId))
      .where((eb) => eb.or([eb('agent_connections.user_id', '=', viewer.userId), eb('agent_connections.user_id', 'in', agents)]));
    if (query.agent_id) select = select.where('agent_connections.user_id', '=', query.agent_id);
    // Rows per user are bounded (MAX_CONNECTIONS_PER_USER): the filters run on the effective status.
    const rows = await select.execute();
    const keysUsed = await this.keysLastUsed([...new Set(rows.map((r) => r.user_id))]);
    const connections = rows
      .map((r) => this.view(r, keysUsed.get(r.user_id), toBool(r.is_active)))
      .filter((c) => (!query.active_only || c.status === 'active') && (!query.status || c.status === query.status))
      .sort((a, b) => (a.last_active_at === b.last_active_at ? a.id.localeCompare(b.id) : a.last_active_at < b.last_active_at ? 1 : -1));
    const page = connections.slice(query.offset, query.offset + query.limit);
    return {
      agents: page,
      memory_sources: query.include_sources ? memorySources(readable, connections) : [],
      total: connections.length,
      limit: query.limit,
      offset: query.offset,
      has_more: query.offset + page.length < connections.length,
    };
  }

  /**
   * The reference's `AgentDetailResponse` of one user's connection (the most recently active, or
   * the one of that name), or undefined when the viewer sees no such active connection. The recent
   * sessions, traces and answers are the router's to add (from the viewer's own session).
   */
  async detail(viewer: ConnectionScope, agentId: string, name: string | undefined, readable: readonly ReadableDataset[]) {
    const list = await this.list(viewer, { agent_id: agentId, include_sources: true, active_only: true, limit: 10_000, offset: 0 }, readable);
    const agent = name === undefined ? list.agents[0] : list.agents.find((a) => a.agent_session_name === name);
    if (!agent) return undefined;
    return { agent, memory_sources: list.memory_sources, recent_sessions: [], recent_traces: [], recent_qas: [] };
  }

  /** The latest use of each user's API keys. */
  private async keysLastUsed(userIds: readonly string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('user_api_key')
      .select(['user_id', (eb) => eb.fn.max('last_used_at').as('last_used_at')])
      .where('user_id', 'in', userIds)
      .groupBy('user_id')
      .execute();
    return new Map(rows.filter((r) => r.last_used_at).map((r) => [r.user_id, String(r.last_used_at)]));
  }

  /** A connection as served: a deactivated user's connections are inactive (D24: an agent deactivated with its creator). */
  private view(row: Row, keyLastUsed: string | null | undefined, userActive = true): AgentConnection {
    return {
      id: row.id,
      agent_session_name: row.agent_session_name,
      type: row.type,
      memory_mode: row.memory_mode,
      session_id: row.session_id,
      user_id: row.user_id,
      tenant_id: row.tenant_id,
      datasets: JSON.parse(row.datasets) as DatasetRef[],
      last_active_at: later(row.last_active_at, keyLastUsed),
      status: userActive ? row.status : 'inactive',
      source: row.source,
      origin_function: row.origin_function,
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    };
  }
}

/** The reference's `MemorySourceConnection`s: readable datasets and the connections naming each by id. */
function memorySources(readable: readonly ReadableDataset[], connections: readonly AgentConnection[]) {
  const byDataset = new Map<string, Set<string>>();
  for (const c of connections) {
    for (const d of c.datasets) {
      if (d.id) byDataset.set(d.id.toLowerCase(), (byDataset.get(d.id.toLowerCase()) ?? new Set()).add(c.id));
    }
  }
  return readable.map((d) => ({
    id: d.id,
    name: d.name,
    type: memorySourceType(d.name),
    owner_id: d.owner_id,
    tenant_id: d.tenant_id,
    status: 'active' as const,
    connected_agent_ids: [...(byDataset.get(d.id) ?? [])].sort(),
    metadata: {},
  }));
}
