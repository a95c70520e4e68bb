#!/usr/bin/env node
/**
 * Runs the whole suite with Node's test runner: unit tests and the browser suites (test/browser/, in
 * Chromium) once, and the HTTP suites (test/http/) twice, on SQLite and on the local PostgreSQL. Usage: node scripts/run-tests.mjs [--db sqlite|postgres|both] [files...]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
let db = 'both';
const only = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--db') db = args[++i];
  else only.push(args[i]);
}

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.ts')) out.push(relative('.', path));
  }
  return out.sort();
}

/** The suite needs the local PostgreSQL and Redis; start them if this machine has them stopped. */
function ensureServices() {
  const ok = (cmd, a) => spawnSync(cmd, a, { stdio: 'ignore' }).status === 0;
  if (!ok('pg_isready', ['-h', '127.0.0.1', '-q'])) {
    spawnSync('sh', ['-c', 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'], { stdio: 'inherit' });
  }
  if (!ok('redis-cli', ['-h', '127.0.0.1', 'ping'])) {
    spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no'], {
      stdio: 'inherit',
    });
  }
}
ensureServices();

/**
 * The browser suites (test/browser/) drive Debian's Chromium; install it when it is missing and this
 * machine can (root with apt-get), as CI's clean machines need.
 */
function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) {
    process.stdout.write(`${CHROMIUM} is missing and cannot be installed here: install Debian's chromium package\n`);
    return;
  }
  process.stdout.write('=== installing chromium (apt-get) ===\n');
  spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: 'inherit' });
}
const CHROMIUM = process.env.ENGRAM_CHROMIUM ?? '/usr/bin/chromium';

// The suites test the web UI as built from the current sources.
process.stdout.write('=== web UI build ===\n');
const build = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'ui/vite.config.ts', '--logLevel', 'warn'], {
  stdio: 'inherit',
});
if (build.status !== 0) {
  process.stdout.write('\ntests: 0 passed, 1 failed\n');
  process.exit(1);
}

/** What Prettier formats (and the suite checks). */
const FORMATTED = ['src/**/*.ts', 'test/**/*.{ts,mjs}', 'ui/src/**/*.{ts,tsx,css}', 'ui/*.ts', 'bench/**/*.ts', 'scripts/**/*.mjs', '*.{js,json}'];

// The whole suite starts with a type check of the sources, tests, benchmark and web UI.
if (only.length === 0) {
  process.stdout.write('=== typecheck ===\n');
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
  const ui = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'ui/tsconfig.json'], { stdio: 'inherit' });
  const browserTests = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/browser/tsconfig.json'], { stdio: 'inherit' });
  if (tsc.status !== 0 || ui.status !== 0 || browserTests.status !== 0) {
    process.stdout.write('\ntests: 0 passed, 1 failed\n');
    process.exit(1);
  }
  // Then the format (Prettier, .prettierrc.json) and the lint rules (eslint.config.js).
  process.stdout.write('=== format and lint ===\n');
  const format = spawnSync(process.execPath, ['node_modules/prettier/bin/prettier.cjs', '--check', '--log-level', 'warn', ...FORMATTED], { stdio: 'inherit' });
  const lint = spawnSync(process.execPath, ['node_modules/eslint/bin/eslint.js', '.'], { stdio: 'inherit' });
  if (format.status !== 0 || lint.status !== 0) {
    if (format.status !== 0) process.stdout.write('format: run npx prettier --write on the files above\n');
    process.stdout.write('\ntests: 0 passed, 1 failed\n');
    process.exit(1);
  }
}

const all = only.length > 0 ? only : find('test');
const under = (dir) => (f) => f.startsWith(join('test', dir)) || f.startsWith(`test/${dir}`);
const perDb = all.filter(under('http'));
const browser = all.filter(under('browser'));
const once = all.filter((f) => !perDb.includes(f) && !browser.includes(f));
if (browser.length > 0) ensureChromium();

const runs = [];
if (once.length > 0) runs.push({ label: 'unit', files: once, env: { ENGRAM_TEST_DB: 'sqlite' } });
if (browser.length > 0) runs.push({ label: 'browser', files: browser, env: { ENGRAM_TEST_DB: 'sqlite' } });
for (const backend of db === 'both' ? ['sqlite', 'postgres'] : [db]) {
  if (perDb.length > 0) runs.push({ label: `http on ${backend}`, files: perDb, env: { ENGRAM_TEST_DB: backend } });
}

let passed = 0;
let failed = 0;
let status = 0;
for (const run of runs) {
  process.stdout.write(`\n=== ${run.label}: ${run.files.length} files ===\n`);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=900000', ...run.files],
    {
      env: { ...process.env, ...run.env },
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  const pass = /^ℹ pass (\d+)/m.exec(result.stdout ?? '');
  const fail = /^ℹ fail (\d+)/m.exec(result.stdout ?? '');
  passed += pass ? Number(pass[1]) : 0;
  failed += fail ? Number(fail[1]) : 0;
  if (result.status !== 0) status = result.status ?? 1;
  if (!pass) status = status || 1;
}
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed\n`);
process.exit(status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
