import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * The session isolation oracle: random worlds of users writing turns under a few shared session ids,
 * creating tenants and switching between them, played over HTTP; every read (recall from a session,
 * a session's detail, the session listing) is checked against a model written from the rule alone:
 *   session(u, t, id) = the turns u wrote under id while t was u's active tenant.
 * No leak (a turn of another user or tenant), no false denial (a missing turn of one's own).
 */
const RUNS = Number(process.env.ORACLE_RUNS ?? 8);
const USERS = 3;
const IDS = ['s0', 's1', 's2'];

type Op =
  | { kind: 'write'; user: number; sid: number }
  | { kind: 'createTenant'; user: number }
  | { kind: 'select'; user: number; tenant: number | null }
  | { kind: 'recall' | 'detail' | 'list'; user: number; sid: number };

const idx = (max: number) => fc.nat({ max });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), user: idx(USERS - 1), sid: idx(IDS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('createTenant' as const), user: idx(USERS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('select' as const), user: idx(USERS - 1), tenant: fc.option(idx(3), { nil: null }) }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constantFrom('recall' as const, 'detail' as const, 'list' as const), user: idx(USERS - 1), sid: idx(IDS.length - 1) }),
  },
);

describe('session isolation oracle', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true' } });
  });
  after(async () => {
    await server.close();
  });

  it(`${RUNS} random worlds: every read shows exactly the caller's own turns in the active tenant`, async () => {
    let world = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 30 }), async (ops) => {
        world += 1;
        const users: Actor[] = [];
        for (let i = 0; i < USERS; i++) users.push(await signUpActor(server, `so${world}u${i}`));
        // Each world's session ids are its own, so worlds never see each other.
        const sidOf = (i: number) => `w${world}-${IDS[i]}`;
        const tenants: { id: string; owner: number }[] = [];
        const active = new Map<number, string | null>();
        const turns = new Map<string, string[]>();
        const key = (u: number, sid: string) => `${u}|${active.get(u) ?? ''}|${sid}`;
        const call = (u: number, method: 'GET' | 'POST', path: string, json?: unknown) =>
          method === 'GET'
            ? users[u]!.c.get(path, { bearer: users[u]!.token, cookies: false })
            : users[u]!.c.post(path, { json, bearer: users[u]!.token, cookies: false });
        let written = 0;
        for (const [n, op] of ops.entries()) {
          const step = `world ${world} op ${n} ${JSON.stringify(op)}`;
          switch (op.kind) {
            case 'write': {
              const answer = `marker${world}x${++written}`;
              const res = await call(op.user, 'POST', '/api/v1/remember/entry', { entry: { type: 'qa', question: 'note', answer }, session_id: sidOf(op.sid) });
              assert.equal(res.status, 200, `${step}: ${res.text}`);
              const k = key(op.user, sidOf(op.sid));
              turns.set(k, [...(turns.get(k) ?? []), answer]);
              break;
            }
            case 'createTenant': {
              const res = await call(op.user, 'POST', `/api/v1/permissions/tenants?tenant_name=so${world}t${tenants.length}`);
              assert.equal(res.status, 200, `${step}: ${res.text}`);
              tenants.push({ id: res.body.tenant_id, owner: op.user });
              active.set(op.user, res.body.tenant_id);
              break;
            }
            case 'select': {
              const t = op.tenant === null ? null : tenants[op.tenant];
              if (t === undefined) break;
              // Only a tenant's owner is its member here.
              if (t !== null && t.owner !== op.user) break;
              const res = await call(op.user, 'POST', '/api/v1/permissions/tenants/select', { tenant_id: t?.id ?? null });
              assert.equal(res.status, 200, `${step}: ${res.text}`);
              active.set(op.user, t?.id ?? null);
              break;
            }
            case 'recall': {
              const res = await call(op.user, 'POST', '/api/v1/recall', { query: '', session_id: sidOf(op.sid), scope: 'session', top_k: 100 });
              assert.equal(res.status, 200, `${step}: ${res.text}`);
              const got = (res.body as { answer: string }[]).map((e) => e.answer).sort();
              assert.deepEqual(got, [...(turns.get(key(op.user, sidOf(op.sid))) ?? [])].sort(), step);
              break;
            }
            case 'detail': {
              const res = await call(op.user, 'GET', `/api/v1/sessions/${sidOf(op.sid)}`);
              const expected = turns.get(key(op.user, sidOf(op.sid)));
              assert.equal(res.status, expected ? 200 : 404, `${step}: ${res.text}`);
              if (expected) assert.deepEqual((res.body.qas as { answer: string }[]).map((e) => e.answer).sort(), [...expected].sort(), step);
              break;
            }
            case 'list': {
              const res = await call(op.user, 'GET', '/api/v1/sessions?range=all&limit=500');
              assert.equal(res.status, 200, `${step}: ${res.text}`);
              const got = (res.body.sessions as { session_id: string }[]).map((s) => s.session_id).sort();
              const prefix = `${op.user}|${active.get(op.user) ?? ''}|`;
              const expected = [...turns.keys()]
                .filter((k) => k.startsWith(prefix))
                .map((k) => k.slice(prefix.length))
                .sort();
              assert.deepEqual(got, expected, step);
              break;
            }
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});
