import { readFileSync, readdirSync } from 'node:fs';

/** The live (not zombie) child processes of `parent` whose command line contains `command`, from /proc. */
export function childProcesses(parent: number, command: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command name (in parentheses, possibly with spaces): the state, then the parent pid.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== parent || state === 'Z') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(command)) pids.push(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

/** Whether a process with this pid exists (a zombie counts as gone). */
export function processExists(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The Cypher sandbox processes `parent` started (and that are still there). */
export const sandboxProcesses = (parent: number): number[] => childProcesses(parent, 'cypher-sandbox/worker');
