/**
 * Fair order of background runs between users. Each job gets a rank when it is queued: how many
 * of its user's runs were already waiting or running. Jobs are taken by rank, then by age, so a
 * user who queues a hundred runs has their second one wait behind every other user's first one
 * (round robin by position), and nobody's single run waits behind another user's backlog.
 * A user already running `maxPerUser` runs here (USER_MAX_CONCURRENT_RUNS) is skipped until
 * one of them ends.
 */
export interface RankedJob {
  readonly id: string;
  readonly userId: string;
  readonly rank: number;
}

/** The job to take next among `queued` (oldest first), or undefined when every user is at their cap. */
export function nextFairJob<T extends RankedJob>(queued: readonly T[], running: (userId: string) => number, maxPerUser: number): T | undefined {
  let best: T | undefined;
  for (const job of queued) {
    if (running(job.userId) >= maxPerUser) continue;
    if (best === undefined || job.rank < best.rank) best = job;
  }
  return best;
}

/** The rank of a new job of `userId`: the user's jobs waiting or running now. */
export function rankOf(userId: string, unfinishedUsers: readonly string[]): number {
  return unfinishedUsers.filter((u) => u === userId).length;
}
