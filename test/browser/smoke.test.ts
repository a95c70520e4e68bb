import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';
import { checkPage, here, launchBrowser, openPage, scriptVisibleState, seriousViolations } from './harness.js';

let server: TestServer;
let browser: Browser;
before(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('opening / in a browser lands on the sign-in page, which passes axe and its policy', async () => {
  const w = await openPage(browser);
  await w.page.goto(server.url + '/');
  await w.page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
  assert.equal(here(w.page), '/sign-in');
  await checkPage(w.page, 'sign-in');
  w.assertClean();
  await w.context.close();
});

test('D21: signing in keeps the session where no script can read it', async () => {
  const email = uniqueEmail('smoke');
  const password = strongPassword();
  const reg = await server.client().post('/api/v1/auth/register', { json: { email, password } });
  assert.equal(reg.status, 201);
  const w = await openPage(browser);
  await w.page.goto(server.url + '/sign-in');
  await w.page.getByLabel('E-mail').fill(email);
  await w.page.getByLabel('Password').fill('not the password at all');
  await w.page.getByRole('button', { name: 'Sign in' }).click();
  await w.page.getByRole('alert').filter({ hasText: 'Wrong e-mail or password.' }).waitFor();
  await w.page.getByLabel('Password').fill(password);
  await w.page.getByRole('button', { name: 'Sign in' }).click();
  await w.page.getByRole('button', { name: 'Sign out' }).waitFor();
  const state = await scriptVisibleState(w.page);
  assert.deepEqual(state, { cookie: '', local: {}, session: {} }, 'no token in document.cookie, localStorage or sessionStorage');
  const cookies = await w.context.cookies();
  const session = cookies.find((c) => c.name === 'auth_token');
  assert.ok(session, 'the session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  w.assertClean();
  await w.context.close();
});

test('the checks themselves can fail: axe reports an unlabelled field, the watcher an inline script', async () => {
  const w = await openPage(browser);
  await w.page.goto(server.url + '/sign-in');
  await w.page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
  await w.page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'text';
    document.querySelector('main')!.append(input);
    const script = document.createElement('script');
    script.textContent = 'window.__ran = true';
    document.body.append(script);
  });
  const violations = await seriousViolations(w.page);
  assert.ok(
    violations.some((v) => v.id === 'label'),
    JSON.stringify(violations),
  );
  assert.equal(await w.page.evaluate(() => (window as unknown as { __ran?: boolean }).__ran ?? false), false, 'the policy blocked the inline script');
  await w.page.waitForTimeout(100);
  assert.ok(
    w.problems.some((p) => p.startsWith('CSP: script-src')),
    JSON.stringify(w.problems),
  );
  assert.throws(() => w.assertClean());
  await w.context.close();
});
