/**
 * Test harness: starts the real server on a random loopback port, on SQLite (a fresh temporary
 * system root) or on the local PostgreSQL (a fresh database per server), and talks to it over HTTP.
 * The backend is chosen by ENGRAM_TEST_DB (sqlite | postgres), set by scripts/run-tests.mjs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { startEngram, type Engram } from '../../src/server.js';

export const TEST_DB = (process.env.ENGRAM_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
export const PG_ADMIN = {
  host: process.env.ENGRAM_TEST_PG_HOST ?? '127.0.0.1',
  port: Number(process.env.ENGRAM_TEST_PG_PORT ?? 5432),
  user: process.env.ENGRAM_TEST_PG_USER ?? 'postgres',
  database: 'postgres',
};

/** A fresh PostgreSQL database; drop() removes it. */
export async function createPgDatabase(): Promise<{ name: string; env: Record<string, string>; drop(): Promise<void> }> {
  const name = `engram_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client(PG_ADMIN);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    name,
    env: {
      DB_PROVIDER: 'postgres',
      DB_HOST: PG_ADMIN.host,
      DB_PORT: String(PG_ADMIN.port),
      DB_USERNAME: PG_ADMIN.user,
      DB_NAME: name,
    },
    async drop() {
      const client = new pg.Client(PG_ADMIN);
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Collects the server's structured log lines. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        this.lines.push(JSON.parse(line));
      } catch {
        this.lines.push({ msg: line });
      }
    }
    done();
  }
  messages(): string[] {
    return this.lines.map((l) => String(l.msg ?? ''));
  }
  text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
  find(pattern: RegExp): Record<string, unknown> | undefined {
    return this.lines.find((l) => pattern.test(String(l.msg ?? '')));
  }
}

/** Defaults for tests: no rate limits (tests that need them turn them on), quiet but captured logs. */
export const BASE_ENV: Record<string, string> = {
  RATE_LIMIT_ENABLED: 'false',
  LOG_LEVEL: 'info',
};

export interface TestServer {
  readonly url: string;
  readonly engram: Engram;
  readonly logs: LogCapture;
  readonly root: string;
  readonly dbEnv: Record<string, string>;
  client(): Client;
  close(): Promise<void>;
}

export interface StartTestServerOptions {
  /** Extra environment, merged over BASE_ENV. */
  readonly env?: Record<string, string>;
  /** Reuse an existing database environment (e.g. two servers sharing one PostgreSQL database). */
  readonly dbEnv?: Record<string, string>;
  /** Reuse a system root (SQLite file, generated secrets). */
  readonly root?: string;
}

export async function startTestServer(options: StartTestServerOptions = {}): Promise<TestServer> {
  const root = options.root ?? mkdtempSync(join(tmpdir(), 'engram-test-'));
  let dbEnv = options.dbEnv;
  let dropDb: (() => Promise<void>) | undefined;
  if (!dbEnv && TEST_DB === 'postgres') {
    const db = await createPgDatabase();
    dbEnv = db.env;
    dropDb = db.drop;
  }
  const logs = new LogCapture();
  const env = {
    ...BASE_ENV,
    SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
    DATA_ROOT_DIRECTORY: join(root, 'data'),
    HTTP_API_HOST: '127.0.0.1',
    ...(dbEnv ?? {}),
    ...(options.env ?? {}),
  };
  let engram: Engram;
  try {
    engram = await startEngram({ env, cwd: root, logDestination: logs, port: 0 });
  } catch (error) {
    await dropDb?.();
    if (!options.root) rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    url: engram.url,
    engram,
    logs,
    root,
    dbEnv: dbEnv ?? {},
    client: () => new Client(engram.url),
    async close() {
      await engram.close();
      await dropDb?.();
      if (!options.root) rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface HttpResult<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: T;
}

export interface RequestOptions {
  readonly json?: unknown;
  readonly form?: Record<string, string>;
  readonly raw?: string | Buffer;
  readonly headers?: Record<string, string>;
  readonly bearer?: string;
  readonly apiKey?: string;
  /** Send the jar's cookies (default true). */
  readonly cookies?: boolean;
}

/** A small HTTP client with a cookie jar, like a browser or an SDK session. */
export class Client {
  readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let body: string | Buffer | undefined;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.raw !== undefined) {
      body = options.raw;
    }
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    if (options.apiKey) headers['x-api-key'] = options.apiKey;
    if (options.cookies !== false && this.jar.size > 0 && headers.cookie === undefined) {
      headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const payload = typeof body === 'string' || body === undefined ? body : new Uint8Array(body);
    const response = await fetch(this.base + path, { method, headers, body: payload, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair, ...attrs] = cookie.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, text, body: parsed as T };
  }

  get<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, options);
  }
  post<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('POST', path, options);
  }
  patch<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('PATCH', path, options);
  }
  delete<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('DELETE', path, options);
  }

  /** Registers (201) and logs in; returns the access token. Cookies land in the jar. */
  async signUp(email: string, password = strongPassword()): Promise<{ token: string; id: string; password: string }> {
    const reg = await this.post('/api/v1/auth/register', { json: { email, password } });
    if (reg.status !== 201) throw new Error(`register ${email}: ${reg.status} ${reg.text}`);
    const token = await this.login(email, password);
    return { token, id: reg.body.id, password };
  }

  async login(email: string, password: string): Promise<string> {
    const res = await this.post('/api/v1/auth/login', { form: { username: email, password } });
    if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${res.text}`);
    return res.body.access_token as string;
  }
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString('hex')}@example.com`;
}

export function strongPassword(): string {
  return `pw-${randomBytes(12).toString('base64url')}`;
}

/** Waits until `check` returns true, polling; throws after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 3000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

/** A real `engram serve` process (the CLI through tsx) on a free port; resolves once it listens. */
export async function spawnServer(env: Record<string, string>, cwd: string, timeoutMs = 300_000): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'src/cli/main.ts'), 'serve'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start:\n${output}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)".*Backend server has started/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`instance exited with ${code}:\n${output}`)));
  });
  return { url, child };
}

/** A signed-up user: their own client (and cookie jar), id, bearer token and e-mail. */
export interface Actor {
  c: Client;
  id: string;
  token: string;
  email: string;
}

/** Registers and logs in a new user on `server` with a unique e-mail starting with `prefix`. */
export async function signUpActor(server: TestServer, prefix: string): Promise<Actor> {
  const c = server.client();
  const email = uniqueEmail(prefix);
  const { id, token } = await c.signUp(email);
  return { c, id, token, email };
}

/** Request options that send the actor's bearer token and no cookies. */
export const asActor = (a: Actor) => ({ bearer: a.token, cookies: false as const });

/** POST /api/v1/add (or `path`, e.g. /api/v1/remember) as multipart form data: `fields`, then each file as `data`, with the actor's token. */
export async function upload(server: TestServer, a: Actor, fields: Record<string, string>, files: { name: string; text: string }[], path = '/api/v1/add') {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append('data', new Blob([f.text], { type: 'text/plain' }), f.name);
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${a.token}` } });
  return { status: response.status, body: (await response.json()) as any };
}

/**
 * D23: a share to a user outside the dataset's tenant waits for the recipient's acceptance. Has the
 * recipient accept every dataset a sharing answer names as pending (each acceptance must succeed).
 */
export async function acceptPending(recipient: Actor | undefined, answer: HttpResult): Promise<void> {
  const pending = ((answer.body as { pending_dataset_ids?: string[] } | undefined)?.pending_dataset_ids ?? []) as string[];
  if (pending.length > 0 && !recipient) throw new Error(`a share waits for a recipient this test does not know: ${answer.text}`);
  for (const id of pending) {
    const res = await recipient!.c.post(`/api/v1/permissions/shares/received/${id}/accept`, asActor(recipient!));
    if (res.status !== 200) throw new Error(`accepting ${id}: ${res.status} ${res.text}`);
  }
}
