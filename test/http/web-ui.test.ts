/**
 * The web UI as the server serves it (D21): content negotiation on `/`, page paths answered with the
 * app for browsers only, hashed assets, the Content-Security-Policy, and SERVE_UI=false.
 * The browser itself is driven in test/browser/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { locateUi, UI_CONTENT_SECURITY_POLICY } from '../../src/http/ui.js';
import { startTestServer, type TestServer } from '../helpers/harness.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const JSON_BODY = { message: 'Hello, World, I am alive!' };

function builtUi(): string {
  const root = locateUi();
  assert.ok(root, 'the web UI must be built (npm run build, or npm test builds it) before this suite runs');
  return root;
}

describe('web UI serving', () => {
  let server: TestServer;
  let indexHtml: string;
  before(async () => {
    indexHtml = readFileSync(`${builtUi()}/index.html`, 'utf8');
    server = await startTestServer();
  });
  after(async () => server.close());

  test('D21: GET / answers API clients with the reference JSON, whatever they accept', async () => {
    const c = server.client();
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html;q=0.5', 'text/html;q=0']) {
      const res = await c.get('/', { headers: accept ? { accept } : {} });
      assert.equal(res.status, 200, String(accept));
      assert.deepEqual(res.body, JSON_BODY, String(accept));
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, String(accept));
      assert.match(res.headers.get('vary') ?? '', /\bAccept\b/i, 'a cache must keep the two answers apart');
    }
  });

  test('D21: a browser asking for HTML at / lands in the app, under a strict Content-Security-Policy', async () => {
    const res = await server.client().get('/', { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.text, indexHtml);
    assert.equal(res.headers.get('content-security-policy'), UI_CONTENT_SECURITY_POLICY);
    const csp = res.headers.get('content-security-policy')!;
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/, 'no inline code, no eval, no other origin');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('vary') ?? '', /\bAccept\b/i);
  });

  test('the built page has no inline script or style, so it runs under that policy', () => {
    const scripts = [...indexHtml.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    assert.ok(scripts.length > 0);
    for (const [, attrs, body] of scripts) {
      assert.match(attrs!, /\bsrc="\/assets\/[^"]+\.js"/);
      assert.equal(body!.trim(), '');
    }
    assert.doesNotMatch(indexHtml, /<style\b|\sstyle=|\son[a-z]+=/i);
    assert.doesNotMatch(indexHtml, /https?:\/\//, 'nothing is loaded from another origin');
  });

  test('page paths answer the app to browsers and the JSON 404 to everyone else', async () => {
    const c = server.client();
    for (const path of [
      '/sign-in',
      '/datasets',
      '/datasets/0b9e5c43-6c0f-4f7a-9a55-1e1d8f0d1a2b/graph',
      '/reset-password?token=abc',
      '/verify?token=x',
      '/no/such/page',
    ]) {
      const page = await c.get(path, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(page.status, 200, path);
      assert.equal(page.text, indexHtml, path);
      assert.equal(page.headers.get('content-security-policy'), UI_CONTENT_SECURITY_POLICY, path);
      const api = await c.get(path, { headers: { accept: 'application/json' } });
      assert.deepEqual([api.status, api.body], [404, { detail: 'Not Found' }], path);
      const bare = await c.get(path);
      assert.deepEqual([bare.status, bare.body], [404, { detail: 'Not Found' }], path);
    }
  });

  test('the API, the docs and unsafe methods never answer the app', async () => {
    const c = server.client();
    for (const path of ['/api/v1/nothing', '/api/v1', '/api', '/docs/nothing', '/openapi.json/x', '/health/x']) {
      const res = await c.get(path, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, { detail: 'Not Found' }, path);
    }
    const me = await c.get('/api/v1/users/me', { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(me.status, 401, 'an API route keeps its own answer for a browser');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await c.request(method, '/datasets', { headers: { accept: BROWSER_ACCEPT } });
      assert.deepEqual([res.status, res.body], [404, { detail: 'Not Found' }], method);
    }
  });

  test('hashed assets are served with their type, cached for good, and nothing outside them is', async () => {
    const c = server.client();
    const refs = [...indexHtml.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), 'the page links its script and style');
    for (const ref of refs) {
      const res = await c.get(ref);
      assert.equal(res.status, 200, ref);
      assert.match(res.headers.get('content-type') ?? '', ref.endsWith('.js') ? /^text\/javascript/ : /^text\/css/, ref);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', ref);
      assert.equal(res.text, readFileSync(`${builtUi()}${ref}`, 'utf8'), ref);
    }
    for (const path of ['/assets/missing.js', '/assets/../index.html', '/assets/%2e%2e/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json']) {
      const res = await c.get(path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.text, /"name":\s*"engram"/, path);
    }
  });

  test('API answers carry a policy that lets nothing run or frame them', async () => {
    const res = await server.client().get('/health');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    const docs = await server.client().get('/docs');
    assert.equal(docs.status, 200);
    assert.equal(docs.headers.get('content-security-policy'), null, 'the interactive API docs keep their own scripts');
  });
});

describe('SERVE_UI=false', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { SERVE_UI: 'false' } });
  });
  after(async () => server.close());

  test('the server answers only the API: JSON at / for a browser too, no assets, no pages', async () => {
    const c = server.client();
    const root = await c.get('/', { headers: { accept: BROWSER_ACCEPT } });
    assert.deepEqual([root.status, root.body], [200, JSON_BODY]);
    const page = await c.get('/sign-in', { headers: { accept: BROWSER_ACCEPT } });
    assert.deepEqual([page.status, page.body], [404, { detail: 'Not Found' }]);
    const ref = /src="(\/assets\/[^"]+)"/.exec(readFileSync(`${builtUi()}/index.html`, 'utf8'))![1]!;
    assert.equal((await c.get(ref)).status, 404);
  });
});
