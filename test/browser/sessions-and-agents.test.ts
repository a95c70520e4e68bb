/**
 * The Sessions and Agents pages: a user's agent sessions (QA turns, tool calls, feedback, token use
 * and cost, a page at a time) and agent connections (liveness), written through the API as agents
 * write them, then read in the browser. Another user's sessions and connections never appear, the
 * same session id included; what agents wrote is shown as text, never as HTML; empty states say how
 * agents create sessions and connections. Token use comes from a loopback OpenAI-compatible stand-in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startOpenAIStub, type OpenAIStub } from '../helpers/openai-stub.js';
import { startTestServer, uniqueEmail, type Client, type TestServer } from '../helpers/harness.js';
import { checkPage, here, launchBrowser, openPage, type Watched } from './harness.js';

const SID = 'claude-code-harbour';
/** A question carrying markup: it must show as these characters, never become an element. */
const QUESTION = 'Where does the <img src="x" onerror="window.__pwned=1"> ferry leave from?';

interface User {
  id: string;
  email: string;
  password: string;
  token: string;
  c: Client;
}

let stub: OpenAIStub;
let server: TestServer;
let browser: Browser;
let a: User;
let b: User;
let c: User;

async function signUp(prefix: string): Promise<User> {
  const client = server.client();
  const email = uniqueEmail(prefix);
  const { id, token, password } = await client.signUp(email);
  return { id, email, password, token, c: client };
}

async function post(who: User | { apiKey: string }, path: string, json: unknown, status = 200) {
  const auth = 'apiKey' in who ? { apiKey: who.apiKey } : { bearer: who.token };
  const res = await server.client().post(path, { json, ...auth, cookies: false });
  assert.equal(res.status, status, `${path}: ${res.text}`);
  return res.body;
}

const qa = (who: User, sessionId: string, question: string, answer: string) =>
  post(who, '/api/v1/remember/entry', { entry: { type: 'qa', question, answer, context: '' }, session_id: sessionId });

before(async () => {
  stub = await startOpenAIStub({
    chat: (body) =>
      body?.response_format
        ? undefined
        : {
            json: {
              id: 'chatcmpl-ui',
              object: 'chat.completion',
              created: 0,
              model: 'priced-model',
              choices: [{ index: 0, message: { role: 'assistant', content: 'Pier seven.' }, finish_reason: 'stop' }],
              usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 },
            },
          },
  });
  server = await startTestServer({
    env: {
      LLM_PROVIDER: 'openai',
      LLM_ENDPOINT: stub.url,
      LLM_API_KEY: 'stub-key',
      LLM_MODEL: 'stub-model',
      EMBEDDING_DIMENSIONS: '64',
      MODEL_PRICES: JSON.stringify({ 'priced-model': { input: 2, output: 10 } }),
    },
  });
  browser = await launchBrowser();
  [a, b, c] = [await signUp('sessions-a'), await signUp('sessions-b'), await signUp('sessions-c')];

  // A: twenty short sessions, then the one the test reads (the most recently active, so on page one).
  for (let i = 0; i < 20; i++) await qa(a, `batch-${String(i).padStart(2, '0')}`, `question ${i}`, `answer ${i}`);
  const turn = await qa(a, SID, QUESTION, 'Pier seven, every hour.');
  await post(a, '/api/v1/remember/entry', {
    entry: { type: 'trace', origin_function: 'search_timetable', status: 'error', method_params: { pier: 7 }, error_message: 'timetable offline' },
    session_id: SID,
  });
  await post(a, '/api/v1/remember/entry', {
    entry: { type: 'feedback', qa_id: turn.entry_id, feedback_text: 'right pier', feedback_score: 5 },
    session_id: SID,
  });
  const added = await post(a, '/api/v1/add_text', { textData: ['The harbour ferry leaves from pier seven.'], datasetName: 'harbour' });
  await post(a, '/api/v1/cognify', { datasetIds: [added.dataset_id] });
  const recall = { query: 'Where does the ferry leave?', search_type: 'GRAPH_COMPLETION', dataset_ids: [added.dataset_id], session_id: SID, scope: 'graph' };
  await post(a, '/api/v1/recall', recall);

  // A's connections: one with its session, one of an agent A created, one that unregistered.
  await post(a, '/api/v1/agents/register', { agent_session_name: 'laptop-claude', session_id: SID, memory_mode: 'hybrid', metadata: { pid: 4242 } }, 201);
  const agent = (await post(a, `/api/v1/agents/create?name=ci-bot`, undefined)) as { agentApiKey: string };
  await post({ apiKey: agent.agentApiKey }, '/api/v1/agents/register', { agent_session_name: 'codex-ci', memory_mode: 'session' }, 201);
  await post(a, '/api/v1/agents/register', { agent_session_name: 'old-desktop' }, 201);
  await post(a, '/api/v1/agents/unregister', { agent_session_name: 'old-desktop' });

  // B: the same session id as A's, a session of its own, a connection of its own.
  await qa(b, SID, 'What is the vault code?', 'The vault code is 7431.');
  await qa(b, 'b-private-session', 'Who has the vault key?', 'Only Bea.');
  await post(b, '/api/v1/agents/register', { agent_session_name: 'b-workstation', session_id: 'b-private-session' }, 201);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await stub?.close();
});

