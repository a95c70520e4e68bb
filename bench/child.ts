/**
 * The child side of the benchmark's IPC protocol (bench/protocol.ts), shared by every server process
 * bench/run.ts forks (bench/server.ts, bench/peer-server.ts):
 *
 *   child → parent  { type: 'ready', url }            once listening
 *   parent → child  { type: 'eld-start' }              reset and enable the event-loop delay histogram
 *   parent → child  { type: 'eld-stop' }   → { type: 'eld', ... }  disable it and report (milliseconds)
 *   parent → child  { type: 'cpu' }        → { type: 'cpu', micros }  process CPU time so far (user+system)
 *   parent → child  { type: 'profile-start' } → { type: 'profile-started' }  start the V8 CPU profiler
 *   parent → child  { type: 'profile-stop', path } → { type: 'profile-saved', path }  write a .cpuprofile
 *   parent → child  { type: 'shutdown' }               close the server and exit 0
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ChildReply, ParentMessage } from './protocol.js';

/** Sampling interval of the event-loop delay monitor, in ms; each sample includes it. */
export const ELD_RESOLUTION_MS = 1;

function send(message: ChildReply) {
  process.send?.(message);
}

/** Answers the parent's messages for a server listening at `url`, and reports it ready. */
export function serveParent(url: string, close: () => Promise<void>): void {
  let histogram: IntervalHistogram | undefined;
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    histogram?.disable();
    try {
      await close();
    } finally {
      process.exit(0);
    }
  };

  const eldStart = () => {
    histogram?.disable();
    histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    histogram.enable();
  };
  const eldStop = () => {
    const h = histogram;
    if (!h) {
      send({ type: 'error', message: 'eld-stop without eld-start' });
      return;
    }
    h.disable();
    histogram = undefined;
    send({
      type: 'eld',
      resolutionMs: ELD_RESOLUTION_MS,
      samples: h.count,
      p50Ms: h.percentile(50) / 1e6,
      p99Ms: h.percentile(99) / 1e6,
      maxMs: h.max / 1e6,
      meanMs: h.mean / 1e6,
    });
  };

  let profiler: Session | undefined;
  const profileStart = async () => {
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
    await profiler.post('Profiler.start');
    send({ type: 'profile-started' });
  };
  const profileStop = async (path: string) => {
    if (!profiler) throw new Error('profile-stop without profile-start');
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    writeFileSync(path, JSON.stringify(profile));
    send({ type: 'profile-saved', path });
  };
  const report = (error: unknown) => send({ type: 'error', message: String((error as Error)?.stack ?? error) });

  process.on('message', (message: ParentMessage) => {
    switch (message.type) {
      case 'profile-start':
        profileStart().catch(report);
        break;
      case 'profile-stop':
        profileStop(message.path).catch(report);
        break;
      case 'eld-start':
        eldStart();
        break;
      case 'eld-stop':
        eldStop();
        break;
      case 'cpu': {
        const usage = process.cpuUsage();
        send({ type: 'cpu', micros: usage.user + usage.system, userMicros: usage.user, systemMicros: usage.system });
        break;
      }
      case 'shutdown':
      case 'stop':
        void shutdown();
        break;
      // Aliases of eld-start / eld-stop for callers of the first version of this protocol.
      case 'eld:reset':
        eldStart();
        send({ type: 'eld:reset:done' });
        break;
      case 'eld:report':
        eldStop();
        break;
    }
  });
  // The parent went away (crash, Ctrl-C): don't linger.
  process.on('disconnect', () => void shutdown());

  send({ type: 'ready', url });
}

/** Runs a server process's start-up; a failure is written to stderr and ends the process. */
export function runChild(name: string, main: () => Promise<void>): void {
  if (!process.send) throw new Error(`${name} must be started by bench/run.ts (it needs an IPC channel)`);
  main().catch((error) => {
    process.stderr.write(`${name} failed to start: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  });
}
