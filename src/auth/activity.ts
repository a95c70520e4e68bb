/**
 * The people side of `/api/v1/activity`: the members of the caller's active tenant, and the users
 * and agents the caller may watch with when each was last active. The reference lists every active
 * user of the server to anyone here; Engram shows a user themselves and the agents they created,
 * and a superuser everyone (as the reference shows everyone).
 */
import type { Kysely } from 'kysely';
import { canManageUsers, findTenant, type Subject } from '../access/index.js';
import { toBool, type Database } from '../storage/index.js';
import { AGENT_DOMAIN } from './reserved-emails.js';

/** As the reference: active within the last 30 minutes is `LIVE`. */
export const LIVE_WINDOW_MS = 30 * 60 * 1000;

export type AgentActivityStatus = 'LIVE' | 'INACTIVE' | 'NEVER_CONNECTED';

/** Who is asking: the subject, and whether they are a superuser. */
export interface ActivityViewer {
  readonly subject: Subject;
  readonly isSuperuser: boolean;
}

/** The reference's display name and short id of an agent e-mail (`<name>+<parent id>@cognee.agent`, or the legacy `<name>-<hex>`). */
export function agentNameOf(email: string): { name: string; shortId: string } {
  const local = email.split('@')[0] ?? '';
  const plus = local.lastIndexOf('+');
  if (plus >= 0) return { name: local.slice(0, plus), shortId: local.slice(plus + 1) };
  const dash = local.lastIndexOf('-');
  if (dash >= 0) {
    const suffix = local.slice(dash + 1);
    if (suffix.length >= 8 && /^[0-9a-f]+$/.test(suffix)) return { name: local.slice(0, dash), shortId: suffix };
  }
  return { name: local, shortId: '' };
}

const latest = (...values: (string | null | undefined)[]) => values.reduce<string | undefined>((a, b) => (b && (!a || b > a) ? b : a), undefined);

export class ActivityReport {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly defaultUserEmail: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * The members of the caller's active tenant (`{id, email, is_superuser, created_at}`), for its
   * owner or an `admin`; anyone else, and the personal space, get an empty list (the reference
   * always answers one: its call fails and the failure is answered as `[]`).
   */
  async tenantUsers(subject: Subject) {
    if (subject.activeTenantId === null) return [];
    const tenant = await findTenant(this.db, subject.activeTenantId);
    if (!tenant || !(await canManageUsers(this.db, { userId: subject.userId, roleIds: subject.roleIds }, tenant))) return [];
    const rows = await this.db
      .selectFrom('user_tenants')
      .innerJoin('users', 'users.id', 'user_tenants.user_id')
      .innerJoin('principals', 'principals.id', 'users.id')
      .select(['users.id', 'users.email', 'users.is_superuser', 'principals.created_at'])
      .where('user_tenants.tenant_id', '=', tenant.id)
      .orderBy('users.email')
      .execute();
    return rows.map((r) => ({ id: r.id, email: r.email, is_superuser: toBool(r.is_superuser), created_at: r.created_at }));
  }

  /**
   * The reference's agent activity rows: each active user the viewer may watch (themselves and
   * the agents they created; a superuser: everyone), with when they last added data, searched or
   * used an API key, and `LIVE` / `INACTIVE` / `NEVER_CONNECTED` from that.
   */
  async agents(viewer: ActivityViewer) {
    let users = this.db
      .selectFrom('users')
      .innerJoin('principals', 'principals.id', 'users.id')
      .select(['users.id', 'users.email', 'principals.created_at'])
      .where('users.is_active', '=', true)
      .orderBy('principals.created_at')
      .orderBy('users.id');
    if (!viewer.isSuperuser) {
      const me = viewer.subject.userId;
      users = users.where((eb) => eb.or([eb('users.id', '=', me), eb('users.parent_user_id', '=', me)]));
    }
    const rows = await users.execute();
    if (rows.length === 0) return [];
    // A superuser's report covers everyone: no list of ids (it could pass the parameter limit).
    const ids = viewer.isSuperuser ? undefined : rows.map((r) => r.id);
    const [keys, data, queries] = await Promise.all([
      this.db
        .selectFrom('user_api_key')
        .select(['user_id', (eb) => eb.fn.countAll<number>().as('count'), (eb) => eb.fn.max('last_used_at').as('last')])
        .$if(ids !== undefined, (q) => q.where('user_id', 'in', ids!))
        .groupBy('user_id')
        .execute(),
      this.db
        .selectFrom('data')
        .select(['owner_id', (eb) => eb.fn.max('created_at').as('last')])
        .$if(ids !== undefined, (q) => q.where('owner_id', 'in', ids!))
        .groupBy('owner_id')
        .execute(),
      this.db
        .selectFrom('search_history')
        .select(['user_id', (eb) => eb.fn.max('created_at').as('last')])
        .where('kind', '=', 'query')
        .$if(ids !== undefined, (q) => q.where('user_id', 'in', ids!))
        .groupBy('user_id')
        .execute(),
    ]);
    const keyOf = new Map(keys.map((k) => [k.user_id, k]));
    const dataOf = new Map(data.map((d) => [d.owner_id, d.last as string | null]));
    const queryOf = new Map(queries.map((q) => [q.user_id, q.last as string | null]));
    const liveSince = new Date(this.now().getTime() - LIVE_WINDOW_MS).toISOString();
    return rows.map((u) => {
      const isAgent = u.email.endsWith(`@${AGENT_DOMAIN}`);
      const isDefault = u.email === this.defaultUserEmail;
      const { name, shortId } = isAgent ? agentNameOf(u.email) : { name: '', shortId: '' };
      const key = keyOf.get(u.id);
      const last = latest(dataOf.get(u.id), queryOf.get(u.id), key?.last as string | null | undefined);
      const status: AgentActivityStatus = last === undefined ? 'NEVER_CONNECTED' : last > liveSince ? 'LIVE' : 'INACTIVE';
      return {
        id: u.id,
        email: u.email,
        agent_type: isAgent ? name.replace(/[-_]/g, ' ') : isDefault ? 'Human User' : (u.email.split('@')[0] ?? ''),
        agent_short_id: shortId,
        is_agent: isAgent,
        is_default: isDefault,
        status,
        api_key_count: Number(key?.count ?? 0),
        created_at: u.created_at,
        last_active: last ?? null,
      };
    });
  }
}