async function signIn(who: User, viewport?: { width: number; height: number }): Promise<Watched> {
  const w = await openPage(browser, viewport ? { viewport } : {});
  await w.page.goto(`${server.url}/sign-in`);
  await w.page.getByLabel('E-mail').fill(who.email);
  await w.page.getByLabel('Password').fill(who.password);
  await w.page.getByRole('button', { name: 'Sign in' }).click();
  await w.page.getByRole('heading', { level: 1, name: 'Datasets' }).waitFor();
  return w;
}

/** The value shown for a term of a description list (Facts). */
const fact = (page: Page, list: string, term: string) =>
  page
    .locator(`dl[aria-label="${list}"] > div`)
    .filter({ has: page.locator('dt').getByText(term, { exact: true }) })
    .locator('dd')
    .innerText();

const linkNames = async (page: Page, table: string) => page.getByRole('table', { name: table }).getByRole('link').allInnerTexts();

describe('the Sessions page', () => {
  test('lists the user’s sessions a page at a time with token use and cost; a session shows its turns, tool calls and feedback as text', async () => {
    const w = await signIn(a);
    const { page } = w;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    const table = 'Your sessions, most recently active first';
    await page.getByRole('table', { name: table }).getByRole('link', { name: SID }).waitFor();
    const first = await linkNames(page, table);
    assert.equal(first.length, 20);
    assert.equal(first[0], SID, 'most recently active first');
    assert.ok(!first.includes('b-private-session'));

    const thousand = await page.evaluate(() => (1000).toLocaleString());
    assert.equal(await fact(page, 'Totals over these sessions', 'Sessions'), '21');
    assert.equal(await fact(page, 'Totals over these sessions', 'Tokens in'), thousand);
    assert.equal(await fact(page, 'Totals over these sessions', 'Cost'), '$0.0040');
    const byModel = page.getByRole('table', { name: 'Cost by model' });
    assert.deepEqual(await byModel.locator('tbody tr').first().locator('td').allInnerTexts(), ['priced-model', '1', thousand, '200', '$0.0040']);
    await checkPage(page, 'sessions');

    // The second page holds the one left; the first comes back.
    await page.getByRole('status').filter({ hasText: 'Showing 1–20 of 21' }).waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByRole('status').filter({ hasText: 'Showing 21–21 of 21' }).waitFor();
    const second = await linkNames(page, table);
    assert.equal(second.length, 1);
    assert.ok(!first.includes(second[0]!));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByRole('status').filter({ hasText: 'Showing 1–20 of 21' }).waitFor();

    // A filter that matches nothing says so (not the "no sessions yet" explanation).
    await page.getByLabel('Status').selectOption('completed');
    await page.getByText('No session matches these filters.').waitFor();
    await page.getByLabel('Status').selectOption('');
    await page.getByRole('table', { name: table }).getByRole('link', { name: SID }).click();

    await page.getByRole('heading', { level: 1, name: 'Session' }).waitFor();
    assert.equal(here(page), `/sessions/${SID}`);
    const turns = page.getByRole('list', { name: 'Questions and answers of this session' });
    await turns.getByRole('heading', { name: QUESTION }).waitFor();
    assert.match(await turns.innerText(), /Pier seven, every hour\.[\s\S]*Feedback: 5 of 5 — right pier/);
    const steps = await page.getByRole('list', { name: 'Tool calls of this session' }).innerText();
    assert.match(steps, /search_timetable[\s\S]*error[\s\S]*Error: timetable offline/);
    assert.equal(await fact(page, 'Token use of this session', 'Tokens in'), thousand);
    assert.equal(await fact(page, 'Token use of this session', 'Tokens out'), '200');
    assert.equal(await fact(page, 'Token use of this session', 'Cost'), '$0.0040');
    assert.equal(await fact(page, 'Token use of this session', 'Last model'), 'priced-model');
    assert.equal(await fact(page, 'About this session', 'Errors'), '1');
    // The markup in the question stayed text, and B's turn under the same id is not here.
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.ok(!(await page.locator('main').innerText()).includes('vault'));
    await checkPage(page, 'session');

    // B's own session is unknown to A, exactly like a missing one.
    for (const id of ['b-private-session', 'no-such-session']) {
      await page.goto(`${server.url}/sessions/${id}`);
      await page.getByRole('heading', { level: 1, name: 'Session not found' }).waitFor();
    }
    w.assertClean();
    await w.context.close();
  });

  test('another user sees only their own sessions, the same session id included', async () => {
    const w = await signIn(b);
    const { page } = w;
    await page.goto(`${server.url}/sessions`);
    const table = 'Your sessions, most recently active first';
    await page.getByRole('table', { name: table }).getByRole('link', { name: 'b-private-session' }).waitFor();
    assert.deepEqual((await linkNames(page, table)).sort(), ['b-private-session', SID].sort());
    assert.equal(await fact(page, 'Totals over these sessions', 'Tokens in'), '0');
    await page.getByText('No token use recorded.', { exact: false }).waitFor();
    await page.goto(`${server.url}/sessions/${SID}`);
    await page.getByRole('heading', { name: 'What is the vault code?' }).waitFor();
    const text = await page.locator('main').innerText();
    assert.ok(!text.includes('ferry') && !text.includes('search_timetable'), 'nothing of A’s session of the same id');
    assert.equal(await fact(page, 'Token use of this session', 'Cost'), '$0.00');
    w.assertClean();
    await w.context.close();
  });
});

