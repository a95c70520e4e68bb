import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { PERMS, USERS, World, opArb, type Op } from '../helpers/isolation-model.js';
import { startTestServer, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';

/**
 * The isolation oracle: random worlds of users, tenants, roles, memberships, grants, tenant switches,
 * revocations and removals are played against the server over HTTP, and every answer is checked
 * against an independent model of who may do what, written here from the rules alone:
 *   effective(u, p) = datasets d in u's active tenant such that some principal in
 *                     {u} ∪ tenants(u) ∪ (roles(u) if u belongs to a tenant) holds p on d.
 * Grants and revokes follow D23 (only what one holds, never to oneself or a group that reaches
 * oneself unless one owns the dataset; the owner's grants are the owner's; a dataset keeps a user
 * holding share). A grant to a user outside the dataset's tenant (any user but the owner, for a
 * personal dataset) who holds nothing on it yet is an offer, which grants nothing until the user
 * accepts it (D23); a user may decline an offer or drop what it received. Checked: listings, grant
 * and revoke answers, received shares and their answers, principal datasets, dataset deletion. No
 * leak, no false denial.
 */
const RUNS = Number(process.env.ORACLE_RUNS ?? 12);
describe('isolation oracle', () => {
  let server: TestServer;
  let clients: Client[];
  let users: { id: string; token: string }[];

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('every answer matches the independent model in random worlds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 15, maxLength: 40 }), async (ops) => {
        // A fresh cast of users per world; earlier worlds cannot interfere (their datasets are theirs).
        clients = [];
        users = [];
        for (let i = 0; i < USERS; i++) {
          const c = server.client();
          const { id, token } = await c.signUp(uniqueEmail(`w${i}`));
          clients.push(c);
          users.push({ id, token });
        }
        const world = new World();
        for (const u of users) world.active.set(u.id, null);
        const call = (u: number, method: string, path: string, json?: unknown) =>
          clients[u]!.request(method, path, { ...(json !== undefined ? { json } : {}), bearer: users[u]!.token, cookies: false });
        const principalOf = (t: { type: string; index: number }) =>
          t.type === 'user' ? users[t.index % USERS]?.id : t.type === 'role' ? world.roles[t.index]?.id : world.tenants[t.index]?.id;

        const check = async (step: string) => {
          for (let u = 0; u < USERS; u++) {
            const res = await call(u, 'GET', '/api/v1/datasets');
            assert.equal(res.status, 200);
            const ids = (res.body as { id: string }[]).map((d) => d.id).sort();
            assert.deepEqual(ids, world.effective(users[u]!.id, 'read'), `${step}: user ${u} lists what the model says`);
          }
        };

        // Every world has at least three tenants, owned by the first three users, and a dataset of
        // every user (in the first three's tenants, and the others' personal spaces).
        const seeded: Op[] = [
          ...[0, 1, 2].map((user): Op => ({ kind: 'createTenant', user })),
          ...users.map((_, user): Op => ({ kind: 'createDataset', user, name: 0 })),
        ];
        for (const [n, op] of [...seeded, ...ops].entries()) {
          const step = `op ${n} ${JSON.stringify(op)}`;
          switch (op.kind) {
            case 'createTenant': {
              const res = await call(op.user, 'POST', `/api/v1/permissions/tenants?tenant_name=t${world.tenants.length}`);
              assert.equal(res.status, 200, step);
              const id = res.body.tenant_id as string;
              const uid = users[op.user]!.id;
              world.tenants.push({ id, owner: uid });
              world.members.set(uid, new Set([...(world.members.get(uid) ?? []), id]));
              world.active.set(uid, id);
              break;
            }
            case 'addMember': {
              const t = world.tenants[op.tenant];
              if (!t) break;
              const owner = users.findIndex((u) => u.id === t.owner);
              const uid = users[op.user]!.id;
              const res = await call(owner, 'POST', `/api/v1/permissions/users/${uid}/tenants?tenant_id=${t.id}`);
              const already = world.members.get(uid)?.has(t.id) ?? false;
              assert.equal(res.status, already ? 409 : 200, step);
              world.members.set(uid, new Set([...(world.members.get(uid) ?? []), t.id]));
              break;
            }
            case 'select': {
              const uid = users[op.user]!.id;
              const t = op.tenant === null ? null : world.tenants[op.tenant];
              if (t === undefined) break;
              const res = await call(op.user, 'POST', '/api/v1/permissions/tenants/select', { tenant_id: t?.id ?? null });
              const allowed = t === null || (world.members.get(uid)?.has(t.id) ?? false);
              assert.equal(res.status, allowed ? 200 : 404, step);
              if (allowed) world.active.set(uid, t?.id ?? null);
              break;
            }
            case 'createRole': {
              const t = world.tenants[op.tenant];
              if (!t) break;
              const owner = users.findIndex((u) => u.id === t.owner);
              const prev = world.active.get(t.owner) ?? null;
              await call(owner, 'POST', '/api/v1/permissions/tenants/select', { tenant_id: t.id });
              const name = ['admin', 'reader', 'writer'][op.name]!;
              const res = await call(owner, 'POST', `/api/v1/permissions/roles?role_name=${name}`);
              const exists = world.roles.some((r) => r.tenant === t.id && r.name === name);
              assert.equal(res.status, exists ? 409 : 200, step);
              if (!exists) world.roles.push({ id: res.body.role_id, tenant: t.id, name });
              await call(owner, 'POST', '/api/v1/permissions/tenants/select', { tenant_id: prev });
              break;
            }
            case 'addRole': {
              const role = world.roles[op.role];
              if (!role) break;
              const t = world.tenants.find((x) => x.id === role.tenant)!;
              const owner = users.findIndex((u) => u.id === t.owner);
              const uid = users[op.user]!.id;
              const res = await call(owner, 'POST', `/api/v1/permissions/users/${uid}/roles?role_id=${role.id}`);
              const member = world.members.get(uid)?.has(role.tenant) ?? false;
              const already = world.userRoles.get(uid)?.has(role.id) ?? false;
              assert.equal(res.status, !member ? 404 : already ? 409 : 200, step);
              if (member) world.userRoles.set(uid, new Set([...(world.userRoles.get(uid) ?? []), role.id]));
              break;
            }
            case 'removeRole': {
              const role = world.roles[op.role];
              if (!role) break;
              const uid = users[op.user]!.id;
              const by = users[op.by]!.id;
              const res = await call(op.by, 'DELETE', `/api/v1/permissions/users/${uid}/roles?role_id=${role.id}`);
              const allowed = world.canManage(by, role.tenant);
              assert.equal(res.status, allowed ? 200 : 403, step);
              if (allowed) world.userRoles.get(uid)?.delete(role.id);
              break;
            }
            case 'createDataset': {
              const uid = users[op.user]!.id;
              const name = `ds${op.name}`;
              const res = await call(op.user, 'POST', '/api/v1/datasets', { name });
              assert.equal(res.status, 200, step);
              const tenant = world.active.get(uid) ?? null;
              const existing = world.datasets.find((d) => d.creator === uid && d.name === name && d.tenant === tenant);
              if (existing) {
                assert.equal(res.body.id, existing.id, `${step}: get-or-create returns the existing dataset`);
              } else {
                assert.equal(res.body.tenantId, tenant, step);
                world.datasets.push({ id: res.body.id, tenant, owner: uid, creator: uid, name });
                for (const p of PERMS) world.acl.add(`${uid}|${p}|${res.body.id}`);
              }
              break;
            }
            case 'grant':
            case 'revoke': {
              const principal = principalOf(op.target);
              const uid = users[op.user]!.id;
              const pool = op.own ? world.datasets.filter((d) => d.owner === uid && d.tenant === (world.active.get(uid) ?? null)) : world.datasets;
              const ids = op.datasets.map((i) => pool[op.own ? i % Math.max(pool.length, 1) : i]?.id).filter((x): x is string => x !== undefined);
              if (!principal || ids.length === 0) break;
              const res = await call(
                op.user,
                op.kind === 'grant' ? 'POST' : 'DELETE',
                `/api/v1/permissions/datasets/${principal}?permission_name=${op.perm}`,
                ids,
              );
              const owns = (id: string) => world.datasets.find((d) => d.id === id)?.owner === uid;
              let expected: number;
              if (!ids.every((id) => world.has(uid, 'share', id))) expected = 403;
              else if (op.kind === 'grant') {
                // D23: only what the caller holds, never to the caller, nor (unless the caller owns every
                // dataset) to a role the caller holds or a tenant the caller belongs to.
                const tenants = world.members.get(uid) ?? new Set<string>();
                const reachesCaller =
                  (op.target.type === 'tenant' && tenants.has(principal)) ||
                  (op.target.type === 'role' && tenants.size > 0 && (world.userRoles.get(uid)?.has(principal) ?? false));
                if (principal === uid) expected = 403;
                else if (!ids.every((id) => world.has(uid, op.perm, id))) expected = 403;
                else if (reachesCaller && !ids.every(owns)) expected = 403;
                else expected = 200;
              } else {
                // D23: the owner's grants are the owner's; no dataset loses its last user holding share.
                const ownerOf = (id: string) => world.datasets.find((d) => d.id === id)?.owner;
                const userIds = new Set(users.map((u) => u.id));
                const lastSharer = (id: string) =>
                  world.acl.has(`${principal}|share|${id}`) && ![...userIds].some((u) => u !== principal && world.acl.has(`${u}|share|${id}`));
                if (ids.some((id) => ownerOf(id) === principal && principal !== uid)) expected = 403;
                else if (op.perm === 'share' && ids.some(lastSharer)) expected = 400;
                else expected = 200;
              }
              assert.equal(res.status, expected, step);
              if (expected === 200 && op.kind === 'grant') {
                const pending = op.target.type === 'user' ? ids.filter((id) => world.needsAcceptance(principal, id)) : [];
                assert.deepEqual(res.body.pending_dataset_ids ?? [], [...new Set(pending)], `${step}: the offers the answer names`);
                for (const id of ids) (pending.includes(id) ? world.offers : world.acl).add(`${principal}|${op.perm}|${id}`);
              }
              if (expected === 200 && op.kind === 'revoke')
                for (const id of ids) for (const set of [world.acl, world.offers]) set.delete(`${principal}|${op.perm}|${id}`);
              break;
            }
            case 'removeMember': {
              const t = world.tenants[op.tenant];
              if (!t) break;
              const uid = users[op.user]!.id;
              const by = users[op.by]!.id;
              const res = await call(op.by, 'DELETE', `/api/v1/permissions/tenants/${t.id}/users/${uid}`);
              let expected: number;
              if (!world.canManage(by, t.id)) expected = 403;
              else if (t.owner === uid) expected = 400;
              else if (!(world.members.get(uid)?.has(t.id) ?? false)) expected = 404;
              else expected = 200;
              assert.equal(res.status, expected, step);
              if (expected === 200) {
                world.members.get(uid)!.delete(t.id);
                for (const r of world.roles.filter((x) => x.tenant === t.id)) world.userRoles.get(uid)?.delete(r.id);
                const inTenant = world.datasets.filter((x) => x.tenant === t.id);
                const sharedBy = inTenant.filter((d) => world.acl.has(`${uid}|share|${d.id}`));
                for (const d of inTenant) for (const p of PERMS) world.acl.delete(`${uid}|${p}|${d.id}`);
                if (world.active.get(uid) === t.id) world.active.set(uid, null);
                // D23: a dataset left with no user holding share goes to the tenant's owner.
                for (const d of sharedBy) {
                  if (users.some((u) => world.acl.has(`${u.id}|share|${d.id}`))) continue;
                  d.owner = t.owner;
                  for (const p of PERMS) world.acl.add(`${t.owner}|${p}|${d.id}`);
                }
              }
              break;
            }
            case 'deleteDataset': {
              const d = world.datasets[op.dataset];
              if (!d) break;
              const uid = users[op.user]!.id;
              const res = await call(op.user, 'DELETE', `/api/v1/datasets/${d.id}`);
              const allowed = world.has(uid, 'delete', d.id);
              assert.equal(res.status, allowed ? 200 : 403, step);
              if (allowed) {
                world.datasets = world.datasets.filter((x) => x.id !== d.id);
                for (const set of [world.acl, world.offers]) for (const key of [...set]) if (key.endsWith(`|${d.id}`)) set.delete(key);
              }
              break;
            }
            case 'accept':
            case 'decline':
            case 'drop': {
              // Mostly a (user, dataset) pair where the user received something, so that not every answer is 404.
              const holds = (u: number, d: { id: string; owner: string }) =>
                d.owner !== users[u]!.id && PERMS.some((p) => [world.acl, world.offers].some((set) => set.has(`${users[u]!.id}|${p}|${d.id}`)));
              const pairs = users.flatMap((_, u) => world.datasets.filter((d) => holds(u, d)).map((d) => ({ u, d })));
              const pick = op.received ? pairs[op.dataset % Math.max(pairs.length, 1)] : { u: op.user, d: world.datasets[op.dataset] };
              if (!pick?.d) break;
              const { u: actorIndex, d } = pick;
              const uid = users[actorIndex]!.id;
              const path = `/api/v1/permissions/shares/received/${d.id}`;
              const res = await call(actorIndex, op.kind === 'drop' ? 'DELETE' : 'POST', op.kind === 'drop' ? path : `${path}/${op.kind}`);
              const mine = (set: Set<string>) => PERMS.filter((p) => set.has(`${uid}|${p}|${d.id}`));
              const [held, offered] = [mine(world.acl), mine(world.offers)];
              let expected: number;
              if (op.kind === 'accept') expected = d.owner !== uid && held.length + offered.length > 0 ? 200 : 404;
              else if (op.kind === 'decline') expected = offered.length > 0 ? 200 : 404;
              else if (d.owner === uid) expected = 400;
              else if (held.length + offered.length === 0) expected = 404;
              else {
                const otherSharer = users.some((u) => u.id !== uid && world.acl.has(`${u.id}|share|${d.id}`));
                expected = held.includes('share') && !otherSharer ? 400 : 200;
              }
              assert.equal(res.status, expected, step);
              if (expected === 200) {
                for (const p of offered) world.offers.delete(`${uid}|${p}|${d.id}`);
                if (op.kind === 'accept') for (const p of offered) world.acl.add(`${uid}|${p}|${d.id}`);
                if (op.kind === 'drop') for (const p of held) world.acl.delete(`${uid}|${p}|${d.id}`);
              }
              const listed = await call(actorIndex, 'GET', '/api/v1/permissions/shares/received');
              assert.equal(listed.status, 200, step);
              const got = (listed.body as { dataset_id: string; status: string; permissions: string[] }[])
                .map((r) => `${r.dataset_id}|${r.status}|${r.permissions.join(',')}`)
                .sort();
              assert.deepEqual(got, world.received(uid), `${step}: the shares the user received`);
              break;
            }
            case 'principalDatasets': {
              const principal = principalOf(op.target);
              if (!principal) break;
              const uid = users[op.user]!.id;
              const res = await call(op.user, 'GET', `/api/v1/permissions/principals/${principal}/datasets?permission_name=read`);
              const active = world.active.get(uid) ?? null;
              let expected: number;
              if (op.target.type === 'user') {
                expected = principal === uid ? 200 : active === null ? 404 : world.canManage(uid, active) ? 200 : 403;
              } else if (op.target.type === 'role') {
                const role = world.roles.find((r) => r.id === principal)!;
                const holds = (world.members.get(uid)?.size ?? 0) > 0 && (world.userRoles.get(uid)?.has(role.id) ?? false);
                expected = active === null || role.tenant !== active ? 404 : holds || world.canManage(uid, active) ? 200 : 403;
              } else {
                expected = principal === active ? 200 : 403;
              }
              assert.equal(res.status, expected, step);
              if (expected === 200) {
                const got = (res.body as { id: string }[]).map((d) => d.id).sort();
                const want = world.datasets
                  .filter((d) => d.tenant === active && world.acl.has(`${principal}|read|${d.id}`))
                  .map((d) => d.id)
                  .sort();
                assert.deepEqual(got, want, `${step}: the principal's own grants in the active tenant`);
              }
              break;
            }
          }
          await check(step);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
