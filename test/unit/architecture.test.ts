import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The shape of `src/` as docs/architecture.md draws it: imports go one way between the layers
 * (http → auth → access → memory → storage, all of them → config), no import cycle anywhere
 * (type-only imports included), and the HTTP layer never talks to a database.
 */

const SRC = resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

const files = sourceFiles(SRC);
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));

/** The source files `file` imports (static, dynamic and type-only imports and re-exports). */
function importsOf(file: string): string[] {
  const source = text.get(file)!;
  const specifiers = [
    ...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g),
    ...source.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts')).filter((p) => text.has(p));
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));
const layerOf = (file: string) => {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : '(root)';
};

/** Which layers each layer may import (besides itself and the shared root modules: errors, ids, logger). */
const ALLOWED: Record<string, readonly string[]> = {
  config: [],
  security: ['config'],
  storage: ['config'],
  memory: ['config', 'security', 'storage'],
  access: ['config', 'storage'],
  auth: ['config', 'access', 'storage'],
  http: ['config', 'auth', 'access', 'memory', 'security'],
};

describe('architecture of src/', () => {
  it('has no import cycle (type-only imports included)', () => {
    const cycles: string[][] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') cycles.push(stack.slice(stack.indexOf(next)).map((f) => relative(SRC, f)));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
    assert.ok(graph.size > 50 && [...graph.values()].some((deps) => deps.length > 3), 'the import graph was read');
  });

  it('imports go one way between the layers', () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      const from = layerOf(file);
      const allowed = ALLOWED[from];
      if (!allowed) continue; // the root modules, the CLI and the server wiring may import any layer
      for (const dep of deps) {
        const to = layerOf(dep);
        if (to !== from && to !== '(root)' && !allowed.includes(to)) wrong.push(`${relative(SRC, file)} → ${relative(SRC, dep)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('the HTTP layer makes no database call: no Kysely, no SQL, no storage import', () => {
    const http = files.filter((f) => layerOf(f) === 'http');
    assert.ok(http.length > 10);
    const offenders = http.filter((f) => {
      const source = text.get(f)!;
      return (
        /from ['"]kysely['"]|from ['"]pg['"]|\bsql`|\.(selectFrom|insertInto|updateTable|deleteFrom)\(/.test(source) ||
        importsOf(f).some((d) => layerOf(d) === 'storage')
      );
    });
    assert.deepEqual(
      offenders.map((f) => relative(SRC, f)),
      [],
    );
  });
});
