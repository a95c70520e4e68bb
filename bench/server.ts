/**
 * The benchmark's server process: the real server (startEngram), started from the environment the
 * parent passes, listening on a free loopback port. It talks to the parent over IPC (bench/child.ts).
 *
 * Logs go to stdout (the parent points it at a file), as pino writes them in a deployment.
 */
import { startEngram } from '../src/server.js';
import { serveParent, runChild } from './child.js';

runChild('bench server', async () => {
  const cwd = process.env.ENGRAM_BENCH_CWD ?? process.cwd();
  const engram = await startEngram({ env: process.env, cwd, port: 0 });
  serveParent(engram.url, () => engram.close());
});
