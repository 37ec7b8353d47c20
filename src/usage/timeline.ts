/**
 * The recent part of the usage at a fine grain: per (channel, model), per 30 s of created_at (LOCAL seconds, as
 * the buckets), the tokens, requests and summed request durations of the last TIMELINE_SEC, per SLOT_SEC. The burn rate and the
 * time a request lasts are read from it, so the first cycle after any start has them: the rows of a cold read (a
 * lost state file included) pass through it like any others.
 */

/**
 * How far back the timeline keeps slots (the projection looks 10 minutes back), and their grain: 30 s, so that the
 * latest rate can be taken over whole slots 20 to 50 s back, with 30 slots of 3 numbers per (channel, model).
 */
export const TIMELINE_SEC = 900;
export const SLOT_SEC = 30;

/** One (channel, model)'s slots: slot i covers [from + 30 i, from + 30 (i + 1)). */
export interface Series {
  /** LOCAL unix second where slot 0 starts (a multiple of SLOT_SEC). */
  from: number;
  tokens: number[];
  requests: number[];
  /** Summed durations of the requests (elapsed_time), seconds. */
  elapsed: number[];
  /**
   * The two latest request starts (created_at − elapsed_time, LOCAL seconds), newest first: after a demotion they
   * show when OneAPI's routing stopped sending new requests here (policy/routing-delay.ts). Absent in older states.
   */
  starts?: number[];
}

export interface Timeline {
  /** LOCAL unix second from which every row of the channels read is in `series` (older: not known). */
  from: number;
  /** Key: seriesKey(channel, model). A (channel, model) with no row in the span has no series. */
  series: Record<string, Series>;
}

export const seriesKey = (channel: number, model: string): string => `${channel}:${model}`;
const channelOf = (key: string): number => Number(key.slice(0, key.indexOf(':')));
const slotOf = (sec: number): number => Math.floor(sec / SLOT_SEC) * SLOT_SEC;

/** This cycle's rows per (channel, model) and slot, before they are merged into the stored timeline. */
export class TimelineDelta {
  readonly slots = new Map<string, Map<number, [number, number, number]>>();
  readonly starts = new Map<string, number[]>();

  /** Adds one row: its LOCAL instant, tokens and duration in seconds (0 when the row has none). */
  add(channel: number, model: string, localSec: number, tokens: number, elapsedSec: number): void {
    const key = seriesKey(channel, model);
    const series = this.slots.get(key) ?? this.slots.set(key, new Map()).get(key)!;
    const slot = slotOf(localSec);
    const s = series.get(slot);
    if (s) {
      s[0] += tokens;
      s[1] += 1;
      s[2] += elapsedSec;
    } else series.set(slot, [tokens, 1, elapsedSec]);
    this.starts.set(key, latestTwo(this.starts.get(key), [localSec - elapsedSec]));
  }
}

/** The two largest of `a` and `b`, largest first, in tenths of a second. */
function latestTwo(a: readonly number[] | undefined, b: readonly number[]): number[] {
  const all = [...(a ?? []), ...b.map((x) => Math.round(x * 10) / 10)].sort((x, y) => y - x);
  return all.slice(0, 2);
}

/**
 * The stored timeline plus this cycle's rows, keeping the slots from `horizon` on. `dropFrom` (channel -> LOCAL
 * second) is what is being recounted: those slots were read again and come only from `delta`. `coveredFrom` is
 * where the timeline is complete when there was none before (the last read end; the horizon after a cold read). Pure.
 */
