/** The little of a measured budget that pace needs (the policy's Measured fits; usage does not import policy). */
export interface Measured {
  budget: { key: string; freeTokens: number };
  window: { start: number; end: number };
  used: number;
}

/**
 * One budget's recent use in its current window, oldest first: sample i was taken `at[i]` seconds after
 * `windowStart` (strictly increasing), with `used[i]` tokens used by then. Parallel arrays of small numbers, because
 * ~40 samples × thousands of budgets are read and written every cycle: as one object per sample, with unix times,
 * the pace was 3 MB of a 3.2 MB state file.
 */
export interface PaceTrack {
  windowStart: number;
  at: number[];
  used: number[];
}

/** Recent samples per budget key, kept in state so that `status` (another process) sees the same pace. */
export type PaceLog = Record<string, PaceTrack>;

/**
 * The samples of `track` that belong to the window starting at `windowStart` (none when it is another window);
 * their `at` counts from `windowStart`.
 */
export function samplesOf(track: PaceTrack | undefined, windowStart: number): { at: number[]; used: number[] } {
  return track && track.windowStart === windowStart ? track : NONE;
}
const NONE = { at: [] as number[], used: [] as number[] };

/** How far back the pace looks, and the shortest span it trusts. */
const PACE_SPAN_SEC = 3600;
const PACE_MIN_SPAN_SEC = 600;
/**
 * Every sample of the last DENSE_SEC is kept (the policy's burn rate looks at each one over the last 10 minutes);
 * older ones only serve as `project`'s base, so one per THIN_SEC is enough. With 2,000 budgets and a 30 s poll
 * that keeps ~39 samples a budget instead of 120, and the state file small enough to read and write every cycle.
 */
const DENSE_SEC = 900;
const THIN_SEC = 300;

/** When a budget runs out at its current pace. */
export interface Projection {
  /** Tokens per hour: over the last hour when samples allow, else averaged over the window so far. */
  tokensPerHour: number;
  /** Unix seconds when used tokens reach free_tokens; null when nothing is being used. */
  runsOutAt: number | null;
  /** True when that happens before the window renews (never for `total`, which does not renew). */
  beforeWindowEnds: boolean;
}

/** Projects a budget's exhaustion from its recent pace (samples of the same window), or its window average. Pure. */
export function project(s: Measured, nowMs: number, track?: PaceTrack): Projection {
  const now = nowMs / 1000;
  const { at, used } = samplesOf(track, s.window.start);
  // The base is the oldest sample of the last hour that is old enough to trust, else the window's start.
  const rel = now - s.window.start;
  let i = 0;
  while (i < at.length && at[i] < rel - PACE_SPAN_SEC) i++;
  const trusted = i < at.length && at[i] <= rel - PACE_MIN_SPAN_SEC;
  const perSec = Math.max(0, s.used - (trusted ? used[i] : 0)) / Math.max(1, rel - (trusted ? at[i] : 0));
  const left = s.budget.freeTokens - s.used;
  const runsOutAt = left <= 0 ? Math.floor(now) : perSec > 0 ? Math.round(now + left / perSec) : null;
  return {
    tokensPerHour: Math.round(perSec * 3600),
    runsOutAt,
    beforeWindowEnds: runsOutAt !== null && s.window.end !== Infinity && runsOutAt < s.window.end,
  };
}

/**
 * Adds this cycle's observations and forgets those older than the pace looks back, or of another window. A sample
 * taken in the same second (or later, after the clock went back) is replaced by this one; samples older than
 * DENSE_SEC are thinned to one per THIN_SEC. Pure.
 */
export function recordPace(log: PaceLog, budgets: Measured[], nowMs: number): PaceLog {
  const next: PaceLog = {};
  for (const b of budgets) {
    const windowStart = b.window.start;
    const now = Math.floor(nowMs / 1000) - windowStart;
    const old = samplesOf(log[b.budget.key], windowStart);
    // Counted first, so that the arrays are made at their size: growing them by push reallocated both arrays of
    // thousands of budgets every cycle.
    let n = 0;
    for (let i = 0, last = -Infinity; i < old.at.length; i++) {
      if (!keep(old.at[i], last, now)) continue;
      last = old.at[i];
      n++;
    }
    const at = new Array<number>(n + 1);
    const used = new Array<number>(n + 1);
    for (let i = 0, j = 0, last = -Infinity; i < old.at.length; i++) {
      if (!keep(old.at[i], last, now)) continue;
      last = at[j] = old.at[i];
      used[j++] = old.used[i];
    }
    at[n] = now;
    used[n] = b.used;
    next[b.budget.key] = { windowStart, at, used };
  }
  return next;
}

/** Whether a sample at `t` stays, the previous one kept being at `last`: of the last hour, before now, thinned. */
function keep(t: number, last: number, now: number): boolean {
  return t >= now - PACE_SPAN_SEC && t < now && !(t < now - DENSE_SEC && t - last < THIN_SEC);
}
