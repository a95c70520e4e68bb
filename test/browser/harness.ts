/**
 * Browser test harness: Debian's Chromium driven headless by playwright-core against the real server
 * (started in-process on a random loopback port). Every page visited can be checked with axe-core,
 * and every Content-Security-Policy violation or uncaught page error fails the test that caused it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.ENGRAM_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots go: ENGRAM_SCREENSHOTS_DIR, or test-results/screenshots (not committed). */
export const SCREENSHOTS = process.env.ENGRAM_SCREENSHOTS_DIR ?? join(process.cwd(), 'test-results', 'screenshots');

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The browser logs every API answer of 4xx as a console error; those are the app's normal replies. */
const EXPECTED = /^console: Failed to load resource: the server responded with a status of 4\d\d/;

export interface Watched {
  readonly page: Page;
  readonly context: BrowserContext;
  /** CSP violations, uncaught errors and console errors seen so far. */
  readonly problems: string[];
  /** Fails when the page broke its policy or threw. Console errors of failed requests the test expects are passed in `allow`. */
  assertClean(allow?: RegExp[]): void;
}

/** A fresh browser context (its own cookies) whose page reports policy violations and errors. */
export async function openPage(browser: Browser, options: { viewport?: { width: number; height: number } } = {}): Promise<Watched> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 860 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  await page.exposeFunction('__engramViolation', (text: string) => problems.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __engramViolation(t: string): void }).__engramViolation(`CSP: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return {
    page,
    context,
    problems,
    assertClean(allow = []) {
      const unexpected = problems.filter((p) => !EXPECTED.test(p) && !allow.some((a) => a.test(p)));
      assert.deepEqual(unexpected, [], 'the page broke its Content-Security-Policy or threw');
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; html: string }>;
}

/**
 * Runs axe-core in the page (through the DevTools protocol, so the page's own policy stays as it
 * is) and returns the serious and critical violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const result = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  })) as { violations: AxeViolation[] };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, html: n.html.slice(0, 200) })) }));
}

/** Asserts axe-core finds no serious or critical violation, and saves a screenshot named `name`. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  const violations = await seriousViolations(page);
  await screenshot(page, name);
  assert.deepEqual(violations, [], `axe-core on ${name}`);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The page's path and query, e.g. `/sign-in?next=%2Fdatasets`. */
export function here(page: Page): string {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

/** What the page could read from script: document.cookie and both storages (D21). */
export async function scriptVisibleState(page: Page): Promise<{ cookie: string; local: Record<string, string>; session: Record<string, string> }> {
  return page.evaluate(() => ({
    cookie: document.cookie,
    local: Object.fromEntries(Object.entries(window.localStorage)),
    session: Object.fromEntries(Object.entries(window.sessionStorage)),
  }));
}
