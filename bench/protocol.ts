/** IPC messages between bench/run.ts (parent) and the server processes it forks (bench/child.ts). */

export type ParentMessage =
  | { readonly type: 'eld-start' }
  | { readonly type: 'eld-stop' }
  | { readonly type: 'cpu' }
  | { readonly type: 'profile-start' }
  | { readonly type: 'profile-stop'; readonly path: string }
  | { readonly type: 'shutdown' }
  // Aliases kept for callers written against the first version of this protocol.
  | { readonly type: 'stop' }
  | { readonly type: 'eld:reset' }
  | { readonly type: 'eld:report' };

export interface EldReport {
  readonly type: 'eld';
  /** The monitor's sampling interval; every sample includes it, so figures are conservative by up to this. */
  readonly resolutionMs: number;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export type ChildReply =
  | { readonly type: 'ready'; readonly url: string }
  | EldReport
  | { readonly type: 'cpu'; readonly micros: number; readonly userMicros: number; readonly systemMicros: number }
  | { readonly type: 'profile-started' }
  | { readonly type: 'profile-saved'; readonly path: string }
  | { readonly type: 'eld:reset:done' }
  | { readonly type: 'error'; readonly message: string };
