import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { asActor, signUpActor, startTestServer, upload, type Actor, type TestServer } from '../helpers/harness.js';

/**
 * Agent sessions, driven as the reference's agent plugins drive them: `POST /api/v1/remember/entry`
 * with `{entry, dataset_name, session_id}` (QA turns, trace steps, feedback), `POST /api/v1/remember`
 * with `session_id`, `POST /api/v1/recall` by scope, and the sessions dashboard routes. A session
 * belongs to its user in their active tenant: the same id elsewhere is another session, and a
 * foreign session answers as an unknown one. On SQLite and PostgreSQL (ENGRAM_TEST_DB).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('agent sessions', () => {
  let server: TestServer;
  let a: Actor;
  let b: Actor;
  before(async () => {
    server = await startTestServer({ env: { ENABLE_BACKEND_ACCESS_CONTROL: 'true', SESSION_ENTRY_MAX_BYTES: '4096' } });
    a = await signUpActor(server, 'session-a');
    b = await signUpActor(server, 'session-b');
  });
  after(async () => {
    await server.close();
  });

  const entry = (who: Actor, body: Record<string, unknown>) => who.c.post('/api/v1/remember/entry', { json: body, ...asActor(who) });
  const recall = (who: Actor, body: Record<string, unknown>) => who.c.post('/api/v1/recall', { json: body, ...asActor(who) });

  it('stores QA turns and trace steps and recalls them by scope', async () => {
    const sid = 'claude-code-1718000000';
    const qa = await entry(a, {
      entry: { type: 'qa', question: 'Where does the harbour ferry leave from?', answer: 'Pier seven, every hour.', context: '' },
      dataset_name: 'agent_sessions',
      session_id: sid,
    });
    assert.equal(qa.status, 200, qa.text);
    assert.equal(qa.body.status, 'session_stored');
    assert.deepEqual(qa.body.session_ids, [sid]);
    assert.equal(qa.body.entry_type, 'qa');
    assert.match(qa.body.entry_id, UUID);
    assert.equal(qa.body.dataset_name, 'agent_sessions');
    for (const key of ['dataset_id', 'pipeline_run_id', 'items_processed', 'elapsed_seconds']) assert.ok(key in qa.body, key);

    const trace = await entry(a, {
      entry: {
        type: 'trace',
        origin_function: 'search_codebase',
        status: 'error',
        method_params: { pattern: 'TimetableParser' },
        method_return_value: 'no match',
        error_message: 'grep exited 1',
        generate_feedback_with_llm: false,
      },
      dataset_name: 'agent_sessions',
      session_id: sid,
    });
    assert.equal(trace.status, 200, trace.text);
    assert.equal(trace.body.entry_type, 'trace');

    const turns = await recall(a, { query: 'which pier does the ferry use', session_id: sid, scope: 'session' });
    assert.equal(turns.status, 200, turns.text);
    assert.equal(turns.body.length, 1);
    assert.deepEqual(
      { source: turns.body[0].source, qa_id: turns.body[0].qa_id, answer: turns.body[0].answer },
      { source: 'session', qa_id: qa.body.entry_id, answer: 'Pier seven, every hour.' },
    );
    assert.match(turns.body[0].time, /^\d{4}-\d\d-\d\dT/);

    const steps = await recall(a, { query: 'TimetableParser', sessionId: sid, scope: ['trace'] });
    assert.equal(steps.status, 200, steps.text);
    assert.deepEqual(
      steps.body.map((s: any) => [s.source, s.origin_function, s.status, s.method_params.pattern]),
      [['trace', 'search_codebase', 'error', 'TimetableParser']],
    );
    assert.deepEqual((await recall(a, { query: 'volcano', session_id: sid, scope: 'session' })).body, [], 'no shared word, no hit');

    // An empty query lists the most recent turns.
    const recent = await recall(a, { query: '', session_id: sid, scope: 'session' });
    assert.equal(recent.status, 200, recent.text);
    assert.equal(recent.body.length, 1);

    // Feedback attaches to the turn; an unknown turn answers the reference's "errored" result.
    const fb = await entry(a, { entry: { type: 'feedback', qa_id: qa.body.entry_id, feedback_text: 'right pier', feedback_score: 5 }, session_id: sid });
    assert.equal(fb.status, 200, fb.text);
    assert.deepEqual([fb.body.status, fb.body.entry_id], ['session_stored', qa.body.entry_id]);
    const missing = await entry(a, { entry: { type: 'feedback', qa_id: 'nope', feedback_score: 2 }, session_id: sid });
    assert.deepEqual([missing.status, missing.body.status], [200, 'errored']);

    const detail = await a.c.get(`/api/v1/sessions/${sid}`, asActor(a));
    assert.equal(detail.status, 200, detail.text);
    assert.equal(detail.body.session_id, sid);
    assert.equal(detail.body.user_id, a.id);
    assert.deepEqual([detail.body.msg_count, detail.body.tool_calls, detail.body.error_count], [1, 1, 1]);
    assert.equal(detail.body.label, 'Where does the harbour ferry leave from?');
    assert.deepEqual([detail.body.qas[0].feedback_text, detail.body.qas[0].feedback_score], ['right pier', 5]);
    assert.equal(detail.body.traces[0].origin_function, 'search_codebase');
    assert.equal(detail.body.effective_status, 'running');
  });

  it('refuses bad entries with the reference’s statuses and writes nothing', async () => {
    const sid = 'codex-bad-input';
    const cases: [Record<string, unknown>, number][] = [
      [{ entry: { type: 'qa', question: 'q', answer: 'a' }, dataset_name: 'x' }, 400], // no session
      // Validation errors are 400 app-wide, as the reference's handler answers them; unknown fields 422.
      [{ entry: { type: 'memo', text: 'x' }, session_id: sid }, 400],
      [{ entry: { type: 'qa', question: 'q' }, session_id: sid }, 400],
      [{ entry: { type: 'qa', question: 'q', answer: 'a', feedback_score: 6 }, session_id: sid }, 400],
      [{ entry: { type: 'trace', origin_function: '   ' }, session_id: sid }, 400],
      [{ entry: { type: 'trace', origin_function: 'f', status: 'maybe' }, session_id: sid }, 400],
      [{ entry: { type: 'qa', question: 'q', answer: 'a' }, session_id: sid, datasets: ['x'] }, 422], // unknown field
      [{ entry: { type: 'qa', question: 'q', answer: 'a', extra: 1 }, session_id: sid }, 422],
      [{ entry: { type: 'qa', question: 'q', answer: 'a'.repeat(5000) }, session_id: sid }, 413],
    ];
    for (const [body, status] of cases) {
      const res = await entry(a, body);
      assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 120)}: ${res.text}`);
    }
    assert.deepEqual((await entry(a, cases[0]![0])).body, { error: 'Invalid remember request.' });
    assert.equal((await a.c.get(`/api/v1/sessions/${sid}`, asActor(a))).status, 404, 'no session was made by refused requests');
  });

  it('remember with session_id stores the uploads’ text as turns of the session', async () => {
    const sid = 'opencode-remember';
    const res = await upload(
      server,
      a,
      { datasetName: 'opencode_sessions', session_id: sid },
      [
        { name: 'turn.txt', text: 'The staging database lives on host kestrel.' },
        { name: 'blob.bin', text: 'binary\u0000payload' },
      ],
      '/api/v1/remember',
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      [res.body.status, res.body.session_ids, res.body.dataset_name, res.body.items_processed],
      ['session_stored', [sid], 'opencode_sessions', 0],
    );
    assert.match(res.body.dataset_id, UUID);
    const hits = await recall(a, { query: 'where is the staging database', session_id: sid, scope: 'session' });
    assert.deepEqual(
      hits.body.map((h: any) => h.answer),
      ['The staging database lives on host kestrel.'],
      'the binary upload was skipped',
    );
  });

  it('a session is its owner’s in their active tenant: the same id elsewhere is another session', async () => {
    const sid = 'shared-name';
    assert.equal((await entry(a, { entry: { type: 'qa', question: 'secret plan', answer: 'Operation Heron begins Monday.' }, session_id: sid })).status, 200);
    // Another user with the same session id sees nothing and cannot tell the session exists.
    assert.deepEqual((await recall(b, { query: 'Operation Heron', session_id: sid, scope: ['session', 'trace'] })).body, []);
    const foreign = await b.c.get(`/api/v1/sessions/${sid}`, asActor(b));
    const unknown = await b.c.get('/api/v1/sessions/no-such-session', asActor(b));
    assert.deepEqual([foreign.status, foreign.body], [unknown.status, unknown.body]);
    assert.equal(foreign.status, 404);
    const listed = await b.c.get('/api/v1/sessions?range=all', asActor(b));
    assert.ok(!listed.body.sessions.some((s: any) => s.session_id === sid));
    // B writing to the same id makes B's own session; A's is untouched.
    assert.equal((await entry(b, { entry: { type: 'qa', question: 'lunch', answer: 'Soup at noon.' }, session_id: sid })).status, 200);
    assert.deepEqual((await recall(b, { query: 'Operation Heron', session_id: sid, scope: 'session' })).body, []);
    assert.equal((await recall(a, { query: 'soup noon', session_id: sid, scope: 'session' })).body.length, 0);

    // The same user in another tenant: another session.
    const tenant = await a.c.post('/api/v1/permissions/tenants?tenant_name=sessions-tenant', asActor(a));
    assert.equal(tenant.status, 200, tenant.text);
    assert.deepEqual((await recall(a, { query: 'Operation Heron', session_id: sid, scope: 'session' })).body, [], 'a new tenant, a new session');
    assert.equal((await a.c.post('/api/v1/permissions/tenants/select', { json: { tenant_id: null }, ...asActor(a) })).status, 200);
    assert.equal((await recall(a, { query: 'Operation Heron', session_id: sid, scope: 'session' })).body.length, 1, 'back in the personal space');
  });

  it('auto scope: a session hit short-circuits the graph; without one the graph answers', async () => {
    const sid = 'auto-scope';
    await entry(a, { entry: { type: 'qa', question: 'favourite colour', answer: 'Teal, always teal.' }, session_id: sid });
    const hit = await recall(a, { query: 'what colour is favourite', session_id: sid, search_type: null });
    assert.equal(hit.status, 200, hit.text);
    assert.deepEqual([...new Set(hit.body.map((h: any) => h.source))], ['session']);
    const miss = await recall(a, { query: 'Analytical Engine designer', session_id: sid, search_type: null });
    assert.equal(miss.status, 200, miss.text);
    assert.ok(
      miss.body.every((h: any) => h.source !== 'session'),
      'no session hit: the graph lane ran',
    );
    // With a search type (the HTTP default), auto reads the graph only, as the reference's router.
    const typed = await recall(a, { query: 'favourite colour', session_id: sid });
    assert.ok(typed.body.every((h: any) => h.source !== 'session'));
  });

  it('recall validates its body, scopes and sources', async () => {
    assert.equal((await recall(a, { query: 'x', datasetIdz: ['typo'] })).status, 422, 'an unknown field is refused');
    const unknownScope = await recall(a, { query: 'x', scope: 'galaxy' });
    assert.equal(unknownScope.status, 422);
    assert.match(unknownScope.body.error, /Unknown recall scope.*galaxy.*Valid values/);
    assert.equal((await recall(a, { query: 'x', scope: 'tools' })).status, 422, 'a lone scope that cannot run fails loudly');
    assert.equal((await recall(a, { query: 'x', scope: ['session', 'tools'] })).status, 200, 'a list answers what it can');
    assert.deepEqual((await recall(a, { query: 'x', scope: 'session' })).body, [], 'session scopes without a session id contribute nothing');
    assert.equal((await recall(a, { query: 'x', code_query: { operation: 'explore' } })).status, 422);
    assert.equal((await recall(a, { query: 'x', top_k: 0 })).status, 422);
  });

  it('graph results carry the reference’s kinds and an object raw', async () => {
    const added = await a.c.post('/api/v1/add_text', {
      json: { textData: ['Charles Babbage designed the Analytical Engine.'], datasetName: 'kinds' },
      ...asActor(a),
    });
    assert.equal(added.status, 200, added.text);
    const ds = added.body.dataset_id;
    assert.equal((await a.c.post('/api/v1/cognify', { json: { datasetIds: [ds] }, ...asActor(a) })).status, 200);
    const chunks = await recall(a, { query: 'Analytical Engine', search_type: 'CHUNKS', dataset_ids: [ds] });
    assert.equal(chunks.status, 200, chunks.text);
    assert.ok(chunks.body.length > 0);
    for (const item of chunks.body) {
      assert.equal(item.kind, 'chunk');
      assert.equal(item.source, 'graph');
      assert.equal(typeof item.raw, 'object');
      assert.notEqual(item.raw, null);
      assert.equal(item.metadata.data_id !== undefined, true, 'provenance: the item the chunk came from');
    }
    const context = await recall(a, { query: 'Who designed the Analytical Engine?', search_type: 'GRAPH_COMPLETION', only_context: true, dataset_ids: [ds] });
    assert.equal(context.status, 200, context.text);
    assert.ok(context.body.every((i: any) => i.kind === 'graph_completion' && typeof i.raw === 'object' && i.raw !== null && typeof i.text === 'string'));
  });

  it('lists the caller’s sessions a page at a time, with counters', async () => {
    const c = await signUpActor(server, 'session-c');
    for (const sid of ['claude-code-1', 'codex-2', 'plain-3']) {
      assert.equal((await entry(c, { entry: { type: 'qa', question: 'q', answer: `a ${sid}` }, session_id: sid })).status, 200);
    }
    const page = await c.c.get('/api/v1/sessions?limit=2&offset=0&order_by=started_at&descending=false', asActor(c));
    assert.equal(page.status, 200, page.text);
    assert.deepEqual([page.body.total, page.body.limit, page.body.offset, page.body.has_more], [3, 2, 0, true]);
    assert.deepEqual(
      page.body.sessions.map((s: any) => s.session_id),
      ['claude-code-1', 'codex-2'],
    );
    const rest = await c.c.get('/api/v1/sessions?limit=2&offset=2&order_by=started_at&descending=false', asActor(c));
    assert.deepEqual([rest.body.sessions.map((s: any) => s.session_id), rest.body.has_more], [['plain-3'], false]);
    assert.equal((await c.c.get('/api/v1/sessions?status=completed', asActor(c))).body.total, 0);
    assert.equal((await c.c.get('/api/v1/sessions?status=running', asActor(c))).body.total, 3);
    assert.equal((await c.c.get('/api/v1/sessions?limit=0', asActor(c))).status, 400);
    assert.equal((await c.c.get('/api/v1/sessions?range=1y', asActor(c))).status, 400);

    const stats = await c.c.get('/api/v1/sessions/stats?range=all', asActor(c));
    assert.equal(stats.status, 200, stats.text);
    assert.deepEqual([stats.body.sessions, stats.body.running, stats.body.success_rate, stats.body.tokens_total], [3, 3, 1, 0]);
    const agents = await c.c.get('/api/v1/sessions/with-agent-info', asActor(c));
    assert.deepEqual(agents.body.sessions.map((s: any) => [s.session_id, s.agent_type]).sort(), [
      ['claude-code-1', 'claude_code'],
      ['codex-2', 'codex'],
      ['plain-3', 'unknown'],
    ]);
    const byAgent = await c.c.get('/api/v1/sessions/cost-by-user-agent', asActor(c));
    assert.equal(byAgent.status, 200, byAgent.text);
    assert.ok(byAgent.body.every((r: any) => r.user_id === c.id && r.user_email === c.email));
    assert.equal(
      byAgent.body.reduce((n: number, r: any) => n + r.session_count, 0),
      3,
    );
    assert.deepEqual((await c.c.get('/api/v1/sessions/cost-by-model', asActor(c))).body, []);
  });
});
