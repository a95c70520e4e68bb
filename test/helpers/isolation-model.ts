import fc from 'fast-check';

/**
 * The isolation oracle's world (test/http/isolation-oracle.test.ts): the operations it plays and the
 * independent model of who may do what, written from the rules alone.
 */
export const USERS = 6;
export const PERMS = ['read', 'write', 'delete', 'share'] as const;
export type Perm = (typeof PERMS)[number];

export type Op =
  | { kind: 'createTenant'; user: number }
  | { kind: 'addMember'; tenant: number; user: number }
  | { kind: 'select'; user: number; tenant: number | null }
  | { kind: 'createRole'; tenant: number; name: number }
  | { kind: 'addRole'; role: number; user: number }
  | { kind: 'removeRole'; role: number; user: number; by: number }
  | { kind: 'createDataset'; user: number; name: number }
  | {
      kind: 'grant' | 'revoke';
      user: number;
      target: { type: 'user' | 'role' | 'tenant'; index: number };
      perm: Perm;
      datasets: number[];
      /** Pick among the caller's own datasets of its active tenant (so that grants succeed often), not all. */
      own?: boolean;
    }
  | { kind: 'removeMember'; tenant: number; user: number; by: number }
  | { kind: 'deleteDataset'; user: number; dataset: number }
  | { kind: 'principalDatasets'; user: number; target: { type: 'user' | 'role' | 'tenant'; index: number } }
  | { kind: 'accept' | 'decline' | 'drop'; user: number; dataset: number; received: boolean };

const idx = (max: number) => fc.nat({ max });
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('createTenant' as const), user: idx(USERS - 1) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('addMember' as const), tenant: idx(5), user: idx(USERS - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('select' as const), user: idx(USERS - 1), tenant: fc.option(idx(5), { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('createRole' as const), tenant: idx(5), name: idx(2) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('addRole' as const), role: idx(8), user: idx(USERS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeRole' as const), role: idx(8), user: idx(USERS - 1), by: idx(USERS - 1) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('createDataset' as const), user: idx(USERS - 1), name: idx(3) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constantFrom('grant' as const, 'grant' as const, 'revoke' as const),
      user: idx(USERS - 1),
      target: fc.record({ type: fc.constantFrom('user' as const, 'role' as const, 'tenant' as const), index: idx(8) }),
      perm: fc.constantFrom(...PERMS),
      datasets: fc.array(idx(15), { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('grant' as const),
      user: idx(USERS - 1),
      target: fc.record({ type: fc.constantFrom('user' as const, 'user' as const, 'role' as const, 'tenant' as const), index: idx(8) }),
      perm: fc.constantFrom(...PERMS),
      datasets: fc.array(idx(15), { minLength: 1, maxLength: 2 }),
      own: fc.constant(true),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeMember' as const), tenant: idx(5), user: idx(USERS - 1), by: idx(USERS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deleteDataset' as const), user: idx(USERS - 1), dataset: idx(15) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom('accept' as const, 'accept' as const, 'decline' as const, 'drop' as const),
      user: idx(USERS - 1),
      dataset: idx(15),
      received: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('principalDatasets' as const),
      user: idx(USERS - 1),
      target: fc.record({ type: fc.constantFrom('user' as const, 'role' as const, 'tenant' as const), index: idx(8) }),
    }),
  },
);

/** The independent model. */
export class World {
  active = new Map<string, string | null>();
  tenants: { id: string; owner: string }[] = [];
  members = new Map<string, Set<string>>(); // user → tenants
  roles: { id: string; tenant: string; name: string }[] = [];
  userRoles = new Map<string, Set<string>>(); // user → roles
  /** `creator` names the id (get-or-create by name); `owner` may change hands (D23). */
  datasets: { id: string; tenant: string | null; owner: string; creator: string; name: string }[] = [];
  acl = new Set<string>(); // principal|perm|dataset
  offers = new Set<string>(); // user|perm|dataset: pending, grants nothing (D23)

  /** D23: a grant to `user` on `dataset` is only an offer: not a member of its tenant, not its owner, holding nothing on it. */
  needsAcceptance(user: string, dataset: string): boolean {
    const d = this.datasets.find((x) => x.id === dataset)!;
    const member = d.tenant !== null && (this.members.get(user)?.has(d.tenant) ?? false);
    return d.owner !== user && !member && !PERMS.some((p) => this.acl.has(`${user}|${p}|${dataset}`));
  }
  /** The user's received shares (not its own datasets) as `dataset|status|perms`, sorted. */
  received(user: string): string[] {
    const out: string[] = [];
    for (const d of this.datasets) {
      if (d.owner === user) continue;
      for (const [status, set] of [
        ['accepted', this.acl],
        ['pending', this.offers],
      ] as const) {
        const perms = PERMS.filter((p) => set.has(`${user}|${p}|${d.id}`));
        if (perms.length > 0) out.push(`${d.id}|${status}|${perms.join(',')}`);
      }
    }
    return out.sort();
  }

  principals(user: string): string[] {
    const tenants = [...(this.members.get(user) ?? [])];
    const roles = tenants.length > 0 ? [...(this.userRoles.get(user) ?? [])] : [];
    return [user, ...tenants, ...roles];
  }
  has(user: string, perm: Perm, dataset: string): boolean {
    const d = this.datasets.find((x) => x.id === dataset);
    if (!d || d.tenant !== (this.active.get(user) ?? null)) return false;
    return this.principals(user).some((p) => this.acl.has(`${p}|${perm}|${dataset}`));
  }
  effective(user: string, perm: Perm): string[] {
    return this.datasets
      .filter((d) => this.has(user, perm, d.id))
      .map((d) => d.id)
      .sort();
  }
  canManage(user: string, tenant: string): boolean {
    const t = this.tenants.find((x) => x.id === tenant)!;
    if (t.owner === user) return true;
    return [...(this.userRoles.get(user) ?? [])].some((r) => {
      const role = this.roles.find((x) => x.id === r)!;
      return role.tenant === tenant && role.name === 'admin';
    });
  }
}