describe('the Agents page', () => {
  test('lists the user’s and their agents’ connections with liveness; an active one shows its session', async () => {
    const w = await signIn(a);
    const { page } = w;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('heading', { level: 1, name: 'Agents' }).waitFor();
    const table = page.getByRole('table', { name: 'Agent connections, most recently active first' });
    await table.waitFor();
    const rows = new Map<string, string[]>();
    for (const row of await table.locator('tbody tr').all()) {
      const cells = await row.locator('td').allInnerTexts();
      rows.set(cells[0]!, cells);
    }
    assert.deepEqual([...rows.keys()].sort(), ['codex-ci', 'laptop-claude', 'old-desktop']);
    assert.deepEqual(rows.get('laptop-claude')!.slice(1, 3), ['You', 'Active']);
    assert.match(rows.get('codex-ci')![1]!, /^Agent ci-bot/);
    assert.equal(rows.get('codex-ci')![2], 'Active');
    assert.equal(rows.get('old-desktop')![2], 'Inactive');
    assert.equal(await table.getByRole('link', { name: 'old-desktop' }).count(), 0, 'an inactive connection has no page');
    assert.equal(rows.get('laptop-claude')![5], SID);
    await checkPage(page, 'agents');

    await table.getByRole('link', { name: 'laptop-claude' }).click();
    await page.getByRole('heading', { level: 1, name: 'Agent connection' }).waitFor();
    assert.equal(await fact(page, 'About this connection', 'Status'), 'Active');
    assert.equal(await fact(page, 'About this connection', 'Memory mode'), 'hybrid');
    await page.getByText('Metadata it registered').click();
    await page.getByText('"pid": 4242').waitFor();
    await page
      .getByRole('list', { name: /^Recent questions and answers/ })
      .getByRole('heading', { name: QUESTION })
      .waitFor();
    assert.equal(await page.locator('main img').count(), 0);
    await checkPage(page, 'agent');
    await page.getByRole('link', { name: SID }).click();
    await page.getByRole('heading', { level: 1, name: 'Session' }).waitFor();
    assert.equal(here(page), `/sessions/${SID}`);

    // Another user's connection has no page here, whatever its address.
    await page.goto(`${server.url}/agents/${b.id}/b-workstation`);
    await page.getByRole('heading', { level: 1, name: 'Connection not found' }).waitFor();
    w.assertClean();
    await w.context.close();
  });
});

describe('empty states', () => {
  test('a user with no sessions or connections is told how agents create them (phone width)', async () => {
    const w = await signIn(c, { width: 390, height: 844 });
    const { page } = w;
    await page.goto(`${server.url}/sessions`);
    const none = page.locator('.empty-state');
    await none.getByText('No sessions yet.').waitFor();
    assert.match(await none.innerText(), /POST \/api\/v1\/remember\/entry[\s\S]*session_id/);
    await checkPage(page, 'sessions-empty-phone');
    await page.goto(`${server.url}/agents`);
    await page.locator('.empty-state').getByText('No agent connections yet.').waitFor();
    assert.match(await page.locator('.empty-state').innerText(), /POST \/api\/v1\/agents\/register/);
    await checkPage(page, 'agents-empty-phone');
    w.assertClean();
    await w.context.close();
  });
});
