import type { PaceSample } from '../usage/burn.js';

/** How far back the steady rate looks, and the shortest span a rate is taken over (shorter is noise). */
const BASE_SPAN_SEC = 600;
const MIN_SPAN_SEC = 20;
/**
 * Looks between polls: at a quarter of the time left until the demotion falls due (so a burst that starts now is
 * seen while there is time to act on it), and at that instant; never closer together than MIN_CHECK_SEC.
 */
export const LOOK_FRACTION = 0.25;
export const MIN_CHECK_SEC = 2;

/** Where a budget is heading, from its recent burn rate. */
export interface Projection {
  /** Tokens per second used for the projection (0: idle or unknown). */
  rate: number;
  /** The steady rate (median over the last 10 minutes) and the latest one, both tokens/s. */
  steady: number;
  latest: number;
  /** Unix seconds (fractional) when use reaches free_tokens at `rate`; null when idle. */
  reachesAt: number | null;
  /** Unix seconds at which the demotion must be sent to route before `reachesAt` (null: none due this window). */
  demoteBy: number | null;
}

export interface ProjectInput {
  freeTokens: number;
  used: number;
  /** Unix seconds up to which `used` is counted. */
  asOf: number;
  windowStart: number;
  windowEnd: number;
  /** Earlier samples of this budget (any window; other windows are ignored). */
  samples: PaceSample[];
  routingDelaySec: number;
}

/**
 * The recent burn rate and when a demotion has to go out. The rate is the larger of the steady one (the median of
 * the per-interval rates over the last 10 minutes, which one odd interval does not move) and the latest one (the
 * last 20 s or more): a burst can bring a demotion forward, never push it back, and noise in one interval does
 * not make it early. A small margin (5% of the time left, at least 1 s) covers the noise of the projection. Pure.
 */
export function projectBudget(p: ProjectInput): Projection {
  // Plain loops: this runs for every budget every cycle, mostly before the JIT warms up.
  const pts: PaceSample[] = [];
  let ordered = true;
  for (let i = 0; i < p.samples.length; i++) {
    const s = p.samples[i];
    if (s.windowStart !== p.windowStart || s.at >= p.asOf || s.at < p.asOf - BASE_SPAN_SEC) continue;
    if (pts.length > 0 && s.at < pts[pts.length - 1].at) ordered = false;
    pts.push(s);
  }
  if (!ordered) pts.sort((a, b) => a.at - b.at);
  // The points are the samples, then (asOf, used): a rate per span of at least MIN_SPAN_SEC between them.
  const rates: number[] = [];
  if (pts.length > 0) {
    let from = pts[0];
    for (let i = 1; i <= pts.length; i++) {
      const at = i < pts.length ? pts[i].at : p.asOf;
      const used = i < pts.length ? pts[i].used : p.used;
      if (at - from.at < MIN_SPAN_SEC) continue;
      rates.push(Math.max(0, used - from.used) / (at - from.at));
      from = i < pts.length ? pts[i] : from;
    }
  }
  let latest = 0;
  for (let i = pts.length - 1; i >= 0; i--) {
    if (p.asOf - pts[i].at < MIN_SPAN_SEC) continue;
    latest = Math.max(0, p.used - pts[i].used) / (p.asOf - pts[i].at);
    break;
  }
  const steady = median(rates);
  const rate = Math.max(steady, latest);
  const left = p.freeTokens - p.used;
  if (rate <= 0 || left <= 0) return { rate, steady, latest, reachesAt: left <= 0 ? p.asOf : null, demoteBy: null };
  const reachesAt = p.asOf + left / rate;
  if (reachesAt >= p.windowEnd) return { rate, steady, latest, reachesAt, demoteBy: null };
  const margin = Math.max(1, 0.05 * (reachesAt - p.asOf));
  return { rate, steady, latest, reachesAt, demoteBy: reachesAt - p.routingDelaySec - margin };
}

/** When to look at a budget again, given when its demotion falls due (see LOOK_FRACTION); null: no need. */
export function lookAt(demoteBy: number | null, nowSec: number): number | null {
  if (demoteBy === null || demoteBy <= nowSec) return null;
  return Math.min(demoteBy, nowSec + Math.max(MIN_CHECK_SEC, (demoteBy - nowSec) * LOOK_FRACTION));
}

/** The median; sorts `xs` in place. */
function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = xs.sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
