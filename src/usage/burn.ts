import type { BudgetStatus } from '../policy/decide.js';

/** When a budget runs out at its current pace, from the average burn rate since its window started. */
export interface Projection {
  /** Tokens per hour, averaged over the window so far. */
  tokensPerHour: number;
  /** Unix seconds when used tokens reach free_tokens; null when nothing is being used. */
  runsOutAt: number | null;
  /** True when that happens before the window renews (never for `total`, which does not renew). */
  beforeWindowEnds: boolean;
}

/** Projects a budget's exhaustion. Pure. */
export function project(s: BudgetStatus, nowMs: number): Projection {
  const now = nowMs / 1000;
  const elapsed = Math.max(1, now - s.window.start);
  const perSec = s.used / elapsed;
  const left = s.budget.freeTokens - s.used;
  const runsOutAt = left <= 0 ? now : perSec > 0 ? Math.round(now + left / perSec) : null;
  return {
    tokensPerHour: Math.round(perSec * 3600),
    runsOutAt,
    beforeWindowEnds: runsOutAt !== null && s.window.end !== Infinity && runsOutAt < s.window.end,
  };
}
