/** The little of a measured budget that pace needs (the policy's Measured fits; usage does not import policy). */
export interface Measured {
  budget: { key: string; freeTokens: number };
  window: { start: number; end: number };
  used: number;
}

/** One observation of a budget's use, taken each cycle. */
export interface PaceSample {
  /** Unix seconds. */
  at: number;
  used: number;
  windowStart: number;
}

/** Recent samples per budget key, kept in state so that `status` (another process) sees the same pace. */
export type PaceLog = Record<string, PaceSample[]>;

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
export function project(s: Measured, nowMs: number, samples: PaceSample[] = []): Projection {
  const now = nowMs / 1000;
  const same = samples.filter((p) => p.windowStart === s.window.start && p.at >= now - PACE_SPAN_SEC && p.at <= now - PACE_MIN_SPAN_SEC);
  const base = same.length > 0 ? same[0] : { at: s.window.start, used: 0 };
  const perSec = Math.max(0, s.used - base.used) / Math.max(1, now - base.at);
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
  const now = Math.floor(nowMs / 1000);
  const next: PaceLog = {};
  for (const b of budgets) {
    const kept: PaceSample[] = [];
    const old = log[b.budget.key] ?? [];
    for (let i = 0; i < old.length; i++) {
      const p = old[i];
      if (p.at < now - PACE_SPAN_SEC || p.at >= now || p.windowStart !== b.window.start) continue;
      const prev = kept[kept.length - 1];
      if (prev && p.at < now - DENSE_SEC && p.at - prev.at < THIN_SEC) continue;
      kept.push(p);
    }
    kept.push({ at: now, used: b.used, windowStart: b.window.start });
    next[b.budget.key] = kept;
  }
  return next;
}
