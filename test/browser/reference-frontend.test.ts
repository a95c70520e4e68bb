/**
 * The reference's own web frontend against Engram, as a browser really runs it: a page served from
 * another origin (the frontend's UI_APP_URL) calls the API with `credentials: "include"`, exactly the
 * calls its sign-in and dataset pages make (../shared/reference/clients-and-standards.md, A1). Chromium
 * applies CORS, the SameSite cookie rules and the Origin header itself; nothing is simulated.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { eventually, startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';
import { launchBrowser, openPage } from './harness.js';

let frontend: Server;
let frontendPort: number;
let foreign: Server;
let foreignPort: number;
let server: TestServer;
let browser: Browser;
let api: string;

before(async () => {
  // The frontend's origin: an empty page; the calls below run in it, as the frontend's code does.
  frontend = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><head><title>frontend</title></head><body><main>frontend</main></body></html>');
  });
  await new Promise<void>((resolve) => frontend.listen(0, '127.0.0.1', resolve));
  frontendPort = (frontend.address() as AddressInfo).port;
  // Another origin of the same site that is not allowed.
  foreign = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><head><title>other</title></head><body><main>other</main></body></html>');
  });
  await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  foreignPort = (foreign.address() as AddressInfo).port;
  server = await startTestServer({ env: { UI_APP_URL: `http://localhost:${frontendPort}` } });
  // The frontend's default NEXT_PUBLIC_LOCAL_API_URL is http://localhost:8000: the same site as its own origin.
  api = server.url.replace('127.0.0.1', 'localhost');
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
  await new Promise((resolve) => frontend?.close(resolve));
  await new Promise((resolve) => foreign?.close(resolve));
});

interface Answer {
  status: number;
  body: unknown;
}

/** `fetch` from the page, as the frontend's localFetch does (credentials: "include"). */
async function call(page: Page, method: string, path: string, body?: { json?: unknown; form?: Record<string, string> }): Promise<Answer> {
  return page.evaluate(
    async ({ url, method, body }) => {
      const headers: Record<string, string> = {};
      let payload: string | undefined;
      if (body?.json !== undefined) {
        headers['Content-Type'] = 'application/json';
        payload = JSON.stringify(body.json);
      } else if (body?.form) {
        headers['Content-Type'] = 'application/x-www-form-urlencoded';
        payload = new URLSearchParams(body.form).toString();
      }
      try {
        const response = await fetch(url, { method, headers, body: payload, credentials: 'include' });
        const text = await response.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        return { status: response.status, body: parsed };
      } catch (error) {
        return { status: 0, body: String(error) };
      }
    },
    { url: api + path, method, body },
  );
}

