import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startOpenAIStub, type OpenAIStub } from '../helpers/openai-stub.js';
import { asActor, signUpActor, startTestServer, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * `/api/v1/activity`: the reference's shapes, limited to what the caller may see (the reference
 * shows every user and every request to anyone). Liveness is checked by setting timestamps in the
 * database, never by waiting.
 */
const ADMIN_EMAIL = 'default_user@example.com';
const ADMIN_PASSWORD = 'Admin-activity-5821!';
const DOC = 'Ada Lovelace worked with Charles Babbage in London.\n\nBabbage designed the Analytical Engine.';
const RUN_KEYS = ['created_at', 'dataset_id', 'dataset_name', 'id', 'owner_email', 'owner_id', 'pipeline_name', 'pipeline_run_id', 'status'];

describe('activity (pipeline runs, users, agents, spans, export)', () => {
  let stub: OpenAIStub;
  let server: TestServer;
  let adminToken: string;
  before(async () => {
    stub = await startOpenAIStub();
    server = await startTestServer({
      env: {
        ENABLE_BACKEND_ACCESS_CONTROL: 'true',
        REQUIRE_AUTHENTICATION: 'true',
        DEFAULT_USER_PASSWORD: ADMIN_PASSWORD,
        LLM_ENDPOINT: stub.url,
        LLM_API_KEY: 'stub-key',
        LLM_MODEL: 'stub-model',
        EMBEDDING_DIMENSIONS: '64',
      },
    });
    adminToken = await server.client().login(ADMIN_EMAIL, ADMIN_PASSWORD);
  });
  after(async () => {
    await server?.close();
    await stub?.close();
  });

  const get = (path: string, auth: object) => server.client().get(path, auth);
  const admin = () => ({ bearer: adminToken, cookies: false as const });
  const ok = async <T extends { status: number; text: string }>(pending: Promise<T>, status = 200): Promise<T> => {
    const res = await pending;
    assert.equal(res.status, status, res.text);
    return res;
  };
  const cognified = async (a: Actor, name: string): Promise<string> => {
    const added = await ok(a.c.post('/api/v1/add_text', { json: { textData: [DOC], datasetName: name }, ...asActor(a) }));
    await ok(a.c.post('/api/v1/cognify', { json: { datasetIds: [added.body.dataset_id] }, ...asActor(a) }));
    return added.body.dataset_id as string;
  };
  const createAgent = async (a: Actor, name: string) => {
    const res = await ok(a.c.post(`/api/v1/agents/create?name=${encodeURIComponent(name)}`, asActor(a)));
    return { id: res.body.agentId as string, key: res.body.agentApiKey as string };
  };

  it('pipeline runs: the readable datasets’ latest 50 status changes with their owner; a named foreign dataset is 403', async () => {
    const alice = await signUpActor(server, 'act-runs');
    const bob = await signUpActor(server, 'act-runs-other');
    const datasetId = await cognified(alice, 'alpha');
    const runs = (await ok(get('/api/v1/activity/pipeline-runs', asActor(alice)))).body as Record<string, unknown>[];
    assert.ok(runs.length >= 4, 'add and cognify, started and completed');
    for (const run of runs) {
      assert.deepEqual(Object.keys(run).sort(), RUN_KEYS);
      assert.deepEqual([run.dataset_id, run.dataset_name, run.owner_id, run.owner_email], [datasetId, 'alpha', alice.id, alice.email]);
    }
    assert.deepEqual([...new Set(runs.map((r) => r.pipeline_name))].sort(), ['add_pipeline', 'cognify_pipeline']);
    assert.equal(runs[0]!.status, 'DATASET_PROCESSING_COMPLETED');
    assert.equal(runs[0]!.pipeline_name, 'cognify_pipeline', 'newest first');
    assert.deepEqual((await ok(get(`/api/v1/activity/pipeline-runs?dataset_id=${datasetId.toUpperCase()}`, asActor(alice)))).body, runs);

    // Another user: nothing readable is an empty feed; naming Alice's dataset (or an unknown one) is refused alike.
    assert.deepEqual((await ok(get('/api/v1/activity/pipeline-runs', asActor(bob)))).body, []);
    const foreign = await ok(get(`/api/v1/activity/pipeline-runs?dataset_id=${datasetId}`, asActor(bob)), 403);
    const unknown = await ok(get(`/api/v1/activity/pipeline-runs?dataset_id=${randomUUID()}`, asActor(bob)), 403);
    assert.deepEqual(foreign.body, unknown.body);
    assert.match(foreign.body.detail, /PermissionDeniedError/);
    const invalid = await ok(get('/api/v1/activity/pipeline-runs?dataset_id=nope', asActor(alice)), 400);
    assert.deepEqual(invalid.body.detail[0].loc, ['query', 'dataset_id']);

    // More than 50 rows: the latest 50.
    const db = server.engram.store.db;
    await db
      .insertInto('pipeline_runs')
      .values(
        Array.from({ length: 60 }, (_, i) => ({
          id: randomUUID(),
          pipeline_run_id: randomUUID(),
          pipeline_id: randomUUID(),
          pipeline_name: 'cognify_pipeline',
          dataset_id: datasetId,
          status: 'DATASET_PROCESSING_STARTED',
          run_info: '{}',
          created_at: new Date(Date.UTC(2099, 0, 1, 0, i)).toISOString(),
          seq: i,
        })),
      )
      .execute();
    const capped = (await ok(get('/api/v1/activity/pipeline-runs', asActor(alice)))).body as { created_at: string }[];
    assert.equal(capped.length, 50);
    assert.equal(capped[0]!.created_at, new Date(Date.UTC(2099, 0, 1, 0, 59)).toISOString());
    assert.equal(capped[49]!.created_at, new Date(Date.UTC(2099, 0, 1, 0, 10)).toISOString());
  });

  it('export: the reference’s Markdown report of a readable dataset, as an attachment; anyone else 403', async () => {
    const owner = await signUpActor(server, 'act-export');
    const stranger = await signUpActor(server, 'act-export-other');
    const datasetId = await cognified(owner, 'brain');
    const graph = (await ok(get(`/api/v1/datasets/${datasetId}/graph`, asActor(owner)))).body as {
      nodes: { type: string; label: string }[];
      edges: unknown[];
    };
    const entities = graph.nodes.filter((n) => n.type === 'Entity');
    assert.ok(entities.length > 0 && graph.edges.length > 0, 'the stub model extracted a graph');

    const res = await ok(get(`/api/v1/activity/export/${datasetId}`, asActor(owner)));
    assert.equal(res.headers.get('content-type'), 'text/markdown; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="brain-memory-export.md"; filename*=UTF-8''brain-memory-export.md`);
    const lines = res.text.split('\n');
    assert.deepEqual(lines.slice(0, 2), ['# Dataset: brain', '']);
    assert.match(
      lines[2]!,
      new RegExp(
        `^Exported: [A-Z][a-z]{2} \\d{2}, \\d{4} \\d{2}:\\d{2} UTC \\| 1 documents \\| ${entities.length} entities \\| ${graph.edges.length} relationships$`,
      ),
    );
    const section = (title: string) => lines.indexOf(`## ${title}`);
    assert.ok(section('Summaries') > 0 && section('Summaries') < section('Entities'));
    assert.ok(section('Entities') < section('Relationships') && section('Relationships') < section('Documents'));
    assert.deepEqual(lines.slice(section('Entities') + 2, section('Entities') + 4), ['| Entity | Description |', '|--------|-------------|']);
    for (const e of entities)
      assert.ok(
        lines.some((l) => l.startsWith(`| ${e.label} | `)),
        e.label,
      );
    assert.match(lines[section('Documents') + 2]!, /^- \*\*.+\*\* \(TXT, [A-Z][a-z]{2} \d{2}, \d{4}\)$/);
    assert.equal(lines.at(-1), '', 'sections end with a blank line');

    // A dataset with nothing in it yet: the header line alone.
    const empty = (await ok(owner.c.post('/api/v1/datasets', { json: { name: 'empty' }, ...asActor(owner) }))).body.id as string;
    const bare = (await ok(get(`/api/v1/activity/export/${empty}`, asActor(owner)))).text.split('\n');
    assert.equal(bare.length, 4);
    assert.deepEqual([bare[0], bare[3]], ['# Dataset: empty', '']);
    assert.match(bare[2]!, /\| 0 documents \| 0 entities \| 0 relationships$/);

    const foreign = await ok(get(`/api/v1/activity/export/${datasetId}`, asActor(stranger)), 403);
    const unknown = await ok(get(`/api/v1/activity/export/${randomUUID()}`, asActor(stranger)), 403);
    assert.deepEqual(foreign.body, unknown.body);
    assert.deepEqual((await ok(get('/api/v1/activity/export/nope', asActor(owner)), 400)).body.detail[0].loc, ['path', 'dataset_id']);
  });

  it('users: the active tenant’s members, for its owner or an admin only', async () => {
    const owner = await signUpActor(server, 'act-tenant-owner');
    const member = await signUpActor(server, 'act-tenant-member');
    assert.deepEqual((await ok(get('/api/v1/activity/users', asActor(owner)))).body, [], 'the personal space has no members');
    const tenantId = (await ok(owner.c.post('/api/v1/permissions/tenants?tenant_name=act-org', asActor(owner)))).body.tenant_id as string;
    await ok(owner.c.post(`/api/v1/permissions/users/${member.id}/tenants?tenant_id=${tenantId}`, asActor(owner)));
    const users = (await ok(get('/api/v1/activity/users', asActor(owner)))).body as Record<string, unknown>[];
    assert.deepEqual(users.map((u) => Object.keys(u).sort()).at(0), ['created_at', 'email', 'id', 'is_superuser']);
    assert.deepEqual(users.map((u) => u.id).sort(), [owner.id, member.id].sort());
    assert.ok(users.every((u) => u.is_superuser === false && !Number.isNaN(Date.parse(String(u.created_at)))));
    await ok(member.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: tenantId }, ...asActor(member) }));
    assert.deepEqual((await ok(get('/api/v1/activity/users', asActor(member)))).body, [], 'a plain member sees no list');
  });

  it('agents: you and your agents with LIVE / INACTIVE / NEVER_CONNECTED from the last activity; a superuser sees everyone', async () => {
    const carol = await signUpActor(server, 'act-agents');
    const dave = await signUpActor(server, 'act-agents-other');
    const agent = await createAgent(carol, 'Helper Bot');
    const rows = async (auth: object) => (await ok(get('/api/v1/activity/agents', auth))).body as Record<string, any>[];
    const row = async (auth: object, id: string) => (await rows(auth)).find((r) => r.id === id)!;

    const mine = await rows(asActor(carol));
    assert.deepEqual(mine.map((r) => r.id).sort(), [carol.id, agent.id].sort());
    const agentRow = mine.find((r) => r.id === agent.id)!;
    assert.deepEqual(Object.keys(agentRow).sort(), [
      'agent_short_id',
      'agent_type',
      'api_key_count',
      'created_at',
      'email',
      'id',
      'is_agent',
      'is_default',
      'last_active',
      'status',
    ]);
    assert.deepEqual(
      [agentRow.agent_type, agentRow.agent_short_id, agentRow.is_agent, agentRow.is_default, agentRow.api_key_count, agentRow.status, agentRow.last_active],
      ['helper bot', carol.id, true, false, 1, 'NEVER_CONNECTED', null],
    );
    const carolRow = mine.find((r) => r.id === carol.id)!;
    assert.deepEqual([carolRow.agent_type, carolRow.is_agent, carolRow.status], [carol.email.split('@')[0], false, 'NEVER_CONNECTED']);

    // The agent's key used a minute ago: LIVE; two hours ago: INACTIVE.
    const db = server.engram.store.db;
    const usedAgo = async (ms: number) => {
      const at = new Date(Date.now() - ms).toISOString();
      await db.updateTable('user_api_key').set({ last_used_at: at }).where('user_id', '=', agent.id).execute();
      return at;
    };
    let at = await usedAgo(60_000);
    assert.deepEqual([(await row(asActor(carol), agent.id)).status, (await row(asActor(carol), agent.id)).last_active], ['LIVE', at]);
    at = await usedAgo(2 * 60 * 60_000);
    assert.deepEqual([(await row(asActor(carol), agent.id)).status, (await row(asActor(carol), agent.id)).last_active], ['INACTIVE', at]);
    // Carol adding data makes her LIVE; an old search keeps Dave INACTIVE.
    await ok(carol.c.post('/api/v1/add_text', { json: { textData: ['note'], datasetName: 'carol' }, ...asActor(carol) }));
    assert.equal((await row(asActor(carol), carol.id)).status, 'LIVE');
    await db
      .insertInto('search_history')
      .values({
        id: randomUUID(),
        user_id: dave.id,
        kind: 'query',
        query_id: null,
        text: 'q',
        query_type: 'CHUNKS',
        dataset_id: null,
        created_at: '2020-01-01T00:00:00.000Z',
        seq: 1,
      })
      .execute();
    assert.deepEqual(
      (await rows(asActor(dave))).map((r) => [r.id, r.status, r.last_active]),
      [[dave.id, 'INACTIVE', '2020-01-01T00:00:00.000Z']],
    );

    // The superuser sees every active user, itself marked as the default user.
    const everyone = await rows(admin());
    for (const id of [carol.id, dave.id, agent.id]) assert.ok(everyone.some((r) => r.id === id));
    const me = everyone.find((r) => r.email === ADMIN_EMAIL)!;
    assert.deepEqual([me.is_default, me.agent_type], [true, 'Human User']);
  });

  it('spans: your and your agents’ requests as traces, by route pattern; a superuser sees everyone’s', async () => {
    const erin = await signUpActor(server, 'act-spans');
    const frank = await signUpActor(server, 'act-spans-other');
    const agent = await createAgent(erin, 'tracer');
    const ds = (await ok(erin.c.post('/api/v1/datasets', { json: { name: 'traced' }, ...asActor(erin) }))).body.id as string;
    await ok(get(`/api/v1/datasets/${ds}/data`, asActor(erin)));
    await ok(get('/api/v1/datasets', { apiKey: agent.key, cookies: false }));
    await ok(get('/api/v1/datasets', asActor(frank)));

    type Trace = { trace_id: string; root_name: string; duration_ms: number; span_count: number; status: string; spans: Record<string, any>[] };
    const traces = async (auth: object) => (await ok(get('/api/v1/activity/spans', auth))).body as Trace[];
    const users = (list: Trace[]) => new Set(list.map((t) => t.spans[0]!.attributes['user.id']));

    const erins = await traces(asActor(erin));
    assert.deepEqual(users(erins), new Set([erin.id, agent.id]));
    const trace = erins.find((t) => t.root_name === 'GET /api/v1/datasets/{dataset_id}/data')!;
    assert.ok(trace, 'named by route pattern');
    assert.deepEqual(Object.keys(trace).sort(), ['duration_ms', 'root_name', 'span_count', 'spans', 'status', 'trace_id']);
    assert.equal(trace.span_count, 1);
    assert.equal(trace.status, 'OK');
    const span = trace.spans[0]!;
    assert.deepEqual(Object.keys(span).sort(), [
      'attributes',
      'duration_ms',
      'end_time_ns',
      'name',
      'parent_span_id',
      'span_id',
      'start_time_ns',
      'status',
      'trace_id',
    ]);
    assert.match(span.trace_id, /^[0-9a-f]{32}$/);
    assert.match(span.span_id, /^[0-9a-f]{16}$/);
    assert.equal(span.parent_span_id, null);
    assert.ok(span.end_time_ns >= span.start_time_ns);
    assert.deepEqual(span.attributes['http.status_code'], 200);
    assert.ok(!JSON.stringify(erins).includes(ds), 'no path values, only patterns');

    assert.deepEqual(users(await traces(asActor(frank))), new Set([frank.id]));
    assert.deepEqual(users(await traces({ apiKey: agent.key, cookies: false })), new Set([agent.id]), 'an agent does not see its creator’s');
    const all = users(await traces(admin()));
    assert.ok(all.has(frank.id) && all.has(erin.id) && all.has(agent.id), 'the superuser sees other users’ requests');
  });

  it('every activity route asks for a credential', async () => {
    for (const path of ['pipeline-runs', 'users', 'agents', 'spans', `export/${randomUUID()}`]) {
      assert.equal((await get(`/api/v1/activity/${path}`, { cookies: false })).status, 401, path);
    }
  });
});
