import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { SessionConfig } from '../config/index.js';
import type { Database, SessionRecordsTable } from '../storage/index.js';
import { nextSeq } from './runs.js';
import type { UsageTally } from './providers/usage.js';

/**
 * Agent sessions: the QA turns and trace steps an agent writes under a session id of its choosing,
 * kept in the relational database. A session belongs to its user in the tenant that was active when
 * it was made: the same id from another user, or from the same user in another tenant, is another
 * session, and nobody else ever reads it (the reference lets dataset readers read it; Engram does not).
 */

/** Whose sessions: the user and their active tenant (null = the personal space). */
export interface SessionOwner {
  readonly userId: string;
  readonly tenantId: string | null;
}

/** The reference's `SessionQAEntry`. */
export interface QaEntry {
  readonly time: string;
  readonly question: string;
  readonly context: string;
  readonly answer: string;
  readonly qa_id: string;
  readonly feedback_text: string | null;
  readonly feedback_score: number | null;
  readonly used_graph_element_ids: { node_ids?: string[]; edge_ids?: string[] } | null;
  readonly memify_metadata: Record<string, boolean> | null;
  readonly used_session_context_ids: string[] | null;
}

/** The reference's `SessionAgentTraceEntry`. */
export interface TraceEntry {
  readonly trace_id: string;
  readonly origin_function: string;
  readonly status: string;
  readonly memory_query: string;
  readonly memory_context: string;
  readonly method_params: Record<string, unknown>;
  readonly method_return_value: unknown;
  readonly error_message: string;
  readonly session_feedback: string;
}

export type NewQa = Pick<QaEntry, 'question' | 'context' | 'answer'> & Partial<Pick<QaEntry, 'feedback_text' | 'feedback_score' | 'used_graph_element_ids'>>;
export type NewTrace = Omit<TraceEntry, 'trace_id' | 'session_feedback'>;

/** An entry larger than SESSION_ENTRY_MAX_BYTES. */
export class SessionEntryTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`The entry is larger than ${limit} bytes once serialized.`);
  }
}

/** Read-time status: a running session idle past the threshold reads as abandoned (never written). */
export const SESSION_STATUSES = ['running', 'completed', 'failed', 'abandoned'] as const;
export const SESSION_RANGES = ['24h', '7d', '30d', 'all'] as const;
export type SessionRange = (typeof SESSION_RANGES)[number];
export const SESSION_ORDER = ['last_activity_at', 'started_at', 'ended_at', 'cost_usd', 'tokens_in', 'tokens_out'] as const;

const RANGE_MS: Record<SessionRange, number | null> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, all: null };

export interface SessionListQuery {
  readonly range: SessionRange;
  readonly status?: string | undefined;
  readonly limit: number;
  readonly offset: number;
  readonly orderBy: string;
  readonly descending: boolean;
}

type RecordRow = SessionRecordsTable;

