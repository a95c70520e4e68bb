/**
 * The web UI end to end in Chromium against the real server: what a person does, by the names a
 * person (and a screen reader) sees. One account shares a dataset with another and takes it back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestServer, strongPassword, uniqueEmail, type TestServer } from '../helpers/harness.js';
import { startSmtp, type Smtp } from '../helpers/smtp.js';
import { checkPage, here, launchBrowser, openPage, scriptVisibleState, type Watched } from './harness.js';

const UPLOAD = 'Grace Hopper built the first compiler for the Harvard Mark I computer.';
const PASTED = 'Ada Lovelace wrote the first program for the Analytical Engine of Charles Babbage.';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => browser?.close());

/** Waits for a role=status or role=alert region holding `text`. */
function announced(page: Page, text: string | RegExp, role: 'status' | 'alert' = 'status'): Locator {
  return page.getByRole(role).filter({ hasText: text });
}

async function signIn(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(`${url}/sign-in`);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function datasetNames(page: Page): Promise<string[]> {
  const table = page.getByRole('table', { name: 'Datasets you can read' });
  if ((await table.count()) === 0) return [];
  return table.locator('tbody tr td:first-child').allInnerTexts();
}

describe('register → dataset → upload → cognify → search → share → revoke → sign out', () => {
  let server: TestServer;
  let ada: Watched;
  let bob: Watched;
  const adaEmail = uniqueEmail('ada');
  const adaPassword = strongPassword();
  const bobEmail = uniqueEmail('bob');
  const bobPassword = strongPassword();
  let datasetUrl = '';

  before(async () => {
    server = await startTestServer();
    ada = await openPage(browser);
    bob = await openPage(browser);
  });
  after(async () => {
    await ada?.context.close();
    await bob?.context.close();
    await server?.close();
  });

  test('register: a weak password is refused with its reason, then the account is created and signed in', async () => {
    const { page } = ada;
    await page.goto(server.url + '/');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create an account', level: 1 }).waitFor();
    await page.getByLabel('E-mail').fill(adaEmail);
    await page.getByLabel('Password', { exact: true }).fill('password');
    await page.getByLabel('Confirm password').fill('password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await announced(page, /password/i, 'alert').waitFor();
    assert.equal(here(page), '/register');
    await page.getByLabel('Password', { exact: true }).fill(adaPassword);
    await page.getByLabel('Confirm password').fill(adaPassword);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    assert.equal(here(page), '/datasets');
    ada.assertClean();
  });

  test('create a dataset, upload a file, paste text, cognify and watch it complete', async () => {
    const { page } = ada;
    await page.getByLabel('Dataset name').fill('handbook');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await announced(page, 'Dataset handbook was created.').waitFor();
    await page.getByRole('link', { name: 'handbook', exact: true }).click();
    await page.getByRole('heading', { name: 'Dataset handbook', level: 1 }).waitFor();
    datasetUrl = page.url();

    await page.getByLabel('Files to upload').setInputFiles({ name: 'hopper.txt', mimeType: 'text/plain', buffer: Buffer.from(UPLOAD) });
    await page.getByRole('button', { name: 'Upload files' }).click();
    await announced(page, 'Uploaded 1 file.').waitFor();
    await page.getByLabel('Text or URLs').fill(PASTED);
    await page.getByRole('button', { name: 'Add text' }).click();
    await announced(page, 'Added the text.').waitFor();

    await page.getByRole('button', { name: 'Cognify', exact: true }).click();
    await announced(page, /Processing status: Completed/).waitFor({ timeout: 60_000 });
    const items = page.getByRole('table', { name: 'Items in handbook' });
    await items.getByRole('link', { name: 'Download hopper.txt' }).waitFor();
    assert.equal(await items.locator('tbody tr').count(), 2);
    ada.assertClean();
  });

  test('download an item: the original bytes come back', async () => {
    const { page } = ada;
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download hopper.txt' }).click()]);
    assert.equal(download.suggestedFilename(), 'hopper.txt');
    assert.equal(readFileSync((await download.path())!, 'utf8'), UPLOAD);
  });

  test('the knowledge graph: click a node, read its panel, zoom', async () => {
    const { page } = ada;
    await page.getByRole('link', { name: 'Knowledge graph' }).click();
    const picture = page.getByRole('application');
    await picture.waitFor();
    assert.match((await picture.getAttribute('aria-label')) ?? '', /^Knowledge graph of handbook: \d+ of \d+ nodes and \d+ relationships shown\.$/);
    const node = picture.getByRole('button', { name: /^grace hopper \(Entity\)$/i }).first();
    await node.click();
    const panel = page.getByRole('region', { name: 'Node details' });
    await panel.getByRole('heading', { level: 2, name: /grace hopper/i }).waitFor();
    assert.ok(
      (await panel
        .getByRole('list', { name: /^Neighbours of /i })
        .getByRole('listitem')
        .count()) > 0,
    );
    const zoom = page.locator('.graph-zoom');
    const before = await zoom.innerText();
    await page.getByRole('button', { name: 'Zoom in' }).click();
    assert.notEqual(await zoom.innerText(), before);
    await page.getByRole('button', { name: 'Reset view' }).click();
    assert.equal(await zoom.innerText(), before);
    ada.assertClean();
  });

  test('search the dataset: chunks with their document, then an answer, and both in the history', async () => {
    const { page } = ada;
    await page.goto(datasetUrl);
    await page.getByRole('link', { name: 'Search this dataset' }).click();
    await page.getByRole('heading', { name: 'Search', level: 1 }).waitFor();
    assert.equal(await page.getByRole('checkbox', { name: 'handbook' }).isChecked(), true);
    await page.getByRole('textbox', { name: 'Query' }).fill('Who built the first compiler?');
    await page.getByLabel('Search type').selectOption('CHUNKS');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const results = page.getByRole('region', { name: 'Results from handbook' });
    await results.getByRole('list', { name: 'Passages from handbook' }).waitFor();
    assert.match(await results.innerText(), /Grace Hopper built the first compiler/);
    assert.match(await results.innerText(), /hopper/);

    await page.getByRole('textbox', { name: 'Query' }).fill('What did Ada Lovelace write?');
    await page.getByLabel('Search type').selectOption('GRAPH_COMPLETION');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await announced(page, /Searched 1 dataset/).waitFor();
    assert.match(await page.getByRole('region', { name: 'Results from handbook' }).innerText(), /Lovelace/i);
    const history = page.getByRole('table', { name: 'Your past searches' });
    await history.getByRole('row', { name: /What did Ada Lovelace write\?/ }).waitFor();
    await history.getByRole('row', { name: /Who built the first compiler\?/ }).waitFor();
    ada.assertClean();
  });

  test('share the dataset with a second user, who sees it and searches it', async () => {
    const reg = await server.client().post('/api/v1/auth/register', { json: { email: bobEmail, password: bobPassword } });
    assert.equal(reg.status, 201);
    await signIn(bob.page, server.url, bobEmail, bobPassword);
    await bob.page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    assert.deepEqual(await datasetNames(bob.page), [], 'nothing is shared yet');

    const { page } = ada;
    await page.getByRole('link', { name: 'Tenants & roles' }).click();
    await page.getByLabel('Dataset to share').selectOption({ label: 'handbook' });
    await page.getByRole('radio', { name: 'A user' }).check();
    await page.getByLabel('User e-mail').fill(bobEmail);
    assert.equal(await page.getByRole('checkbox', { name: 'Read' }).isChecked(), true);
    await page.getByRole('button', { name: 'Grant permissions' }).click();
    // D23: Bob is outside Ada's personal space, so the share waits for his acceptance.
    await announced(page, `Offered read on handbook to ${bobEmail}: it takes effect once they accept it.`).waitFor();
    const who = page.getByRole('table', { name: 'Who has what on handbook' });
    const bobRow = who.getByRole('row', { name: new RegExp(bobEmail.replace(/[.+]/g, '\\$&')) });
    await bobRow.getByText('read (not accepted yet)').waitFor();

    await bob.page.reload();
    const shared = bob.page.getByRole('table', { name: 'Datasets shared with you' });
    await shared
      .getByRole('row', { name: /handbook/ })
      .getByText('Waiting for you')
      .waitFor();
    await bob.page.getByText('No datasets yet.', { exact: false }).waitFor();
    assert.deepEqual(await datasetNames(bob.page), [], 'an offer grants nothing before it is accepted');
    await shared.getByRole('button', { name: 'Accept handbook' }).click();
    await announced(bob.page, 'The share of handbook was accepted.').waitFor();
    await bob.page.getByRole('link', { name: 'handbook', exact: true }).waitFor();
    await shared
      .getByRole('row', { name: /handbook/ })
      .getByText('Accepted')
      .waitFor();
    await bob.page.getByRole('link', { name: 'Search' }).click();
    await bob.page.getByRole('checkbox', { name: 'handbook' }).check();
    await bob.page.getByRole('textbox', { name: 'Query' }).fill('compiler');
    await bob.page.getByLabel('Search type').selectOption('CHUNKS');
    await bob.page.getByRole('button', { name: 'Search', exact: true }).click();
    await bob.page
      .getByRole('region', { name: 'Results from handbook' })
      .getByText(/Grace Hopper built the first compiler/)
      .waitFor();
    ada.assertClean();
    bob.assertClean();
  });

  test('the first user revokes: the dataset is gone for the second', async () => {
    const { page } = ada;
    await page.getByRole('button', { name: 'Revoke permissions' }).click();
    await announced(page, `Revoked read on handbook from ${bobEmail}.`).waitFor();

    await bob.page.getByRole('link', { name: 'Datasets' }).click();
    await bob.page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    await bob.page.getByText('No datasets yet.', { exact: false }).waitFor();
    assert.deepEqual(await datasetNames(bob.page), []);
    await bob.page.goto(datasetUrl);
    await bob.page.getByRole('heading', { name: 'Dataset not found', level: 1 }).waitFor();
    ada.assertClean();
    bob.assertClean();
  });

  test('D23: the second user declines an offer, then removes a share he accepted', async () => {
    const { page } = ada;
    const offer = async () => {
      await page.getByRole('button', { name: 'Grant permissions' }).click();
      await announced(page, `Offered read on handbook to ${bobEmail}: it takes effect once they accept it.`).waitFor();
    };
    await offer();
    await bob.page.goto(`${server.url}/datasets`);
    const shared = bob.page.getByRole('table', { name: 'Datasets shared with you' });
    await shared.getByRole('button', { name: 'Decline handbook' }).click();
    await announced(bob.page, 'The share of handbook was declined.').waitFor();
    await bob.page.getByText('Nothing has been shared with you.').waitFor();
    assert.deepEqual(await datasetNames(bob.page), []);

    await offer();
    await bob.page.reload();
    await shared.getByRole('button', { name: 'Accept handbook' }).click();
    await bob.page.getByRole('link', { name: 'handbook', exact: true }).waitFor();
    await shared.getByRole('button', { name: 'Remove share of handbook' }).click();
    await bob.page.getByRole('button', { name: 'Cancel remove share of handbook' }).click();
    await bob.page.getByRole('link', { name: 'handbook', exact: true }).waitFor();
    await shared.getByRole('button', { name: 'Remove share of handbook' }).click();
    await bob.page.getByRole('button', { name: 'Yes, remove share of handbook' }).click();
    await announced(bob.page, 'The share of handbook was removed.').waitFor();
    await bob.page.getByText('No datasets yet.', { exact: false }).waitFor();
    assert.deepEqual(await datasetNames(bob.page), []);
    await bob.page.getByText('Nothing has been shared with you.').waitFor();
    ada.assertClean();
    bob.assertClean();
  });

  test('delete an item, then the dataset, each after confirming; cancelling keeps them', async () => {
    const { page } = ada;
    await page.goto(datasetUrl);
    const items = page.getByRole('table', { name: 'Items in handbook' });
    await items.getByRole('button', { name: 'Delete item hopper.txt' }).click();
    await page.getByRole('button', { name: 'Cancel delete item hopper.txt' }).click();
    assert.equal(await items.locator('tbody tr').count(), 2, 'cancel deletes nothing');
    await items.getByRole('button', { name: 'Delete item hopper.txt' }).click();
    await page.getByRole('button', { name: 'Yes, delete item hopper.txt' }).click();
    await announced(page, 'hopper.txt was deleted.').waitFor();
    await items.getByRole('link', { name: 'Download hopper.txt' }).waitFor({ state: 'detached' });
    assert.equal(await items.locator('tbody tr').count(), 1);

    await page.getByRole('link', { name: 'All datasets' }).click();
    await page.getByRole('button', { name: 'Delete dataset handbook' }).click();
    await page.getByText('Delete handbook and everything in it?').waitFor();
    await page.getByRole('button', { name: 'Yes, delete dataset handbook' }).click();
    await announced(page, 'Dataset handbook was deleted.').waitFor();
    assert.deepEqual(await datasetNames(page), []);
    const token = await server.client().login(adaEmail, adaPassword);
    assert.deepEqual((await server.client().get('/api/v1/datasets', { bearer: token })).body, [], 'gone on the server too');
    ada.assertClean();
  });

  test('sign out: the session is gone and the app asks to sign in again', async () => {
    const { page } = ada;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
    assert.deepEqual(
      (await ada.context.cookies()).filter((c) => c.name === 'auth_token'),
      [],
      'the cookie is cleared',
    );
    await page.goto(datasetUrl);
    await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
    assert.match(here(page), /^\/sign-in\?next=/);
    ada.assertClean();
  });
});

describe('sign-in messages, an expired session, the API key shown once', () => {
  let server: TestServer;
  const email = uniqueEmail('keys');
  const password = strongPassword();

  before(async () => {
    server = await startTestServer({ env: { JWT_LIFETIME_SECONDS: '3', AUTH_CACHE_TTL_SECONDS: '0', RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN: '4' } });
    assert.equal((await server.client().post('/api/v1/auth/register', { json: { email, password } })).status, 201);
  });
  after(async () => server?.close());

  test('a wrong password says so; too many attempts say when to try again', async () => {
    const w = await openPage(browser);
    await w.page.goto(server.url + '/sign-in');
    await w.page.getByLabel('E-mail').fill(email);
    await w.page.getByLabel('Password').fill('wrong password here');
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await announced(w.page, 'Wrong e-mail or password.', 'alert').waitFor();
    for (let i = 0; i < 4; i++) await w.page.getByRole('button', { name: 'Sign in' }).click();
    await announced(w.page, /^Too many attempts\. Try again in \d+ s\.$/, 'alert').waitFor();
    assert.equal(here(w.page), '/sign-in');
    w.assertClean();
    await w.context.close();
  });

  test('an expired session sends the user to sign in, and back to the page afterwards', async () => {
    const fresh = await startTestServer({ env: { JWT_LIFETIME_SECONDS: '2', AUTH_CACHE_TTL_SECONDS: '0' } });
    try {
      const user = uniqueEmail('expiry');
      const secret = strongPassword();
      assert.equal((await fresh.client().post('/api/v1/auth/register', { json: { email: user, password: secret } })).status, 201);
      const w = await openPage(browser);
      await signIn(w.page, fresh.url, user, secret);
      await w.page.waitForTimeout(2500);
      await w.page.getByRole('link', { name: 'Search' }).click();
      await announced(w.page, 'Your session has ended. Sign in again.', 'status').waitFor();
      assert.match(here(w.page), /^\/sign-in\?expired=1&next=%2Fsearch$/);
      await w.page.getByLabel('E-mail').fill(user);
      await w.page.getByLabel('Password').fill(secret);
      await w.page.getByRole('button', { name: 'Sign in' }).click();
      await w.page.getByRole('heading', { name: 'Search', level: 1 }).waitFor();
      assert.equal(here(w.page), '/search');
      w.assertClean();
      await w.context.close();
    } finally {
      await fresh.close();
    }
  });

  test('D21: a new API key is shown once, can be copied, works, and is never stored by the page', async () => {
    const fresh = await startTestServer();
    try {
      const user = uniqueEmail('apikey');
      const secret = strongPassword();
      assert.equal((await fresh.client().post('/api/v1/auth/register', { json: { email: user, password: secret } })).status, 201);
      const w = await openPage(browser);
      await w.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: fresh.url });
      await signIn(w.page, fresh.url, user, secret);
      await w.page.getByRole('link', { name: 'API keys' }).click();
      await w.page.getByLabel('Key name').fill('my-agent');
      await w.page.getByRole('button', { name: 'Create API key' }).click();
      const box = w.page.getByRole('region', { name: 'API key created' });
      await box.waitFor();
      const key = await box.getByLabel('New API key').inputValue();
      assert.ok(key.length >= 32, key);
      await box.getByRole('button', { name: 'Copy key' }).click();
      await announced(w.page, 'Copied').waitFor();
      assert.equal(await w.page.evaluate(() => navigator.clipboard.readText()), key);

      const me = await fresh.client().get('/api/v1/users/me', { apiKey: key, cookies: false });
      assert.deepEqual([me.status, me.body.email], [200, user], 'the key shown is the key that works');
      const state = await scriptVisibleState(w.page);
      assert.doesNotMatch(JSON.stringify(state), new RegExp(key), 'not in a cookie or storage');

      await w.page.reload();
      await w.page
        .getByRole('table', { name: 'Your API keys' })
        .getByRole('row', { name: /my-agent/ })
        .waitFor();
      assert.equal(await w.page.getByRole('region', { name: 'API key created' }).count(), 0);
      assert.doesNotMatch(await w.page.content(), new RegExp(key), 'never shown again');

      await w.page.getByRole('button', { name: 'Delete API key my-agent' }).click();
      await w.page.getByRole('button', { name: 'Yes, delete API key my-agent' }).click();
      await announced(w.page, 'API key my-agent deleted.').waitFor();
      const refused = await fresh.client().get('/api/v1/users/me', { apiKey: key, cookies: false });
      assert.equal(refused.status, 401, 'the deleted key no longer works');
      w.assertClean();
      await w.context.close();
    } finally {
      await fresh.close();
    }
  });
});

