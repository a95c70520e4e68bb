/**
 * Permission resolution at scale: a user who can see 10,000 datasets through 50 roles in 3 tenants,
 * in a system of 100,000 datasets and in one of 10,000 — the latency of `GET /api/v1/datasets`
 * (over HTTP, against the real server in its own process) and of a single-dataset permission check
 * (`requireOnAll`, the function every dataset route calls, in-process on the same database), on
 * SQLite and on PostgreSQL. Target: the large system costs at most 1.2× the small one.
 *
 * Run alone with `node --import tsx bench/permissions.ts`, or as part of `npm run bench`.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { requireOnAll, subjectOf } from '../src/access/index.js';
import { loadConfig } from '../src/config/index.js';
import { hashPassword } from '../src/auth/passwords.js';
import { openRelationalStore } from '../src/storage/index.js';
import type { Database } from '../src/storage/index.js';
import { createPgDatabase } from '../test/helpers/harness.js';

const VISIBLE = 10_000;
const ROLES = 50;
const TENANTS = 3;
const LIST_SAMPLES = Number(process.env.BENCH_PERMISSION_LIST_SAMPLES ?? 100);
const CHECK_SAMPLES = Number(process.env.BENCH_PERMISSION_CHECK_SAMPLES ?? 2000);
const TSX = import.meta.resolve('tsx');
const PASSWORD = 'permission-bench-password';

const now = new Date().toISOString();

async function insertChunks<T>(rows: T[], size: number, insert: (chunk: T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

/** Seeds the world directly in the relational store; returns the measured user's e-mail and ids. */
async function seed(db: Kysely<Database>, total: number) {
  const perms = ['read', 'write', 'delete', 'share'].map((name) => ({ id: randomUUID(), name, created_at: now, updated_at: now }));
  await db.insertInto('permissions').values(perms).execute();
  const permId = Object.fromEntries(perms.map((p) => [p.name, p.id])) as Record<string, string>;

  const userId = randomUUID();
  const email = `bench-${userId.slice(0, 8)}@example.com`;
  const owners = Array.from({ length: 100 }, () => randomUUID());
  const tenants = Array.from({ length: TENANTS }, () => randomUUID());
  const roles = Array.from({ length: ROLES }, (_, i) => ({ id: randomUUID(), name: `role-${i}`, tenant_id: tenants[i % TENANTS]! }));

  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('principals')
      .values([
        { id: userId, type: 'user', created_at: now, updated_at: now },
        ...owners.map((id) => ({ id, type: 'user' as const, created_at: now, updated_at: now })),
        ...tenants.map((id) => ({ id, type: 'tenant' as const, created_at: now, updated_at: now })),
        ...roles.map((r) => ({ id: r.id, type: 'role' as const, created_at: now, updated_at: now })),
      ])
      .execute();
    await trx
      .insertInto('tenants')
      .values(tenants.map((id, i) => ({ id, name: `tenant-${i}`, owner_id: owners[i]!, external_id: null })))
      .execute();
    const hashed = await hashPassword(PASSWORD);
    const user = (id: string, mail: string, tenant: string | null) => ({
      id,
      email: mail,
      hashed_password: hashed,
      is_active: true,
      is_superuser: false,
      is_verified: true,
      tenant_id: tenant,
      parent_user_id: null,
      tokens_valid_after: 0,
      is_external: false,
    });
    await trx
      .insertInto('users')
      .values([user(userId, email, tenants[0]!), ...owners.map((id, i) => user(id, `owner-${i}-${id.slice(0, 6)}@example.com`, null))])
      .execute();
    await trx.insertInto('roles').values(roles).execute();
    await trx
      .insertInto('user_tenants')
      .values(tenants.map((tenant_id) => ({ user_id: userId, tenant_id, created_at: now })))
      .execute();
    await trx
      .insertInto('user_roles')
      .values(roles.map((r) => ({ user_id: userId, role_id: r.id, created_at: now })))
      .execute();
  });

  // Datasets: the first VISIBLE are in the user's active tenant and granted `read` to one of the
  // user's roles; the rest belong to other owners, spread over the tenants and personal spaces.
  const datasets = Array.from({ length: total }, (_, i) => ({
    id: randomUUID(),
    name: `dataset-${i}`,
    owner_id: owners[i % owners.length]!,
    tenant_id: i < VISIBLE ? tenants[0]! : i % 4 === 0 ? null : tenants[i % TENANTS]!,
    created_at: now,
    updated_at: now,
  }));
  await insertChunks(datasets, 500, (chunk) => db.insertInto('datasets').values(chunk).execute());
  const acls: Database['acls'][] = [];
  for (const [i, d] of datasets.entries()) {
    for (const p of ['read', 'write', 'delete', 'share']) {
      acls.push({ id: randomUUID(), principal_id: d.owner_id, permission_id: permId[p]!, dataset_id: d.id, created_at: now, updated_at: now });
    }
    if (i < VISIBLE) {
      acls.push({ id: randomUUID(), principal_id: roles[i % ROLES]!.id, permission_id: permId.read!, dataset_id: d.id, created_at: now, updated_at: now });
    }
  }
  await insertChunks(acls, 500, (chunk) => db.insertInto('acls').values(chunk).execute());
  return { email, userId, visibleId: datasets[VISIBLE - 1]!.id, hiddenId: total > VISIBLE ? datasets[total - 1]!.id : randomUUID() };
}