export function mergeTimeline(old: Timeline | undefined, delta: TimelineDelta, p: { horizon: number; coveredFrom: number; dropFrom: ReadonlyMap<number, number> }): Timeline {
  const horizon = slotOf(p.horizon);
  const acc = new Map<string, Map<number, [number, number, number]>>();
  const begun = new Map<string, number[]>();
  for (const [key, s] of Object.entries(old?.series ?? {})) {
    const drop = p.dropFrom.get(channelOf(key)) ?? Infinity;
    const kept = (s.starts ?? []).filter((x) => x < drop);
    if (kept.length > 0) begun.set(key, kept);
    const slots = new Map<number, [number, number, number]>();
    for (let i = 0; i < s.tokens.length; i++) {
      const at = s.from + i * SLOT_SEC;
      if (at >= horizon && at < drop && s.requests[i] > 0) slots.set(at, [s.tokens[i], s.requests[i], s.elapsed[i]]);
    }
    if (slots.size > 0) acc.set(key, slots);
  }
  for (const [key, xs] of delta.starts) begun.set(key, latestTwo(begun.get(key), xs));
  for (const [key, slots] of delta.slots) {
    const into = acc.get(key) ?? acc.set(key, new Map()).get(key)!;
    for (const [at, [t, r, e]] of slots) {
      if (at < horizon) continue;
      const s = into.get(at);
      if (s) into.set(at, [s[0] + t, s[1] + r, s[2] + e]);
      else into.set(at, [t, r, e]);
    }
  }
  const series: Record<string, Series> = {};
  for (const [key, slots] of acc) {
    if (slots.size === 0) continue;
    const starts = [...slots.keys()].sort((a, b) => a - b);
    const from = starts[0];
    const n = (starts[starts.length - 1] - from) / SLOT_SEC + 1;
    const s: Series = { from, tokens: new Array<number>(n).fill(0), requests: new Array<number>(n).fill(0), elapsed: new Array<number>(n).fill(0) };
    for (const [at, [t, r, e]] of slots) {
      const i = (at - from) / SLOT_SEC;
      s.tokens[i] = t;
      s.requests[i] = r;
      // Tenths of a second: enough for a median duration, and short in the state file.
      s.elapsed[i] = Math.round(e * 10) / 10;
    }
    const st = begun.get(key);
    if (st) s.starts = st;
    series[key] = s;
  }
  return { from: Math.max(horizon, old ? old.from : slotOf(p.coveredFrom)), series };
}

/** The slots of (channel, model), or of all the channel's models summed when `model` is undefined. Pure. */
export function seriesFor(t: Timeline, channel: number, model: string | undefined): Series | undefined {
  if (model !== undefined) return t.series[seriesKey(channel, model)];
  const prefix = `${channel}:`;
  const parts = Object.keys(t.series).filter((k) => k.startsWith(prefix)).map((k) => t.series[k]);
  if (parts.length <= 1) return parts[0];
  const from = Math.min(...parts.map((p) => p.from));
  const n = Math.max(...parts.map((p) => (p.from - from) / SLOT_SEC + p.tokens.length));
  const sum: Series = { from, tokens: new Array<number>(n).fill(0), requests: new Array<number>(n).fill(0), elapsed: new Array<number>(n).fill(0) };
  for (const p of parts)
    for (let i = 0, j = (p.from - from) / SLOT_SEC; i < p.tokens.length; i++, j++) {
      sum.tokens[j] += p.tokens[i];
      sum.requests[j] += p.requests[i];
      sum.elapsed[j] += p.elapsed[i];
    }
  return sum;
}

/**
 * Tokens of `s` used in [from, to], where `to` is the instant use is counted to: a slot partly inside counts in
 * proportion (a slot's rows are taken as spread over it; the slot holding `to` ends at `to`). Pure.
 */
export function tokensBetween(s: Series | undefined, from: number, to: number): number {
  if (!s || to <= from) return 0;
  let sum = 0;
  for (let i = 0; i < s.tokens.length; i++) {
    const a = s.from + i * SLOT_SEC;
    const b = Math.min(a + SLOT_SEC, to);
    if (b <= from || a >= to || s.tokens[i] === 0) continue;
    sum += (s.tokens[i] * (b - Math.max(a, from))) / (b - a);
  }
  return sum;
}

/** The median of the per-slot mean request duration (seconds) in `s`; 0 without requests. Pure. */
export function typicalElapsed(s: Series | undefined): number {
  if (!s) return 0;
  const means: number[] = [];
  for (let i = 0; i < s.requests.length; i++) if (s.requests[i] > 0) means.push(s.elapsed[i] / s.requests[i]);
  if (means.length === 0) return 0;
  means.sort((a, b) => a - b);
  const m = Math.floor(means.length / 2);
  return means.length % 2 ? means[m] : (means[m - 1] + means[m]) / 2;
}