describe('forgot password: the link in the e-mail opens the reset page', () => {
  let server: TestServer;
  let smtp: Smtp;
  const email = uniqueEmail('reset');
  before(async () => {
    smtp = await startSmtp();
    server = await startTestServer({ env: { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), SMTP_SECURE: 'false' } });
    assert.equal((await server.client().post('/api/v1/auth/register', { json: { email, password: strongPassword() } })).status, 201);
  });
  after(async () => {
    await server?.close();
    await smtp?.close();
  });

  test('ask for the link, open it, set a new password, sign in with it', async () => {
    const w = await openPage(browser);
    await w.page.goto(server.url + '/sign-in');
    await w.page.getByRole('link', { name: 'Forgot your password?' }).click();
    await w.page.getByLabel('E-mail').fill(email);
    await w.page.getByRole('button', { name: 'Send reset link' }).click();
    await announced(w.page, /If an account exists for that address/).waitFor();
    const deadline = Date.now() + 10_000;
    while (smtp.messages.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const link = /https?:\/\/\S+\/reset-password\?token=\S+/.exec(smtp.messages[0]?.body ?? '')?.[0];
    assert.ok(link, 'the e-mail holds a link to the reset page');
    const target = new URL(link);
    await w.page.goto(server.url + target.pathname + target.search);
    await w.page.getByRole('heading', { name: 'Reset your password', level: 1 }).waitFor();
    const fresh = strongPassword();
    await w.page.getByLabel('New password', { exact: true }).fill(fresh);
    await w.page.getByLabel('Confirm new password').fill(fresh);
    await w.page.getByRole('button', { name: 'Set new password' }).click();
    await announced(w.page, 'Your password was changed. Sign in with the new one.').waitFor();
    assert.equal(here(w.page), '/sign-in?reset=1');
    await w.page.getByLabel('E-mail').fill(email);
    await w.page.getByLabel('Password').fill(fresh);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();

    // The same link a second time is refused.
    await w.page.goto(server.url + target.pathname + target.search);
    await w.page.getByLabel('New password', { exact: true }).fill(strongPassword());
    await w.page.getByLabel('Confirm new password').fill(await w.page.getByLabel('New password', { exact: true }).inputValue());
    await w.page.getByRole('button', { name: 'Set new password' }).click();
    await announced(w.page, 'This reset link is not valid or has expired. Ask for a new one.', 'alert').waitFor();
    await checkPage(w.page, 'reset-password-refused');
    w.assertClean();
    await w.context.close();
  });

  test('ask for a verification link, open it from the e-mail: the address is verified', async () => {
    const user = uniqueEmail('verify');
    assert.equal((await server.client().post('/api/v1/auth/register', { json: { email: user, password: strongPassword() } })).status, 201);
    const before = smtp.messages.length;
    const w = await openPage(browser);
    await w.page.goto(server.url + '/verify');
    await w.page.getByLabel('E-mail').fill(user);
    await w.page.getByRole('button', { name: 'Send verification link' }).click();
    await announced(w.page, /we sent it a new verification link/).waitFor();
    const deadline = Date.now() + 10_000;
    while (smtp.messages.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const link = /https?:\/\/\S+\/verify\?token=\S+/.exec(smtp.messages[before]?.body ?? '')?.[0];
    assert.ok(link, 'the e-mail holds a link to the verification page');
    const target = new URL(link);
    await w.page.goto(server.url + target.pathname + target.search);
    await announced(w.page, 'Your e-mail address is verified.').waitFor();
    await w.page.goto(server.url + target.pathname + target.search);
    await announced(w.page, /already verified|not valid or has expired/, 'status')
      .or(announced(w.page, /not valid or has expired/, 'alert'))
      .waitFor();
    w.assertClean();
    await w.context.close();
  });
});

describe('tenants: members, a role, a dataset shared with the role', () => {
  let server: TestServer;
  const owner = { email: uniqueEmail('owner'), password: strongPassword() };
  const member = { email: uniqueEmail('member'), password: strongPassword() };
  before(async () => {
    server = await startTestServer();
    for (const u of [owner, member]) assert.equal((await server.client().post('/api/v1/auth/register', { json: u })).status, 201);
  });
  after(async () => server?.close());

  test('create a tenant, add a member, create and assign a role, share with it; removing the member takes it away', async () => {
    const o = await openPage(browser);
    const m = await openPage(browser);
    await signIn(o.page, server.url, owner.email, owner.password);
    await o.page.getByRole('link', { name: 'Tenants & roles' }).click();
    await o.page.getByLabel('Tenant name').fill('lab');
    await o.page.getByRole('button', { name: 'Create tenant' }).click();
    await announced(o.page, 'Tenant lab created. It is now your active tenant.').waitFor();
    await o.page.getByLabel('Member e-mail').fill(member.email);
    await o.page.getByRole('button', { name: 'Add member' }).click();
    await announced(o.page, `${member.email} is now a member of lab.`).waitFor();
    await o.page.getByLabel('Role name').fill('readers');
    await o.page.getByRole('button', { name: 'Create role' }).click();
    await announced(o.page, 'Role readers created.').waitFor();
    await o.page.getByLabel('Member to assign').selectOption({ label: member.email });
    await o.page.getByLabel('Role to assign').selectOption({ label: 'readers' });
    await o.page.getByRole('button', { name: 'Assign role' }).click();
    await announced(o.page, `${member.email} now has the role readers.`).waitFor();

    // A dataset of the tenant, shared with the role only.
    await o.page.getByRole('link', { name: 'Datasets' }).click();
    await o.page.getByLabel('Dataset name').fill('lab_notes');
    await o.page.getByRole('button', { name: 'Create dataset' }).click();
    await announced(o.page, 'Dataset lab_notes was created.').waitFor();
    await o.page.getByRole('link', { name: 'Tenants & roles' }).click();
    await o.page.getByLabel('Dataset to share').selectOption({ label: 'lab_notes' });
    await o.page.getByRole('radio', { name: 'A role' }).check();
    await o.page.getByLabel('Role to share with').selectOption({ label: 'readers' });
    await o.page.getByRole('button', { name: 'Grant permissions' }).click();
    await announced(o.page, 'Granted read on lab_notes to the role readers.').waitFor();
    await o.page
      .getByRole('table', { name: 'Who has what on lab_notes' })
      .getByRole('row', { name: /readers/ })
      .waitFor();

    // The member sees nothing in their personal space, and the dataset once they switch to the tenant.
    await signIn(m.page, server.url, member.email, member.password);
    assert.deepEqual(await datasetNames(m.page), []);
    await m.page.getByRole('link', { name: 'Tenants & roles' }).click();
    await m.page.getByRole('button', { name: 'Switch to tenant lab' }).click();
    await announced(m.page, 'You are now working in lab.').waitFor();
    await m.page.getByRole('link', { name: 'Datasets' }).click();
    await m.page.getByRole('link', { name: 'lab_notes', exact: true }).waitFor();

    // Removed from the tenant: gone.
    await o.page.getByRole('button', { name: `Remove member ${member.email}` }).click();
    await o.page.getByRole('button', { name: `Yes, remove member ${member.email}` }).click();
    await o.page
      .getByRole('table', { name: 'People in lab and their roles' })
      .getByRole('row', { name: new RegExp(member.email.replace(/[.+]/g, '\\$&')) })
      .waitFor({ state: 'detached' });
    await m.page.reload();
    await m.page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    await m.page.getByText('No datasets yet.', { exact: false }).waitFor();
    o.assertClean();
    m.assertClean();
    await o.context.close();
    await m.context.close();
  });
});