function quantiles(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p99: q(0.99) };
}

interface Measurement {
  backend: string;
  total: number;
  list: { p50: number; p99: number; count: number };
  check: { p50: number; p99: number };
}

interface World {
  readonly total: number;
  readonly root: string;
  readonly env: Record<string, string>;
  readonly pg: Awaited<ReturnType<typeof createPgDatabase>> | undefined;
  readonly store: ReturnType<typeof openRelationalStore>;
  readonly world: Awaited<ReturnType<typeof seed>>;
  readonly subject: Awaited<ReturnType<typeof subjectOf>>;
}

async function seedWorld(backend: 'sqlite' | 'postgres', total: number): Promise<World> {
  const root = mkdtempSync(join(tmpdir(), 'engram-perm-bench-'));
  const pg = backend === 'postgres' ? await createPgDatabase() : undefined;
  const env: Record<string, string> = {
    SYSTEM_ROOT_DIRECTORY: join(root, 'system'),
    RATE_LIMIT_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    HTTP_API_HOST: '127.0.0.1',
    ...(pg?.env ?? {}),
  };
  const store = openRelationalStore(loadConfig(env, root));
  await store.migrate();
  const world = await seed(store.db, total);
  await sql`ANALYZE`.execute(store.db);
  const { tenant_id: tenantId } = await store.db.selectFrom('users').select('tenant_id').where('id', '=', world.userId).executeTakeFirstOrThrow();
  const subject = await subjectOf(store.db, { user: { id: world.userId, tenantId } });
  return { total, root, env, pg, store, world, subject };
}

/** Starts the real server on a seeded world and logs its user in; returns the listing call. */
async function serve(w: World) {
  const child = fork(join(import.meta.dirname, 'server.ts'), [], {
    execArgv: ['--import', TSX],
    env: { PATH: process.env.PATH ?? '', ENGRAM_BENCH_CWD: w.root, ...w.env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { type: string; url?: string }) => m.type === 'ready' && resolve(m.url!));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const login = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', body: new URLSearchParams({ username: w.world.email, password: PASSWORD }) });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const headers = { authorization: `Bearer ${token}` };
  const list = async () => {
    const res = await fetch(`${url}/api/v1/datasets`, { headers });
    return ((await res.json()) as unknown[]).length;
  };
  const stop = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ type: 'shutdown' });
    await exited;
  };
  return { list, stop };
}

/**
 * Both system sizes of one store, measured side by side: the small and the large world are seeded
 * and served at once and every sample alternates between them, so a load change on the machine
 * reaches both sides of the ratio alike.
 */
