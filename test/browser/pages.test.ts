/**
 * Every page of the web UI, signed out and signed in as a superuser with real content: axe-core finds
 * no serious or critical violation, the page keeps its Content-Security-Policy, and a screenshot of it
 * is saved (ENGRAM_SCREENSHOTS_DIR=docs/screenshots refreshes the README's pictures).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startTestServer, strongPassword, type TestServer } from '../helpers/harness.js';
import { checkPage, launchBrowser, openPage, type Watched } from './harness.js';

const ADMIN = 'default_user@example.com';
const ADMIN_PASSWORD = strongPassword();

let server: TestServer;
let browser: Browser;
let datasetId = '';

before(async () => {
  server = await startTestServer({ env: { DEFAULT_USER_PASSWORD: ADMIN_PASSWORD } });
  browser = await launchBrowser();
  const c = server.client();
  const token = await c.login(ADMIN, ADMIN_PASSWORD);
  const created = await c.post('/api/v1/datasets', { bearer: token, json: { name: 'research' } });
  datasetId = created.body.id;
  const text = [
    'Marie Curie discovered polonium and radium with Pierre Curie in Paris.',
    'Pierre Curie studied piezoelectricity with his brother Jacques Curie.',
    'Irene Joliot-Curie, daughter of Marie Curie, discovered artificial radioactivity.',
  ];
  assert.equal((await c.post('/api/v1/add_text', { bearer: token, json: { textData: text, datasetId } })).status, 200);
  assert.equal((await c.post('/api/v1/cognify', { bearer: token, json: { datasetIds: [datasetId] } })).status, 200);
  assert.equal(
    (await c.post('/api/v1/search', { bearer: token, json: { query: 'Who discovered radium?', search_type: 'CHUNKS', datasetIds: [datasetId] } })).status,
    200,
  );
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function visit(w: Watched, path: string, heading: string | RegExp, name: string): Promise<void> {
  await w.page.goto(server.url + path);
  await w.page.getByRole('heading', { level: 1, name: heading }).waitFor();
  await checkPage(w.page, name);
}

test('signed out: sign-in, register, forgot and reset password, verify, not found', async () => {
  const w = await openPage(browser);
  await visit(w, '/sign-in', 'Sign in', 'sign-in');
  await visit(w, '/register', 'Create an account', 'register');
  await visit(w, '/forgot-password', 'Forgot your password?', 'forgot-password');
  await visit(w, '/reset-password?token=not-a-token', 'Reset your password', 'reset-password');
  await visit(w, '/verify', 'Verify your account', 'verify');
  await visit(w, '/no/such/page', 'Page not found', 'not-found-signed-out');
  w.assertClean();
  await w.context.close();
});

test('signed in as a superuser: every page with content, at desktop and phone width', async () => {
  for (const [suffix, viewport] of [
    ['', { width: 1280, height: 860 }],
    ['-phone', { width: 390, height: 844 }],
  ] as const) {
    const w = await openPage(browser, { viewport });
    await w.page.goto(server.url + '/sign-in');
    await w.page.getByLabel('E-mail').fill(ADMIN);
    await w.page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByRole('heading', { level: 1, name: 'Datasets' }).waitFor();
    await w.page.getByRole('link', { name: 'research', exact: true }).waitFor();
    await checkPage(w.page, `datasets${suffix}`);

    await visit(w, `/datasets/${datasetId}`, 'Dataset research', `dataset${suffix}`);
    await visit(w, `/datasets/${datasetId}/graph`, /^Graph of research$/, `graph${suffix}`);
    await w.page
      .getByRole('application')
      .getByRole('button', { name: /^marie curie \(Entity\)$/i })
      .first()
      .click();
    await w.page
      .getByRole('region', { name: 'Node details' })
      .getByRole('heading', { level: 2, name: /marie curie/i })
      .waitFor();
    await checkPage(w.page, `graph-node${suffix}`);

    await visit(w, `/search?dataset=${datasetId}`, 'Search', `search-empty${suffix}`);
    await w.page.getByRole('textbox', { name: 'Query' }).fill('Who discovered polonium?');
    await w.page.getByLabel('Search type').selectOption('CHUNKS');
    await w.page.getByRole('button', { name: 'Search', exact: true }).click();
    await w.page.getByRole('region', { name: 'Results from research' }).getByRole('list', { name: 'Passages from research' }).waitFor();
    await checkPage(w.page, `search${suffix}`);

    await visit(w, '/api-keys', 'API keys', `api-keys${suffix}`);
    await w.page.getByLabel('Key name').fill(`laptop${suffix}`);
    await w.page.getByRole('button', { name: 'Create API key' }).click();
    await w.page.getByRole('region', { name: 'API key created' }).waitFor();
    await checkPage(w.page, `api-key-created${suffix}`);

    await visit(w, '/tenants', 'Tenants & roles', `tenants-personal${suffix}`);
    if (!suffix) {
      await w.page.getByLabel('Tenant name').fill('curie-lab');
      await w.page.getByRole('button', { name: 'Create tenant' }).click();
      await w.page.getByRole('status').filter({ hasText: 'Tenant curie-lab created.' }).waitFor();
      await w.page.getByLabel('Role name').fill('readers');
      await w.page.getByRole('button', { name: 'Create role' }).click();
      await w.page.getByRole('status').filter({ hasText: 'Role readers created.' }).waitFor();
      await checkPage(w.page, 'tenants');
      // Back to the personal space, where the dataset lives, for the next round.
      await w.page.getByRole('button', { name: 'Switch to personal space' }).click();
      await w.page.getByRole('status').filter({ hasText: 'You are now working in your personal space.' }).waitFor();
    } else {
      await checkPage(w.page, `tenants${suffix}`);
    }

    await visit(w, '/settings', 'Settings', `settings${suffix}`);
    await w.page.goto(server.url + '/no/such/page');
    await w.page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
    await checkPage(w.page, `not-found${suffix}`);
    w.assertClean();
    await w.context.close();
  }
});
