import { samplesOf, type PaceTrack } from '../usage/burn.js';
import { SLOT_SEC, tokensBetween, typicalElapsed, type Series } from '../usage/timeline.js';

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
  /** How long a request typically lasts (s): what starts before the routing moves is billed up to that much later. */
  elapsedSec: number;
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
  /** Earlier samples of this budget (a track of another window is ignored); used only without `timeline`. */
  track?: PaceTrack;
  /**
   * The budget's (channel, model) slots from the usage timeline, and the LOCAL second from which the timeline is
   * complete. When given, the rates come from OneAPI's own stamps (known on the first cycle), not from `track`.
   */
  timeline?: { series: Series | undefined; from: number };
  routingDelaySec: number;
}

/**
 * The steady (last 10 minutes) and latest rates from the timeline, tokens/s; 0 over < 20 s. The latest runs from
 * the start of the slot holding asOf − 20 s (20 to 50 s back): whole slots, whose rows all lie in the span, so a
 * burst is neither spread over an older slot nor diluted by one.
 */
function timelineRates(p: ProjectInput, t: NonNullable<ProjectInput['timeline']>): { steady: number; latest: number } {
  const rate = (from: number) => {
    from = Math.max(from, p.windowStart, t.from);
    return p.asOf - from < MIN_SPAN_SEC ? 0 : tokensBetween(t.series, from, p.asOf) / (p.asOf - from);
  };
  return { steady: rate(p.asOf - BASE_SPAN_SEC), latest: rate(Math.floor((p.asOf - MIN_SPAN_SEC) / SLOT_SEC) * SLOT_SEC) };
}

/**
 * The recent burn rate and when a demotion has to go out. The rate is the larger of the steady one and the latest
 * one: a burst can bring a demotion forward, never push it back. From the timeline: the last 10 minutes' mean and
 * the last 20 to 50 s (whole slots). Without one (the database source), from the pace samples: the median of the
 * per-interval rates over the last 10 minutes, which one odd interval does not move, and the last 20 s or more. Use
 * is counted to `asOf` (the read end, lagSec behind OneAPI's clock), so the projection runs from there, not now. The demotion must route a typical
 * request's duration before use reaches free_tokens (what starts before the routing moves is billed when it ends),
 * plus the routing delay, plus a small margin (5% of the time left, at least 1 s) for the noise of the projection.
 * Pure.
 */
export function projectBudget(p: ProjectInput): Projection {
  if (p.timeline) {
    const t = timelineRates(p, p.timeline);
    return when(p, t.steady, t.latest, typicalElapsed(p.timeline.series));
  }
  // Plain loops over the track's arrays (oldest first): this runs for every budget every cycle, mostly before the
  // JIT warms up. Times count from the window's start, as the track's do. The points are the samples of the last
  // BASE_SPAN_SEC, then (asOf, used).
  const { at, used } = samplesOf(p.track, p.windowStart);
  const asOf = p.asOf - p.windowStart;
  let first = 0;
  while (first < at.length && at[first] < asOf - BASE_SPAN_SEC) first++;
  let end = first;
  while (end < at.length && at[end] < asOf) end++;
  // A rate per span of at least MIN_SPAN_SEC between the points.
  const rates: number[] = [];
  if (end > first) {
    let from = first;
    for (let i = first + 1; i <= end; i++) {
      const t = i < end ? at[i] : asOf;
      if (t - at[from] < MIN_SPAN_SEC) continue;
      rates.push(Math.max(0, (i < end ? used[i] : p.used) - used[from]) / (t - at[from]));
      if (i < end) from = i;
    }
  }
  let latest = 0;
  for (let i = end - 1; i >= first; i--) {
    if (asOf - at[i] < MIN_SPAN_SEC) continue;
    latest = Math.max(0, p.used - used[i]) / (asOf - at[i]);
    break;
  }
  return when(p, median(rates), latest, 0);
}

/** When use reaches free_tokens at the larger rate, and when the demotion must go out for that. */
function when(p: ProjectInput, steady: number, latest: number, elapsedSec: number): Projection {
  const rate = Math.max(steady, latest);
  const left = p.freeTokens - p.used;
  if (rate <= 0 || left <= 0) return { rate, steady, latest, elapsedSec, reachesAt: left <= 0 ? p.asOf : null, demoteBy: null };
  const reachesAt = p.asOf + left / rate;
  if (reachesAt >= p.windowEnd) return { rate, steady, latest, elapsedSec, reachesAt, demoteBy: null };
  const margin = Math.max(1, 0.05 * (reachesAt - p.asOf));
  return { rate, steady, latest, elapsedSec, reachesAt, demoteBy: reachesAt - elapsedSec - p.routingDelaySec - margin };
}

/** When to look at a budget again, given when its demotion falls due (see LOOK_FRACTION); null: no need. */
export function lookAt(demoteBy: number | null, nowSec: number): number | null {
  if (demoteBy === null || demoteBy <= nowSec) return null;
  return Math.min(demoteBy, nowSec + Math.max(MIN_CHECK_SEC, (demoteBy - nowSec) * LOOK_FRACTION));
}

/**
 * The median; sorts `xs` in place. An insertion sort: `xs` holds a rate per sample of the last 10 minutes (~20), and
 * Array.prototype.sort allocated a work area on each of thousands of calls a cycle.
 */
function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  for (let i = 1; i < xs.length; i++) {
    const x = xs[i];
    let j = i - 1;
    for (; j >= 0 && xs[j] > x; j--) xs[j + 1] = xs[j];
    xs[j + 1] = x;
  }
  const m = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
}
