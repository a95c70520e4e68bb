/**
 * The processes the server starts for untrusted work (Cypher sandboxes, document parsers): how a
 * Cypher sandbox process is started, the minimal environment they all get, their resident memory,
 * and the tracking that kills them when the server process exits.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** How the child is started: the worker next to this module, through tsx when running from sources. */
export function sandboxCommand(maxMemoryMb: number): { command: string; args: string[] } {
  const fromSources = import.meta.url.endsWith('.ts');
  const worker = fileURLToPath(new URL(`./worker.${fromSources ? 'ts' : 'js'}`, import.meta.url));
  const heap = `--max-old-space-size=${Math.max(16, Math.floor(maxMemoryMb))}`;
  const args = fromSources ? [heap, '--import', import.meta.resolve('tsx'), worker] : [heap, worker];
  return { command: process.execPath, args };
}

/**
 * The child's whole environment: PATH, and TMPDIR when set (where tsx keeps its cache, and the
 * child's working directory). Nothing else of the server's environment reaches it.
 */
export function sandboxEnv(parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'TMPDIR'] as const) {
    const value = parent[name];
    if (typeof value === 'string' && value !== '') env[name] = value;
  }
  return env;
}

/** Resident memory of a process in bytes, from /proc/<pid>/status; undefined when unknown. */
export async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Every live child process the server starts (sandboxes, parsers): killed when the server process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const each of live) each.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}
