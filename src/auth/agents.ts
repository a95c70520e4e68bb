import type { Kysely } from 'kysely';
import { canManageUsers, findTenant } from '../access/index.js';
import { ApiError, permissionDenied } from '../errors.js';
import type { Database } from '../storage/index.js';
import type { ApiKeyService } from './api-keys.js';
import { UNUSABLE_PASSWORD } from './passwords.js';
import { AGENT_DOMAIN } from './reserved-emails.js';
import { isUniqueViolation, nowIso, type User, type UserStore } from './user-store.js';

/**
 * Agents: users owned by a human user (`parent_user_id`) that authenticate with their API key only
 * (no password), act in the parent's active tenant, and whose datasets the parent can use.
 * E-mails follow the reference: `<slug>+<parent id>@cognee.agent`, shown as `<slug>@cognee.agent`;
 * nobody else can register or take an address in that domain (`reserved-emails.ts`).
 */

export function agentSlug(name: string): string {
  return name.toLowerCase().replace(/ /g, '-');
}

export function displayAgentEmail(email: string): string {
  const plus = email.lastIndexOf('+');
  return plus < 0 ? email : `${email.slice(0, plus)}@${AGENT_DOMAIN}`;
}

export class AgentService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly users: UserStore,
    private readonly apiKeys: ApiKeyService,
  ) {}

  /**
   * Creates an agent of `parent`. An agent created while a tenant is active joins that tenant, which
   * only its owner or an admin may do (D24): a plain member gets 403 there and creates personal
   * agents from the personal space. `roleIds` are an external token's roles (D2).
   */
  async create(parent: User, name: string, roleIds?: readonly string[]) {
    if (parent.tenantId !== null) {
      const tenant = await findTenant(this.db, parent.tenantId);
      if (!tenant || !(await canManageUsers(this.db, { userId: parent.id, roleIds }, tenant))) {
        throw permissionDenied("Only the tenant's owner or an admin can add agents to a tenant; select your personal space to create a personal agent.");
      }
    }
    const slug = agentSlug(name);
    const email = `${slug}+${parent.id}@${AGENT_DOMAIN}`;
    const conflict = () => ApiError.detail(409, `Agent with name '${name}' already exists`);
    if (await this.users.findByEmail(email)) throw conflict();
    let agent: User;
    try {
      agent = await this.users.create({
        email,
        hashedPassword: UNUSABLE_PASSWORD,
        parentUserId: parent.id,
        tenantId: parent.tenantId,
        isVerified: true,
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict();
      throw error;
    }
    if (parent.tenantId !== null) {
      await this.db
        .insertInto('user_tenants')
        .values({ user_id: agent.id, tenant_id: parent.tenantId, created_at: nowIso() })
        .onConflict((oc) => oc.columns(['user_id', 'tenant_id']).doNothing())
        .execute();
    }
    const key = await this.apiKeys.create(agent.id, slug);
    return { agentId: agent.id, agentEmail: displayAgentEmail(agent.email), agentApiKey: key.key };
  }

  async list(parentId: string) {
    const rows = await this.db
      .selectFrom('users')
      .leftJoin('user_api_key', 'user_api_key.user_id', 'users.id')
      .select(['users.id', 'users.email', 'user_api_key.label'])
      .where('users.parent_user_id', '=', parentId)
      .orderBy('users.email')
      .execute();
    const seen = new Map<string, { agentId: string; agentEmail: string; apiKeyLabel: string | null }>();
    for (const row of rows) {
      if (!seen.has(row.id)) seen.set(row.id, { agentId: row.id, agentEmail: displayAgentEmail(row.email), apiKeyLabel: row.label ?? null });
    }
    return [...seen.values()];
  }

  /** The caller's agent; 404 when it does not exist, 403 when it belongs to someone else. */
  async get(parentId: string, agentId: string) {
    const agent = await this.users.findById(agentId);
    if (!agent || agent.parentUserId === null) throw ApiError.detail(404, 'Agent not found');
    if (agent.parentUserId !== parentId) throw ApiError.detail(403, 'Not authorized');
    const key = await this.db.selectFrom('user_api_key').select('label').where('user_id', '=', agent.id).executeTakeFirst();
    return { agentId: agent.id, agentEmail: displayAgentEmail(agent.email), apiKeyLabel: key?.label ?? null };
  }
}
