import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, type Actor, type Client, type TestServer } from '../helpers/harness.js';

/**
 * Agent connections as the agent plugins drive them (register when a session starts, read
 * `/connections/me` for the identity and whether it is still registered, unregister at exit): the
 * reference's shapes and status codes, liveness, validation, and isolation between users, agents
 * of different users with the same names, and tenants. Timestamps are set in the database, never
 * waited for.
 */
const CONNECTION_KEYS = [
  'agent_session_name',
  'datasets',
  'id',
  'last_active_at',
  'memory_mode',
  'metadata',
  'origin_function',
  'session_id',
  'source',
  'status',
  'tenant_id',
  'type',
  'user_id',
];
const NOT_FOUND = { detail: 'connection not found' };

describe('agent connections (register, unregister, connections)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true', REQUIRE_AUTHENTICATION: 'true' } });
  });
  after(() => server.close());

  const anon = (): Client => server.client();
  const key = (apiKey: string) => ({ apiKey, cookies: false as const });
  const createAgent = async (a: Actor, name: string) => {
    const res = await a.c.post(`/api/v1/agents/create?name=${encodeURIComponent(name)}`, asActor(a));
    assert.equal(res.status, 200, res.text);
    return { id: res.body.agentId as string, key: res.body.agentApiKey as string };
  };
  /** The body a coding-agent plugin (Claude Code, Codex, OpenClaw) registers with at session start. */
  const pluginRegistration = (name: string, extra: Record<string, unknown> = {}) => ({
    agent_session_name: name,
    type: 'api',
    memory_mode: 'hybrid',
    source: 'api',
    ...extra,
  });
  const register = async (auth: object, body: unknown) => {
    const res = await anon().post('/api/v1/agents/register', { json: body, ...auth });
    assert.equal(res.status, 201, res.text);
    return res.body;
  };
  const me = (auth: object, name?: string) =>
    anon().get(`/api/v1/agents/connections/me${name === undefined ? '' : `?agent_session_name=${encodeURIComponent(name)}`}`, auth);
  const list = (auth: object, query = '') => anon().get(`/api/v1/agents/connections${query}`, auth);

  it('a plugin registers, reads its connection, unregisters; a new registration makes it active again', async () => {
    const owner = await signUpActor(server, 'ac-owner');
    const agent = await createAgent(owner, 'claude-code');
    const handle = `claude-code-${randomUUID()}`;
    const conn = await register(
      key(agent.key),
      pluginRegistration(handle, { session_id: 'cc_session_1', dataset_names: ['claude_sessions'], metadata: { host: 'a' } }),
    );
    assert.deepEqual(Object.keys(conn).sort(), CONNECTION_KEYS);
    assert.match(conn.id, /^claude-code-[0-9a-f-]+-[0-9a-f]{16}$/);
    assert.equal(conn.agent_session_name, handle);
    assert.equal(conn.user_id, agent.id);
    assert.equal(conn.tenant_id, null);
    assert.equal(conn.status, 'active');
    assert.equal(conn.memory_mode, 'hybrid');
    assert.equal(conn.session_id, 'cc_session_1');
    assert.deepEqual(conn.datasets, [{ id: null, name: 'claude_sessions', role: 'read_write', type: 'dataset' }]);
    assert.ok(!Number.isNaN(Date.parse(conn.last_active_at)));

    // What the plugins read back: the agent's identity, tenant, status, session and datasets.
    const detail = await me(key(agent.key), handle);
    assert.equal(detail.status, 200, detail.text);
    assert.deepEqual(Object.keys(detail.body).sort(), ['agent', 'memory_sources', 'recent_qas', 'recent_sessions', 'recent_traces']);
    assert.deepEqual(detail.body.agent, conn);
    assert.deepEqual([detail.body.recent_sessions, detail.body.recent_traces, detail.body.recent_qas], [[], [], []]);
    // Once the session holds turns, the agent's own detail shows the recent ones; its creator's view does not (a session is its user's only).
    const stored = await anon().post('/api/v1/remember/entry', {
      json: { entry: { type: 'qa', question: 'build?', answer: 'green' }, session_id: 'cc_session_1' },
      ...key(agent.key),
    });
    assert.equal(stored.status, 200, stored.text);
    const hydrated = await me(key(agent.key), handle);
    assert.deepEqual(hydrated.body.recent_sessions, [{ session_id: 'cc_session_1', user_id: agent.id }]);
    assert.deepEqual(
      hydrated.body.recent_qas.map((q: { answer: string }) => q.answer),
      ['green'],
    );
    const byCreator = await owner.c.get(`/api/v1/agents/connections/${agent.id}?agent_session_name=${handle}`, asActor(owner));
    assert.equal(byCreator.status, 200, byCreator.text);
    assert.deepEqual([byCreator.body.recent_sessions, byCreator.body.recent_qas], [[], []]);
    assert.equal((await me(key(agent.key))).body.agent.id, conn.id, 'without a name: the latest connection');

    // Unregistering answers the caller's active connections left, camelCase as the reference's DTO.
    const gone = await anon().post('/api/v1/agents/unregister', { json: { agent_session_name: handle }, ...key(agent.key) });
    assert.equal(gone.status, 200, gone.text);
    assert.deepEqual(gone.body, { activeAgents: 0 });
    assert.deepEqual((await me(key(agent.key), handle)).body, NOT_FOUND);
    assert.equal((await me(key(agent.key), handle)).status, 404);
    const inactive = await list(key(agent.key), '?active_only=false');
    assert.deepEqual(
      inactive.body.agents.map((a: { id: string; status: string }) => [a.id, a.status]),
      [[conn.id, 'inactive']],
    );
    assert.equal((await list(key(agent.key))).body.total, 0, 'active only by default');
    assert.equal((await list(key(agent.key), '?active_only=false&status=inactive')).body.total, 1);

    // Registering again: the same connection, active, metadata merged over the stored one.
    const again = await register(key(agent.key), pluginRegistration(handle, { metadata: { pid: 7 } }));
    assert.equal(again.id, conn.id);
    assert.equal(again.status, 'active');
    assert.deepEqual(again.metadata, { host: 'a', pid: 7 });
    assert.equal(again.session_id, null);

    // Unregistering a name never registered changes nothing and is not an error.
    const unknown = await anon().post('/api/v1/agents/unregister', { json: { agent_session_name: 'never-registered' }, ...key(agent.key) });
    assert.deepEqual([unknown.status, unknown.body], [200, { activeAgents: 1 }]);
  });

  it('registrations as Hermes, Vellum and OpenClaw send them get the reference defaults', async () => {
    const user = await signUpActor(server, 'ac-defaults');
    const hermes = await register(asActor(user), { agent_session_name: 'hermes-1', type: 'api', source: 'api' });
    assert.deepEqual([hermes.memory_mode, hermes.datasets, hermes.metadata, hermes.origin_function], ['unknown', [], {}, null]);
    const vellum = await register(asActor(user), {
      agent_session_name: 'vellum-1',
      dataset_names: ['vellum_sessions', 'project notes'],
      type: 'api',
      memory_mode: 'hybrid',
    });
    assert.equal(vellum.source, 'api');
    assert.deepEqual(
      vellum.datasets.map((d: { name: string; type: string }) => [d.name, d.type]),
      [
        ['vellum_sessions', 'dataset'],
        ['project notes', 'project_dataset'],
      ],
    );
    const bare = await register(asActor(user), { agent_session_name: '!!!' });
    assert.deepEqual([bare.type, bare.source, bare.status], ['api', 'api', 'active']);
    assert.match(bare.id, /^agent-[0-9a-f]{16}$/, 'a name with no slug characters: the reference’s `agent` base');
    const camel = await register(asActor(user), { agentSessionName: 'camel-1', memoryMode: 'session', datasetIds: [randomUUID()] });
    assert.deepEqual([camel.agent_session_name, camel.memory_mode, camel.datasets[0].role], ['camel-1', 'session', 'read_write']);
  });

  it('the listing: the caller’s and their agents’ connections, newest first, with readable datasets as memory sources', async () => {
    const owner = await signUpActor(server, 'ac-lister');
    const agent = await createAgent(owner, 'codex');
    const ds = await owner.c.post('/api/v1/datasets', { json: { name: 'team-wiki' }, ...asActor(owner) });
    assert.equal(ds.status, 200, ds.text);
    const own = await register(asActor(owner), pluginRegistration('owner-session', { dataset_ids: [ds.body.id] }));
    const agents = await register(key(agent.key), pluginRegistration('codex-session'));
    const db = server.engram.store.db;
    await db.updateTable('agent_connections').set({ last_active_at: '2026-01-01T00:00:00.000Z' }).where('id', '=', own.id).execute();
    await db.updateTable('agent_connections').set({ last_active_at: '2026-01-02T00:00:00.000Z' }).where('id', '=', agents.id).execute();

    const res = await list(asActor(owner));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['agents', 'has_more', 'limit', 'memory_sources', 'offset', 'total']);
    assert.deepEqual(
      res.body.agents.map((a: { id: string }) => a.id),
      [agents.id, own.id],
    );
    assert.deepEqual([res.body.total, res.body.limit, res.body.offset, res.body.has_more], [2, 50, 0, false]);
    assert.deepEqual(res.body.memory_sources, [
      {
        id: ds.body.id,
        name: 'team-wiki',
        type: 'knowledge_wiki',
        owner_id: owner.id,
        tenant_id: null,
        status: 'active',
        connected_agent_ids: [own.id],
        metadata: {},
      },
    ]);
    const page = await list(asActor(owner), '?limit=1&offset=0&include_sources=false&range=7d');
    assert.deepEqual([page.body.agents.length, page.body.has_more, page.body.memory_sources], [1, true, []]);
    const filtered = await list(asActor(owner), `?agent_id=${agent.id.toUpperCase()}`);
    assert.deepEqual(
      filtered.body.agents.map((a: { id: string }) => a.id),
      [agents.id],
    );
    // The owner reads its agent's connection by the agent's id; the agent sees only its own.
    const detail = await anon().get(`/api/v1/agents/connections/${agent.id}`, asActor(owner));
    assert.equal(detail.status, 200, detail.text);
    assert.equal(detail.body.agent.id, agents.id);
    assert.deepEqual(
      (await list(key(agent.key))).body.agents.map((a: { id: string }) => a.id),
      [agents.id],
    );
    assert.equal((await anon().get(`/api/v1/agents/connections/${owner.id}`, key(agent.key))).status, 404, 'an agent does not see its creator’s');
  });

  it('last_active_at follows the use of the user’s API keys; a stale use does not move it back', async () => {
    const owner = await signUpActor(server, 'ac-live');
    const agent = await createAgent(owner, 'opencode');
    const conn = await register(key(agent.key), pluginRegistration('opencode-1'));
    const db = server.engram.store.db;
    await db.updateTable('agent_connections').set({ last_active_at: '2026-03-01T10:00:00.000Z' }).where('id', '=', conn.id).execute();
    await db.updateTable('user_api_key').set({ last_used_at: '2026-03-01T12:30:00.000Z' }).where('user_id', '=', agent.id).execute();
    assert.equal((await list(asActor(owner))).body.agents[0].last_active_at, '2026-03-01T12:30:00.000Z');
    await db.updateTable('user_api_key').set({ last_used_at: '2026-02-01T00:00:00.000Z' }).where('user_id', '=', agent.id).execute();
    assert.equal((await list(asActor(owner))).body.agents[0].last_active_at, '2026-03-01T10:00:00.000Z');
  });

  it('a deactivated agent’s connections are inactive; a user keeps at most MAX connections, the least recently active inactive ones going first', async () => {
    const owner = await signUpActor(server, 'ac-bounds');
    const agent = await createAgent(owner, 'bounded');
    const conn = await register(key(agent.key), pluginRegistration('live-one'));
    const db = server.engram.store.db;
    await db.updateTable('users').set({ is_active: false }).where('id', '=', agent.id).execute();
    assert.equal((await list(asActor(owner))).body.total, 0, 'no longer active');
    assert.deepEqual(
      (await list(asActor(owner), '?active_only=false')).body.agents.map((a: { id: string; status: string }) => [a.id, a.status]),
      [[conn.id, 'inactive']],
    );
    await db.updateTable('users').set({ is_active: true }).where('id', '=', agent.id).execute();
    assert.equal((await list(asActor(owner))).body.agents[0].status, 'active');

    // Fill up to the limit: one old active connection, the rest inactive, the oldest inactive first to go.
    const row = (i: number, status: 'active' | 'inactive', at: string) => ({
      id: `filler-${i}-${agent.id}`,
      user_id: agent.id,
      tenant_id: null,
      agent_session_name: `filler-${i}`,
      type: 'api',
      memory_mode: 'unknown',
      source: 'api',
      origin_function: null,
      session_id: null,
      datasets: '[]',
      metadata: '{}',
      status,
      created_at: at,
      last_active_at: at,
    });
    await db
      .insertInto('agent_connections')
      .values([
        row(0, 'active', '2000-01-01T00:00:00.000Z'),
        ...Array.from({ length: 198 }, (_, i) => row(i + 1, 'inactive', new Date(Date.UTC(2001, 0, 1, 0, i)).toISOString())),
      ])
      .execute();
    const count = async () => (await db.selectFrom('agent_connections').select('id').where('user_id', '=', agent.id).execute()).map((r) => r.id);
    assert.equal((await count()).length, 200);
    await register(key(agent.key), pluginRegistration('one-more'));
    const left = await count();
    assert.equal(left.length, 200);
    assert.ok(!left.includes(`filler-1-${agent.id}`), 'the least recently active inactive one went');
    assert.ok(left.includes(`filler-0-${agent.id}`) && left.includes(conn.id), 'active ones stay');
    await register(key(agent.key), pluginRegistration('one-more'));
    assert.equal((await count()).length, 200, 'registering again adds nothing');
  });

  it('concurrent first registrations of one name make one connection; metadata that would outgrow its limit is replaced', async () => {
    const user = await signUpActor(server, 'ac-race');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        anon().post('/api/v1/agents/register', { json: pluginRegistration('racer', { metadata: { [`k${i}`]: i } }), ...asActor(user) }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(6).fill(201),
      results.map((r) => r.text).join('\n'),
    );
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1);
    const listed = await list(asActor(user));
    assert.equal(listed.body.total, 1);
    assert.equal(Object.keys(listed.body.agents[0].metadata).length >= 1, true);

    const big = (tag: string) => ({ [tag]: tag.repeat(10 * 1024) });
    await register(asActor(user), pluginRegistration('meta', { metadata: big('a') }));
    const merged = await register(asActor(user), pluginRegistration('meta', { metadata: { small: 1 } }));
    assert.deepEqual(Object.keys(merged.metadata).sort(), ['a', 'small'], 'merged while it fits');
    const replaced = await register(asActor(user), pluginRegistration('meta', { metadata: big('b') }));
    assert.deepEqual(Object.keys(replaced.metadata), ['b'], 'past 16 KiB the new metadata replaces the stored');
  });

  it('the same agent and session names for two users and in two tenants stay apart', async () => {
    const alice = await signUpActor(server, 'ac-alice');
    const bob = await signUpActor(server, 'ac-bob');
    const aliceAgent = await createAgent(alice, 'claude-code');
    const bobAgent = await createAgent(bob, 'claude-code');
    const a = await register(key(aliceAgent.key), pluginRegistration('shared-name'));
    const b = await register(key(bobAgent.key), pluginRegistration('shared-name'));
    assert.notEqual(a.id, b.id);
    for (const [user, agent, mine, theirs] of [
      [alice, aliceAgent, a, bobAgent],
      [bob, bobAgent, b, aliceAgent],
    ] as const) {
      assert.deepEqual(
        (await list(asActor(user))).body.agents.map((c: { id: string }) => c.id),
        [mine.id],
      );
      assert.equal((await me(key(agent.key), 'shared-name')).body.agent.id, mine.id);
      // A foreign agent's id answers exactly as an unknown one.
      const foreign = await anon().get(`/api/v1/agents/connections/${theirs.id}`, asActor(user));
      const unknown = await anon().get(`/api/v1/agents/connections/${randomUUID()}`, asActor(user));
      assert.deepEqual([foreign.status, foreign.body], [404, NOT_FOUND]);
      assert.deepEqual([unknown.status, unknown.body], [404, NOT_FOUND]);
      assert.equal((await list(asActor(user), `?agent_id=${theirs.id}`)).body.total, 0);
    }
    // Bob unregistering the shared name leaves Alice's agent's connection active.
    await anon().post('/api/v1/agents/unregister', { json: { agent_session_name: 'shared-name' }, ...asActor(bob) });
    await anon().post('/api/v1/agents/unregister', { json: { agent_session_name: 'shared-name' }, ...key(bobAgent.key) });
    assert.equal((await me(key(aliceAgent.key), 'shared-name')).body.agent.status, 'active');

    // One user, one name, personal space and two tenants: three connections, each seen in its own place.
    const personal = await register(asActor(alice), pluginRegistration('laptop'));
    const select = async (tenantId: string | null) => {
      const res = await alice.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(alice) });
      assert.equal(res.status, 200, res.text);
    };
    const t1 = (await alice.c.post('/api/v1/permissions/tenants?tenant_name=ac-org-1', asActor(alice))).body.tenant_id as string;
    const inT1 = await register(asActor(alice), pluginRegistration('laptop'));
    const t2 = (await alice.c.post('/api/v1/permissions/tenants?tenant_name=ac-org-2', asActor(alice))).body.tenant_id as string;
    const inT2 = await register(asActor(alice), pluginRegistration('laptop'));
    assert.deepEqual([personal.tenant_id, inT1.tenant_id, inT2.tenant_id], [null, t1, t2]);
    assert.equal(new Set([personal.id, inT1.id, inT2.id]).size, 3);
    const names = async () => (await list(asActor(alice))).body.agents.map((c: { id: string }) => c.id);
    assert.deepEqual(await names(), [inT2.id]);
    await anon().post('/api/v1/agents/unregister', { json: { agent_session_name: 'laptop' }, ...asActor(alice) });
    await select(t1);
    assert.deepEqual(await names(), [inT1.id], 'unregistering in one tenant leaves the other');
    await select(null);
    assert.deepEqual((await names()).sort(), [a.id, personal.id].sort());
    // Bob in his own tenant with the same names sees none of Alice's.
    await bob.c.post('/api/v1/permissions/tenants?tenant_name=ac-org-1', asActor(bob));
    assert.deepEqual((await list(asActor(bob))).body.agents, []);
  });

  it('/agents/connections is not taken for an agent id, and the agent routes still answer', async () => {
    const owner = await signUpActor(server, 'ac-routes');
    const agent = await createAgent(owner, 'router-check');
    for (const path of ['/api/v1/agents/connections', '/api/v1/agents/connections/']) {
      const res = await anon().get(path, asActor(owner));
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.ok(Array.isArray(res.body.agents));
    }
    const one = await anon().get(`/api/v1/agents/${agent.id}`, asActor(owner));
    assert.deepEqual([one.status, one.body.agentId], [200, agent.id]);
    assert.equal((await anon().get('/api/v1/agents/list', asActor(owner))).status, 200);
    // Deleting the agent (D24) takes its connections with it.
    await register(key(agent.key), pluginRegistration('doomed'));
    assert.equal((await list(asActor(owner))).body.total, 1);
    assert.equal((await anon().delete(`/api/v1/agents/${agent.id}`, asActor(owner))).status, 200);
    assert.equal((await list(asActor(owner), '?active_only=false')).body.total, 0);
    assert.equal((await server.engram.store.db.selectFrom('agent_connections').select('id').where('user_id', '=', agent.id).execute()).length, 0);
  });

  it('refuses malformed input with the reference’s envelope naming the field, and asks for a credential', async () => {
    const user = await signUpActor(server, 'ac-invalid');
    const bad = async (body: unknown, loc: (string | number)[]) => {
      const res = await anon().post('/api/v1/agents/register', { json: body, ...asActor(user) });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.body.detail[0].loc, loc, res.text);
    };
    await bad({}, ['body', 'agent_session_name']);
    await bad({ agent_session_name: '' }, ['body', 'agent_session_name']);
    await bad({ agent_session_name: 'x'.repeat(201) }, ['body', 'agent_session_name']);
    await bad({ agent_session_name: 'a\u0007b' }, ['body', 'agent_session_name']);
    await bad({ agent_session_name: 'x', memory_mode: 'forever' }, ['body', 'memory_mode']);
    await bad({ agent_session_name: 'x', source: 'cron' }, ['body', 'source']);
    await bad({ agent_session_name: 'x', type: 'y'.repeat(65) }, ['body', 'type']);
    await bad({ agent_session_name: 'x', dataset_names: Array.from({ length: 101 }, (_, i) => `d${i}`) }, ['body', 'dataset_names']);
    await bad({ agent_session_name: 'x', metadata: { blob: 'z'.repeat(17 * 1024) } }, ['body', 'metadata']);
    await bad({ agent_session_name: 'x', metadata: ['not', 'an', 'object'] }, ['body', 'metadata']);
    const unregister = await anon().post('/api/v1/agents/unregister', { json: {}, ...asActor(user) });
    assert.deepEqual([unregister.status, unregister.body.detail[0].loc], [400, ['body', 'agent_session_name']]);
    for (const [query, field] of [
      ['?limit=0', 'limit'],
      ['?limit=501', 'limit'],
      ['?offset=-1', 'offset'],
      ['?range=1y', 'range'],
      ['?status=idle', 'status'],
      ['?active_only=maybe', 'active_only'],
      ['?agent_id=nope', 'agent_id'],
    ]) {
      const res = await list(asActor(user), query);
      assert.deepEqual([res.status, res.body.detail?.[0]?.loc], [400, ['query', field]], `${query}: ${res.text}`);
    }
    const path = await anon().get('/api/v1/agents/connections/not-a-uuid', asActor(user));
    assert.deepEqual([path.status, path.body.detail[0].loc], [400, ['path', 'agent_id']]);
    assert.equal((await list(asActor(user))).body.total, 0, 'nothing was stored');
    for (const res of [await list({ cookies: false }), await anon().post('/api/v1/agents/register', { json: { agent_session_name: 'x' }, cookies: false })]) {
      assert.equal(res.status, 401);
    }
  });
});

describe('agent connections on a server without authentication (a local plugin)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'false', REQUIRE_AUTHENTICATION: 'false' } });
  });
  after(() => server.close());

  it('an anonymous plugin registers as the default user, reads its connection back and unregisters', async () => {
    const c = server.client();
    const registered = await c.post('/api/v1/agents/register', { json: { agent_session_name: 'local-1', type: 'api', memory_mode: 'hybrid', source: 'api' } });
    assert.equal(registered.status, 201, registered.text);
    assert.equal(registered.body.user_id, (await server.engram.auth.users.findByEmail('default_user@example.com'))!.id);
    const detail = await c.get('/api/v1/agents/connections/me?agent_session_name=local-1');
    assert.deepEqual([detail.status, detail.body.agent.id, detail.body.agent.status], [200, registered.body.id, 'active']);
    assert.deepEqual((await c.post('/api/v1/agents/unregister', { json: { agent_session_name: 'local-1' } })).body, { activeAgents: 0 });
    assert.equal((await c.get('/api/v1/agents/connections/me?agent_session_name=local-1')).status, 404);
  });
});
