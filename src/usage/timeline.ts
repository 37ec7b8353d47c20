/**
 * The recent part of the usage at a fine grain: per (channel, model), per 30 s of created_at (LOCAL seconds, as
 * the buckets), the tokens and their requests' mean duration of the last TIMELINE_SEC, per SLOT_SEC. The burn rate and the
 * time a request lasts are read from it, so the first cycle after any start has them: the rows of a cold read (a
 * lost state file included) pass through it like any others.
 */

/**
 * How far back the timeline keeps slots (the projection looks 10 minutes back), and their grain: 30 s, so that the
 * latest rate can be taken over whole slots 20 to 50 s back, with 30 slots of 1 or 2 numbers per (channel, model).
 */
export const TIMELINE_SEC = 900;
export const SLOT_SEC = 30;

/** One (channel, model)'s slots: slot i covers [from + 30 i, from + 30 (i + 1)). */
export interface Series {
  /** LOCAL unix second where slot 0 starts (a multiple of SLOT_SEC). */
  from: number;
  tokens: number[];
  /**
   * How long the slot's requests took (elapsed_time), seconds, weighted by their tokens: in-flight tokens are the
   * rate times that. Absent when every row said 0 (as old OneAPI rows and rows without the field do).
   */
  elapsed?: number[];
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
  /** Per series and slot: [tokens, tokens × duration]. */
  readonly slots = new Map<string, Map<number, [number, number]>>();
  readonly starts = new Map<string, number[]>();

  /** Adds one row: its LOCAL instant, tokens and duration in seconds (0 when the row has none). */
  add(channel: number, model: string, localSec: number, tokens: number, elapsedSec: number): void {
    const key = seriesKey(channel, model);
    const series = this.slots.get(key) ?? this.slots.set(key, new Map()).get(key)!;
    const slot = slotOf(localSec);
    const s = series.get(slot);
    if (s) {
      s[0] += tokens;
      s[1] += tokens * elapsedSec;
    } else series.set(slot, [tokens, tokens * elapsedSec]);
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
  const acc = new Map<string, Map<number, [number, number]>>();
  const begun = new Map<string, number[]>();
  const series: Record<string, Series> = {};
  for (const [key, s] of Object.entries(old?.series ?? {})) {
    const drop = p.dropFrom.get(channelOf(key)) ?? Infinity;
    // Most series are unchanged in a cycle (no new row, nothing to trim or recount): kept as they are.
    if (!delta.slots.has(key) && s.from >= horizon && drop === Infinity) {
      series[key] = s;
      continue;
    }
    const kept = (s.starts ?? []).filter((x) => x < drop);
    if (kept.length > 0) begun.set(key, kept);
    const slots = new Map<number, [number, number]>();
    for (let i = 0; i < s.tokens.length; i++) {
      const at = s.from + i * SLOT_SEC;
      if (at >= horizon && at < drop && s.tokens[i] > 0) slots.set(at, [s.tokens[i], s.tokens[i] * (s.elapsed?.[i] ?? 0)]);
    }
    if (slots.size > 0) acc.set(key, slots);
  }
  for (const [key, xs] of delta.starts) begun.set(key, latestTwo(begun.get(key), xs));
  for (const [key, slots] of delta.slots) {
    const into = acc.get(key) ?? acc.set(key, new Map()).get(key)!;
    for (const [at, [t, te]] of slots) {
      if (at < horizon || t === 0) continue;
      const s = into.get(at);
      into.set(at, s ? [s[0] + t, s[1] + te] : [t, te]);
    }
  }
  for (const [key, slots] of acc) {
    if (slots.size === 0) continue;
    const starts = [...slots.keys()].sort((a, b) => a - b);
    const from = starts[0];
    const n = (starts[starts.length - 1] - from) / SLOT_SEC + 1;
    const s: Series = { from, tokens: new Array<number>(n).fill(0) };
    const elapsed = new Array<number>(n).fill(0);
    for (const [at, [t, te]] of slots) {
      const i = (at - from) / SLOT_SEC;
      s.tokens[i] = t;
      // Tenths of a second: enough for a typical duration, and short in the state file.
      elapsed[i] = Math.round((te / t) * 10) / 10;
    }
    if (elapsed.some((e) => e > 0)) s.elapsed = elapsed;
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
  const sum: Series = { from, tokens: new Array<number>(n).fill(0) };
  const weighted = new Array<number>(n).fill(0);
  for (const p of parts)
    for (let i = 0, j = (p.from - from) / SLOT_SEC; i < p.tokens.length; i++, j++) {
      sum.tokens[j] += p.tokens[i];
      weighted[j] += p.tokens[i] * (p.elapsed?.[i] ?? 0);
    }
  if (weighted.some((w) => w > 0)) sum.elapsed = weighted.map((w, j) => (sum.tokens[j] > 0 ? w / sum.tokens[j] : 0));
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

/** The median over the slots with use of their requests' duration (seconds, token-weighted) in `s`; 0 without. Pure. */
export function typicalElapsed(s: Series | undefined): number {
  if (!s) return 0;
  const xs: number[] = [];
  for (let i = 0; i < s.tokens.length; i++) if (s.tokens[i] > 0) xs.push(s.elapsed?.[i] ?? 0);
  if (xs.length === 0) return 0;
  xs.sort((a, b) => a - b);
  const m = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
}
