/**
 * The search page's Cypher rows and refusals (D18), and moving the graph picture by pointer and keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';
import { launchBrowser, openPage, type Watched } from './harness.js';

const TEXT = 'Rosalind Franklin photographed DNA in London. Maurice Wilkins worked with Rosalind Franklin in London.';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => browser?.close());

/** A server with one cognified dataset `papers` of a signed-in user, and that user's page. */
async function world(env: Record<string, string>): Promise<{ server: TestServer; w: Watched; datasetId: string }> {
  const server = await startTestServer({ env });
  const email = uniqueEmail('cypher');
  const password = strongPassword();
  const c = server.client();
  assert.equal((await c.post('/api/v1/auth/register', { json: { email, password } })).status, 201);
  const token = await c.login(email, password);
  const datasetId = (await c.post('/api/v1/datasets', { bearer: token, json: { name: 'papers' } })).body.id as string;
  assert.equal((await c.post('/api/v1/add_text', { bearer: token, json: { textData: [TEXT], datasetId } })).status, 200);
  assert.equal((await c.post('/api/v1/cognify', { bearer: token, json: { datasetIds: [datasetId] } })).status, 200);
  const w = await openPage(browser);
  await w.page.goto(`${server.url}/sign-in`);
  await w.page.getByLabel('E-mail').fill(email);
  await w.page.getByLabel('Password').fill(password);
  await w.page.getByRole('button', { name: 'Sign in' }).click();
  await w.page.getByRole('heading', { level: 1, name: 'Datasets' }).waitFor();
  return { server, w, datasetId };
}

async function cypher(page: Page, url: string, datasetId: string, query: string): Promise<void> {
  await page.goto(`${url}/search?dataset=${datasetId}`);
  await page.getByRole('textbox', { name: 'Query' }).fill(query);
  await page.getByLabel('Search type').selectOption('CYPHER');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
}

describe('Cypher on the search page', () => {
  test('D18: allowed, rows come back as a table whose columns are the returned keys', async () => {
    const { server, w, datasetId } = await world({ ALLOW_CYPHER_QUERY: 'true' });
    try {
      await cypher(w.page, server.url, datasetId, "MATCH (n) WHERE n.type = 'Entity' RETURN n.name AS name ORDER BY name");
      const table = w.page.getByRole('table', { name: 'Rows from papers' });
      await table.waitFor();
      assert.deepEqual(await table.locator('thead th').allInnerTexts(), ['name']);
      const names = await table.locator('tbody td').allInnerTexts();
      assert.ok(names.includes('rosalind franklin'), names.join(', '));
      assert.ok(names.includes('london'), names.join(', '));

      // A write is refused before it runs, in the server's words.
      await cypher(w.page, server.url, datasetId, "CREATE (n:Node {pk: 'x'})");
      await w.page
        .getByRole('alert')
        .filter({ hasText: /CypherSearchError|not allowed|read-only/i })
        .waitFor();
      w.assertClean();
    } finally {
      await w.context.close();
      await server.close();
    }
  });

  test('D18: disabled by default in multi-tenant mode, the page shows the refusal', async () => {
    const { server, w, datasetId } = await world({});
    try {
      await cypher(w.page, server.url, datasetId, 'MATCH (n) RETURN n.name');
      await w.page.getByRole('alert').filter({ hasText: 'Unsupported search type: Cypher query search types are disabled.' }).waitFor();
      assert.equal(await w.page.getByRole('table', { name: 'Rows from papers' }).count(), 0);
      w.assertClean();
    } finally {
      await w.context.close();
      await server.close();
    }
  });
});

describe('the graph picture', () => {
  test('dragging the background and the arrow keys move the picture; Reset view brings it back', async () => {
    const { server, w, datasetId } = await world({});
    try {
      await w.page.goto(`${server.url}/datasets/${datasetId}/graph`);
      const picture = w.page.getByRole('application');
      await picture.waitFor();
      const layer = picture.locator('g[transform^="translate("]').first();
      const start = await layer.getAttribute('transform');
      const box = (await picture.boundingBox())!;
      // Drag from a corner, where no node sits.
      await w.page.mouse.move(box.x + 8, box.y + 8);
      await w.page.mouse.down();
      await w.page.mouse.move(box.x + 108, box.y + 58, { steps: 5 });
      await w.page.mouse.up();
      const dragged = await layer.getAttribute('transform');
      assert.notEqual(dragged, start, 'the drag moved the picture');
      await picture.focus();
      await w.page.keyboard.press('ArrowLeft');
      assert.notEqual(await layer.getAttribute('transform'), dragged, 'the arrow key moved it');
      await w.page.getByRole('button', { name: 'Reset view' }).click();
      assert.equal(await layer.getAttribute('transform'), start);
      w.assertClean();
    } finally {
      await w.context.close();
      await server.close();
    }
  });
});
