/**
 * Fault injection for availability tests, preloaded into a real server process with
 * `NODE_OPTIONS=--import=<this file>`. On SIGUSR2 it makes the three kinds of failure nothing in the
 * process catches: an error thrown from a timer, a promise rejected with no handler, and an `error`
 * event emitted with no listener. Without a last-resort guard each of them ends the process.
 */
import { EventEmitter } from 'node:events';
import process from 'node:process';
import { setImmediate, setTimeout } from 'node:timers';

process.on('SIGUSR2', () => {
  setTimeout(() => {
    throw new Error('injected fault: thrown from a timer');
  }, 0);
  setImmediate(() => void Promise.reject(new Error('injected fault: rejected with no handler')));
  setImmediate(() => new EventEmitter().emit('error', new Error('injected fault: error event with no listener')));
});
