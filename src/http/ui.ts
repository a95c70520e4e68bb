import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './context.js';

/**
 * The web UI (D21): the static files `vite build` writes to dist/ui, served by the server itself.
 * Files are read once at start; page paths answer index.html so the app's own router takes over,
 * but only for a browser asking for HTML: API clients keep the reference's JSON everywhere.
 */

/**
 * The policy the app is built to pass: no inline script or style, nothing from another origin, no
 * framing. An injected script has no way to load code or send data anywhere but this server.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

interface UiFile {
  readonly body: Buffer;
  readonly type: string;
}

export interface UiBundle {
  readonly root: string;
  readonly index: UiFile;
  /** Every file by its URL path (`/assets/index-1a2b.js`). */
  readonly files: ReadonlyMap<string, UiFile>;
}

/** Where the built UI is: beside the compiled server (dist/http → dist/ui), or dist/ui from the sources. */
export function locateUi(): string | undefined {
  const candidates = [fileURLToPath(new URL('../ui/', import.meta.url)), fileURLToPath(new URL('../../dist/ui/', import.meta.url))];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

export function loadUi(root: string): UiBundle {
  const files = new Map<string, UiFile>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const type = TYPES[extname(name).toLowerCase()];
        if (type) files.set(`/${relative(root, path).split(sep).join('/')}`, { body: readFileSync(path), type });
      }
    }
  };
  walk(root);
  const index = files.get('/index.html');
  if (!index) throw new Error(`the web UI at ${root} has no index.html`);
  return { root, index, files };
}

/**
 * True when the client prefers HTML to JSON: a browser navigating (`text/html,...`), not an API
 * client (`application/json`, `*\/*` or no Accept at all).
 */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (!accept) return false;
  let html = -1;
  let json = -1;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const weight = q ? Number(q.slice(2)) : 1;
    if (!Number.isFinite(weight)) continue;
    if (range === 'text/html' || range === 'application/xhtml+xml') html = Math.max(html, weight);
    if (range === 'application/json') json = Math.max(json, weight);
  }
  return html > 0 && html >= json;
}

/** First path segments that are never pages of the app, whatever the Accept header says. */
const RESERVED = new Set(['api', 'docs', 'openapi.json', 'health', 'assets']);

function reserved(path: string): boolean {
  return RESERVED.has(path.split('/', 2)[1] ?? '');
}

export function sendIndex(reply: FastifyReply, bundle: UiBundle): FastifyReply {
  return reply
    .status(200)
    .header('content-type', bundle.index.type)
    .header('cache-control', 'no-cache')
    .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
    .send(bundle.index.body);
}

export function uiRoutes(app: App, bundle: UiBundle): void {
  app.get('/assets/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    const file = bundle.files.get(path);
    if (!file) return reply.status(404).send({ detail: 'Not Found' });
    return (
      reply
        .header('content-type', file.type)
        // Vite names assets by their content hash: a file at one URL never changes.
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
        .send(file.body)
    );
  });
}

/**
 * For the not-found handler: a browser's GET of a page path (not the API) gets the app, which shows
 * its own "page not found" for paths it does not know.
 */
export function isPageRequest(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url.split('?', 1)[0]!;
  return !reserved(path) && wantsHtml(request);
}