test("the reference frontend's sign-in and dataset pages work from its own origin (CORS with credentials, cookie session)", async () => {
  const email = uniqueEmail('frontend');
  const password = strongPassword();
  assert.equal((await server.client().post('/api/v1/auth/register', { json: { email, password } })).status, 201);

  const w = await openPage(browser);
  await w.page.goto(`http://localhost:${frontendPort}/`);

  // LocalProvider's boot check before signing in: 401, which sends it to /local-login.
  assert.equal((await call(w.page, 'GET', '/api/v1/users/me')).status, 401);
  assert.equal((await call(w.page, 'GET', '/health')).status, 200);

  // LocalSignInForm: a wrong password shows "Invalid email or password." from this detail.
  const wrong = await call(w.page, 'POST', '/api/v1/auth/login', { form: { username: email, password: 'nope-nope-nope' } });
  assert.deepEqual(wrong, { status: 400, body: { detail: 'LOGIN_BAD_CREDENTIALS' } });
  const login = await call(w.page, 'POST', '/api/v1/auth/login', { form: { username: email, password } });
  assert.equal(login.status, 200);
  assert.equal((login.body as { token_type: string }).token_type, 'bearer');
  assert.equal(typeof (login.body as { access_token: unknown }).access_token, 'string', 'its server-side routes read access_token');

  // From here on only the cookie the browser keeps authenticates the calls.
  const me = await call(w.page, 'GET', '/api/v1/users/me');
  assert.equal(me.status, 200);
  assert.equal((me.body as { email: string }).email, email);

  // The datasets page: create (with the trailing slash it sends), list, add, cognify, status, data, graph.
  const created = await call(w.page, 'POST', '/api/v1/datasets/', { json: { name: 'frontend_notes' } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const datasetId = (created.body as { id: string }).id;
  const list = await call(w.page, 'GET', '/api/v1/datasets');
  assert.deepEqual(
    (list.body as Array<{ id: string }>).map((d) => d.id),
    [datasetId],
  );

  const added = await call(w.page, 'POST', '/api/v1/add_text', {
    json: { textData: ['Ada Lovelace wrote the first program for the Analytical Engine.'], datasetId, datasetName: 'frontend_notes' },
  });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  const cognify = await call(w.page, 'POST', '/api/v1/cognify', {
    json: {
      datasets: ['frontend_notes'],
      datasetIds: [datasetId],
      runInBackground: true,
      customPrompt: '',
      ontologyKey: [],
      chunksPerBatch: 10,
      chunkSize: 1024,
    },
  });
  assert.equal(cognify.status, 200, JSON.stringify(cognify.body));
  await eventually(
    async () => {
      const status = await call(w.page, 'GET', `/api/v1/datasets/status?dataset=${datasetId}`);
      return (status.body as Record<string, string>)[datasetId] === 'DATASET_PROCESSING_COMPLETED';
    },
    30_000,
    200,
  );

  const data = await call(w.page, 'GET', `/api/v1/datasets/${datasetId}/data`);
  assert.equal(data.status, 200);
  const items = data.body as Array<{ id: string }>;
  assert.equal(items.length, 1);
  const raw = await call(w.page, 'GET', `/api/v1/datasets/${datasetId}/data/${items[0]!.id}/raw`);
  assert.deepEqual(raw, { status: 200, body: 'Ada Lovelace wrote the first program for the Analytical Engine.' });
  const graph = await call(w.page, 'GET', `/api/v1/datasets/${datasetId}/graph`);
  assert.equal(graph.status, 200);
  assert.ok((graph.body as { nodes: unknown[] }).nodes.length > 0);
  const search = await call(w.page, 'POST', '/api/v1/search', {
    json: { query: 'Who wrote the first program?', searchType: 'CHUNKS', datasets: ['frontend_notes'], datasetIds: [datasetId], topK: 5, onlyContext: true },
  });
  assert.equal(search.status, 200, JSON.stringify(search.body));
  assert.match(JSON.stringify(search.body), /Analytical Engine/);

  // Its removal paths, then sign-out (which forwards the cookie).
  assert.equal((await call(w.page, 'DELETE', `/api/v1/datasets/${datasetId}/data/${items[0]!.id}`)).status, 200);
  assert.equal((await call(w.page, 'DELETE', `/api/v1/datasets/${datasetId}`)).status, 200);
  assert.equal((await call(w.page, 'POST', '/api/v1/auth/logout')).status, 200);
  assert.equal((await call(w.page, 'GET', '/api/v1/users/me')).status, 401);
  w.assertClean();
  await w.context.close();
});

test('D5: a page of the same site but not an allowed origin can neither read answers nor act with the cookie', async () => {
  const email = uniqueEmail('frontend');
  const password = strongPassword();
  assert.equal((await server.client().post('/api/v1/auth/register', { json: { email, password } })).status, 201);
  const token = await server.client().login(email, password);
  const tenantsOf = async () => (await server.client().get('/api/v1/permissions/tenants/me', { bearer: token })).body;
  const tenantsBefore = await tenantsOf();

  const w = await openPage(browser);
  // Sign in from the allowed origin, so the browser holds the session cookie for the API's site.
  await w.page.goto(`http://localhost:${frontendPort}/`);
  assert.equal((await call(w.page, 'POST', '/api/v1/auth/login', { form: { username: email, password } })).status, 200);

  // Another origin of the same site: the browser sends the SameSite=Lax cookie with its requests.
  await w.page.goto(`http://localhost:${foreignPort}/`);
  assert.equal((await call(w.page, 'GET', '/api/v1/users/me')).status, 0, 'CORS keeps the answer from the page');
  // Requests a browser sends without asking first (no preflight): the server must refuse them itself.
  await w.page.evaluate(async (url) => {
    await fetch(`${url}/api/v1/permissions/tenants?tenant_name=planted`, { method: 'POST', credentials: 'include', mode: 'no-cors' });
    await fetch(`${url}/api/v1/auth/logout`, { method: 'POST', credentials: 'include', mode: 'no-cors' });
  }, api);
  assert.deepEqual(await tenantsOf(), tenantsBefore, 'no tenant was created from the foreign origin');
  const refused = server.logs.lines.filter((l) => l.msg === 'request' && l.status === 403 && String(l.path).startsWith('/api/v1/'));
  assert.ok(refused.length >= 2, 'both cookie writes reached the server and were refused (CSRF, D5)');

  // The session survived the foreign logout attempt.
  await w.page.goto(`http://localhost:${frontendPort}/`);
  assert.equal((await call(w.page, 'GET', '/api/v1/users/me')).status, 200);
  w.assertClean([/blocked by CORS policy/, /net::ERR_FAILED/]);
  await w.context.close();
});