export class SessionStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: SessionConfig,
  ) {}

  private tenantKey(owner: SessionOwner): string {
    return owner.tenantId ?? '';
  }

  /** The caller's session with this id, if it exists. */
  find(owner: SessionOwner, sessionId: string): Promise<RecordRow | undefined> {
    return this.db
      .selectFrom('session_records')
      .selectAll()
      .where('user_id', '=', owner.userId)
      .where('tenant_key', '=', this.tenantKey(owner))
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
  }

  /**
   * Creates the session (running) or marks activity on it; a dataset is recorded when the session
   * has none yet. A session that ended is left as it is, as the reference's.
   */
  async touch(owner: SessionOwner, sessionId: string, datasetId: string | null): Promise<RecordRow> {
    const now = new Date().toISOString();
    await this.db
      .insertInto('session_records')
      .values({
        id: randomUUID(),
        session_id: sessionId,
        user_id: owner.userId,
        tenant_key: this.tenantKey(owner),
        dataset_id: datasetId,
        status: 'running',
        started_at: now,
        last_activity_at: now,
        ended_at: null,
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0,
        error_count: 0,
        last_model: null,
        bridged_seq: 0,
      })
      .onConflict((oc) =>
        oc
          .columns(['user_id', 'tenant_key', 'session_id'])
          .doUpdateSet((eb) => ({
            last_activity_at: now,
            dataset_id: eb.fn.coalesce('session_records.dataset_id', eb.val(datasetId)),
          }))
          .where('session_records.status', '=', 'running'),
      )
      .execute();
    const row = await this.find(owner, sessionId);
    if (!row) throw new Error('session row vanished after upsert');
    return row;
  }

  /** Throws `SessionEntryTooLarge` when the entry would pass SESSION_ENTRY_MAX_BYTES (so a request can be refused before it writes). */
  checkSize(entry: unknown): void {
    this.serialize(entry);
  }

  private serialize(entry: unknown): string {
    const text = JSON.stringify(entry);
    if (Buffer.byteLength(text) > this.config.entryMaxBytes) throw new SessionEntryTooLarge(this.config.entryMaxBytes);
    return text;
  }

  private async insert(owner: SessionOwner, sessionId: string, datasetId: string | null, kind: 'qa' | 'trace', id: string, payload: string, errored = false) {
    const session = await this.touch(owner, sessionId, datasetId);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('session_entries')
        .values({ id, session_pk: session.id, kind, seq: nextSeq(), created_at: new Date().toISOString(), payload })
        .execute();
      if (errored) {
        await trx
          .updateTable('session_records')
          .set((eb) => ({ error_count: eb('error_count', '+', 1) }))
          .where('id', '=', session.id)
          .execute();
      }
    });
  }

  /** Stores a QA turn; answers its qa_id. */
  async addQa(owner: SessionOwner, sessionId: string, datasetId: string | null, qa: NewQa): Promise<string> {
    const id = randomUUID();
    const entry: QaEntry = {
      time: new Date().toISOString(),
      question: qa.question,
      context: qa.context,
      answer: qa.answer,
      qa_id: id,
      feedback_text: qa.feedback_text ?? null,
      feedback_score: qa.feedback_score ?? null,
      used_graph_element_ids: qa.used_graph_element_ids ?? null,
      memify_metadata: null,
      used_session_context_ids: null,
    };
    await this.insert(owner, sessionId, datasetId, 'qa', id, this.serialize(entry));
    return id;
  }

  /** Stores an agent trace step; answers its trace_id. A step with status `error` counts as an error of the session. */
  async addTrace(owner: SessionOwner, sessionId: string, datasetId: string | null, step: NewTrace): Promise<string> {
    const id = randomUUID();
    const entry: TraceEntry = { ...step, trace_id: id, session_feedback: '' };
    await this.insert(owner, sessionId, datasetId, 'trace', id, this.serialize(entry), step.status === 'error');
    return id;
  }

  /** Attaches feedback to one of the session's QA turns; false when the session has no such turn. */
  async addFeedback(owner: SessionOwner, sessionId: string, qaId: string, text: string | null, score: number | null): Promise<boolean> {
    const session = await this.find(owner, sessionId);
    if (!session) return false;
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('session_entries')
        .select(['payload'])
        .where('id', '=', qaId)
        .where('session_pk', '=', session.id)
        .where('kind', '=', 'qa')
        .executeTakeFirst();
      if (!row) return false;
      const entry = JSON.parse(row.payload) as QaEntry;
      const updated = { ...entry, feedback_text: text, feedback_score: score };
      await trx
        .updateTable('session_entries')
        .set({ payload: this.serialize(updated) })
        .where('id', '=', qaId)
        .execute();
      await trx.updateTable('session_records').set({ last_activity_at: new Date().toISOString() }).where('id', '=', session.id).execute();
      return true;
    });
  }

  /** The most recent entries of a kind (at most SESSION_RECALL_WINDOW, or `limit`), oldest first. */
  async entries<K extends 'qa' | 'trace'>(session: RecordRow, kind: K, limit = this.config.recallWindow): Promise<(K extends 'qa' ? QaEntry : TraceEntry)[]> {
    const rows = await this.db
      .selectFrom('session_entries')
      .select(['payload'])
      .where('session_pk', '=', session.id)
      .where('kind', '=', kind)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => JSON.parse(r.payload));
  }

  /** Entries written after `seq`, oldest first, with the seq of the last one (what `improve` bridges next). */
  async entriesAfter(session: RecordRow, seq: number): Promise<{ kind: 'qa' | 'trace'; entry: QaEntry | TraceEntry; seq: number }[]> {
    const rows = await this.db
      .selectFrom('session_entries')
      .select(['kind', 'payload', 'seq'])
      .where('session_pk', '=', session.id)
      .where('seq', '>', seq)
      .orderBy('seq', 'asc')
      .execute();
    return rows.map((r) => ({ kind: r.kind, entry: JSON.parse(r.payload), seq: r.seq }));
  }

  /** Records that `improve` bridged the session's entries up to `seq`. */
  async markBridged(session: RecordRow, seq: number): Promise<void> {
    await this.db.updateTable('session_records').set({ bridged_seq: seq }).where('id', '=', session.id).where('bridged_seq', '<', seq).execute();
  }

  /** Adds a language-model call's token use (and its price) to the session and to its per-model totals. */
  async recordUsage(session: RecordRow, model: string, tokensIn: number, tokensOut: number): Promise<void> {
    const price = this.config.prices[model.toLowerCase()];
    const cost = price ? (tokensIn * price.inputPerMillion + tokensOut * price.outputPerMillion) / 1_000_000 : 0;
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('session_records')
        .set((eb) => ({
          tokens_in: eb('tokens_in', '+', tokensIn),
          tokens_out: eb('tokens_out', '+', tokensOut),
          cost_usd: eb('cost_usd', '+', cost),
          last_model: model,
          last_activity_at: now,
        }))
        .where('id', '=', session.id)
        .execute();
      await trx
        .insertInto('session_model_usage')
        .values({ session_pk: session.id, model, tokens_in: tokensIn, tokens_out: tokensOut, cost_usd: cost, updated_at: now })
        .onConflict((oc) =>
          oc.columns(['session_pk', 'model']).doUpdateSet((eb) => ({
            tokens_in: eb('session_model_usage.tokens_in', '+', tokensIn),
            tokens_out: eb('session_model_usage.tokens_out', '+', tokensOut),
            cost_usd: eb('session_model_usage.cost_usd', '+', cost),
            updated_at: now,
          })),
        )
        .execute();
    });
  }

  /** Records what a metered piece of work used, per model (see `meterUsage`). */
  async recordTally(session: RecordRow, tally: UsageTally): Promise<void> {
    for (const [model, t] of tally.byModel) await this.recordUsage(session, model, t.tokensIn, t.tokensOut);
  }

  /** The effective status: stored, except a running session idle past the threshold, which reads as abandoned. */
  effectiveStatus(row: Pick<RecordRow, 'status' | 'last_activity_at'>, now = Date.now()): string {
    if (row.status === 'running' && now - Date.parse(row.last_activity_at) > this.config.abandonAfterSeconds * 1000) return 'abandoned';
    return row.status;
  }

  /** The caller's sessions active in the range. */
  private ranged(owner: SessionOwner, range: SessionRange) {
    let query = this.db.selectFrom('session_records').where('user_id', '=', owner.userId).where('tenant_key', '=', this.tenantKey(owner));
    const span = RANGE_MS[range];
    if (span !== null) query = query.where('last_activity_at', '>=', new Date(Date.now() - span).toISOString());
    return query;
  }

  /** One page of the caller's sessions, as the reference's `GET /api/v1/sessions` (status filters on the effective status). */
  async list(owner: SessionOwner, q: SessionListQuery) {
    const now = Date.now();
    const idleSince = new Date(now - this.config.abandonAfterSeconds * 1000).toISOString();
    let query = this.ranged(owner, q.range);
    if (q.status === 'abandoned') query = query.where('status', '=', 'running').where('last_activity_at', '<', idleSince);
    else if (q.status === 'running') query = query.where('status', '=', 'running').where('last_activity_at', '>=', idleSince);
    else if (q.status) query = query.where('status', '=', q.status);
    const key = (SESSION_ORDER as readonly string[]).includes(q.orderBy) ? (q.orderBy as (typeof SESSION_ORDER)[number]) : 'last_activity_at';
    const direction = q.descending ? 'desc' : 'asc';
    const [count, rows] = await Promise.all([
      query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      query.selectAll().orderBy(key, direction).orderBy('id', direction).limit(q.limit).offset(q.offset).execute(),
    ]);
    const total = Number(count.n);
    return {
      sessions: rows.map((r) => ({ ...recordView(r), effective_status: this.effectiveStatus(r, now) })),
      total,
      limit: q.limit,
      offset: q.offset,
      has_more: q.offset + rows.length < total,
    };
  }

  /** The dashboard's counters over the caller's sessions in the range. */
  async stats(owner: SessionOwner, range: SessionRange) {
    const now = Date.now();
    const rows = await this.ranged(owner, range)
      .select(['status', 'started_at', 'ended_at', 'last_activity_at', 'tokens_in', 'tokens_out', 'cost_usd'])
      .execute();
    let tokensIn = 0;
    let tokensOut = 0;
    let cost = 0;
    let seconds = 0;
    const buckets: Record<string, number> = { completed: 0, failed: 0, abandoned: 0, running: 0 };
    for (const r of rows) {
      tokensIn += r.tokens_in;
      tokensOut += r.tokens_out;
      cost += r.cost_usd;
      seconds += Math.max(0, (Date.parse(r.ended_at ?? r.last_activity_at) - Date.parse(r.started_at)) / 1000);
      const status = this.effectiveStatus(r, now);
      buckets[status] = (buckets[status] ?? 0) + 1;
    }
    const decided = buckets.completed! + buckets.failed! + buckets.abandoned!;
    return {
      range,
      sessions: rows.length,
      total_spend_usd: cost,
      avg_spend_per_session_usd: rows.length ? cost / rows.length : 0,
      tokens_in: tokensIn,
      tokens_out: tokensOut,
      tokens_total: tokensIn + tokensOut,
      agent_time_s: seconds,
      avg_session_s: rows.length ? seconds / rows.length : 0,
      success_rate: decided ? buckets.completed! / decided : 1,
      completed: buckets.completed!,
      failed: buckets.failed!,
      abandoned: buckets.abandoned!,
      running: buckets.running!,
    };
  }

  /** Cost and tokens per model over the caller's sessions in the range, most expensive first. */
  async costByModel(owner: SessionOwner, range: SessionRange) {
    let query = this.db
      .selectFrom('session_model_usage')
      .innerJoin('session_records', 'session_records.id', 'session_model_usage.session_pk')
      .select((eb) => [
        'session_model_usage.model as model',
        eb.fn.count<number>('session_model_usage.session_pk').distinct().as('session_count'),
        eb.fn.sum<number>('session_model_usage.cost_usd').as('cost_usd'),
        eb.fn.sum<number>('session_model_usage.tokens_in').as('tokens_in'),
        eb.fn.sum<number>('session_model_usage.tokens_out').as('tokens_out'),
      ])
      .where('session_records.user_id', '=', owner.userId)
      .where('session_records.tenant_key', '=', this.tenantKey(owner));
    const span = RANGE_MS[range];
    if (span !== null) query = query.where('session_records.last_activity_at', '>=', new Date(Date.now() - span).toISOString());
    const rows = await query
      .groupBy('session_model_usage.model')
      .orderBy(sql`sum(session_model_usage.cost_usd)`, 'desc')
      .execute();
    return rows.map((r) => ({
      model: r.model || 'unknown',
      session_count: Number(r.session_count),
      cost_usd: Number(r.cost_usd ?? 0),
      tokens_in: Number(r.tokens_in ?? 0),
      tokens_out: Number(r.tokens_out ?? 0),
    }));
  }
}

/** A session record as the reference's `SessionRecord.to_dict()` shows it. */
export function recordView(r: RecordRow) {
  return {
    session_id: r.session_id,
    user_id: r.user_id,
    dataset_id: r.dataset_id,
    status: r.status,
    started_at: r.started_at,
    last_activity_at: r.last_activity_at,
    ended_at: r.ended_at,
    tokens_in: r.tokens_in,
    tokens_out: r.tokens_out,
    cost_usd: r.cost_usd,
    error_count: r.error_count,
    last_model: r.last_model,
  };
}