async function measurePair(backend: 'sqlite' | 'postgres'): Promise<Measurement[]> {
  const worlds: World[] = [];
  try {
    for (const total of [10_000, 100_000]) worlds.push(await seedWorld(backend, total));
    const checks = worlds.map(() => [] as number[]);
    for (const w of worlds) for (let i = 0; i < 200; i++) await requireOnAll(w.store.db, w.subject, 'read', [w.world.visibleId]);
    for (let i = 0; i < CHECK_SAMPLES; i++) {
      for (const [k, w] of worlds.entries()) {
        const t0 = performance.now();
        await requireOnAll(w.store.db, w.subject, 'read', [w.world.visibleId]);
        checks[k]!.push(performance.now() - t0);
      }
    }
    for (const w of worlds) {
      await requireOnAll(w.store.db, w.subject, 'read', [w.world.hiddenId]).then(
        () => {
          throw new Error('the hidden dataset must be refused');
        },
        () => {},
      );
      await w.store.close();
    }

    // The listing, over HTTP, against the real servers.
    const servers = [];
    try {
      for (const w of worlds) servers.push(await serve(w));
      for (const server of servers) {
        for (let i = 0; i < 3; i++) {
          const count = await server.list();
          if (count !== VISIBLE) throw new Error(`the user should see ${VISIBLE} datasets, saw ${count}`);
        }
      }
      const lists = worlds.map(() => [] as number[]);
      for (let i = 0; i < LIST_SAMPLES; i++) {
        for (const [k, server] of servers.entries()) {
          const t0 = performance.now();
          await server.list();
          lists[k]!.push(performance.now() - t0);
        }
      }
      return worlds.map((w, k) => ({ backend, total: w.total, list: { ...quantiles(lists[k]!), count: VISIBLE }, check: quantiles(checks[k]!) }));
    } finally {
      for (const server of servers) await server.stop();
    }
  } finally {
    for (const w of worlds) {
      await w.pg?.drop();
      rmSync(w.root, { recursive: true, force: true });
    }
  }
}

/** Runs the measurements and returns the report section (Markdown lines) and whether targets held. */
export async function permissionBench(): Promise<{ lines: string[]; ok: boolean }> {
  const results: Measurement[] = [];
  for (const backend of ['sqlite', 'postgres'] as const) results.push(...(await measurePair(backend)));
  const fmt = (n: number) => n.toFixed(2);
  const lines: string[] = [];
  let ok = true;
  lines.push('## Permission resolution at scale');
  lines.push('');
  lines.push(`A user sees ${VISIBLE.toLocaleString('en-US')} datasets through ${ROLES} roles in ${TENANTS} tenants. The same user and grants in a`);
  lines.push("system of 10,000 datasets and of 100,000 (each dataset also carries its owner's four grants). The listing is");
  lines.push(`\`GET /api/v1/datasets\` over HTTP (${LIST_SAMPLES} sequential requests to each size, alternating, full JSON answer read); the check is one`);
  lines.push(`\`requireOnAll(read, [id])\` in-process, as every dataset route calls it (${CHECK_SAMPLES} calls to each, alternating).`);
  lines.push('');
  lines.push('| Store | Datasets in the system | Listing p50 (ms) | Listing p99 (ms) | Check p50 (ms) | Check p99 (ms) |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    lines.push(`| ${r.backend} | ${r.total.toLocaleString('en-US')} | ${fmt(r.list.p50)} | ${fmt(r.list.p99)} | ${fmt(r.check.p50)} | ${fmt(r.check.p99)} |`);
  }
  lines.push('');
  lines.push('| Store | Listing p50, 100k ÷ 10k | Check p50, 100k ÷ 10k | Target | Result |');
  lines.push('|---|---:|---:|---:|---|');
  for (const backend of ['sqlite', 'postgres']) {
    const small = results.find((r) => r.backend === backend && r.total === 10_000)!;
    const large = results.find((r) => r.backend === backend && r.total === 100_000)!;
    const listRatio = large.list.p50 / small.list.p50;
    const checkRatio = large.check.p50 / small.check.p50;
    const pass = listRatio <= 1.2 && checkRatio <= 1.2;
    ok &&= pass;
    lines.push(`| ${backend} | ${fmt(listRatio)} | ${fmt(checkRatio)} | ≤ 1.2 | ${pass ? 'PASS' : 'FAIL'} |`);
  }
  return { lines, ok };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { lines, ok } = await permissionBench();
  console.log(lines.join('\n'));
  console.log(ok ? '\nPermission targets met.' : '\nPERMISSION TARGETS MISSED.');
}
