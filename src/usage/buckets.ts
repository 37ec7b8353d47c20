import type { Config } from '../config/types.js';
import { localDay, onLocalDay } from './windows.js';

/**
 * Token use of one channel and model in one segment of a local day. Days are split at midnight and at every
 * configured renewal time, so every budget window is an exact sum of whole buckets.
 */
export interface Bucket {
  channel: number;
  model: string;
  /** Local date, YYYY-MM-DD. */
  day: string;
  /** Segment start, unix seconds. */
  start: number;
  tokens: number;
  requests: number;
}

/** How logs are cut into buckets; a change of layout means the stored buckets must be rebuilt. */
export interface BucketLayout {
  timezone: string;
  /** Sorted "HH:MM" boundaries, always including "00:00". */
  boundaries: string[];
}

/** The layout that config's windows need. */
export function layoutFor(config: Config): BucketLayout {
  const set = new Set(['00:00', ...config.budgets.map((b) => b.resetAt)]);
  return { timezone: config.timezone, boundaries: [...set].sort() };
}

export function layoutSignature(l: BucketLayout): string {
  return `${l.timezone}|${l.boundaries.join(',')}`;
}

/**
 * Finds the bucket of an instant. Each local day's boundaries are computed once (the costly, time-zone part) and
 * kept in one sorted list, so a row costs a binary search, not a date conversion.
 */
export class BucketClock {
  private starts: number[] = [];
  private days: string[] = [];
  private known = new Set<string>();

  constructor(private readonly layout: BucketLayout) {}

  /** The start of the bucket holding `sec`, and its local day. */
  locate(sec: number): { day: string; start: number } {
    let i = this.search(sec);
    // Known days may form separate runs: a gap longer than any bucket means the day of `sec` is not known yet.
    if (i < 0 || i === this.starts.length - 1 || this.starts[i + 1] - this.starts[i] > MAX_BUCKET_SEC) {
      this.addDaysAround(sec);
      i = this.search(sec);
    }
    return { day: this.days[i], start: this.starts[i] };
  }

  /** Sorted bucket starts from the one holding `from` up to `to` (the database source groups rows by them). */
  startsBetween(from: number, to: number): number[] {
    for (let t = from; t <= to + 86_400; t += 43_200) this.locate(t);
    const first = Math.max(0, this.search(from));
    return this.starts.slice(first, this.search(to) + 1);
  }

  private search(sec: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= sec) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Adds the local day of `sec` and its neighbours, so the search always has the next boundary too. */
  private addDaysAround(sec: number): void {
    const tz = this.layout.timezone;
    const today = localDay(tz, sec);
    for (const d of [localDay(tz, today.start - 1), today, localDay(tz, today.end)]) {
      if (this.known.has(d.day)) continue;
      this.known.add(d.day);
      for (const b of this.layout.boundaries) {
        this.starts.push(onLocalDay(tz, d.start, b));
        this.days.push(d.day);
      }
    }
    const order = this.starts.map((_, i) => i).sort((a, b) => this.starts[a] - this.starts[b]);
    this.starts = order.map((i) => this.starts[i]);
    this.days = order.map((i) => this.days[i]);
  }
}

/** The longest a bucket can be: a whole 25-hour day (DST fall-back) with no boundary but midnight. */
const MAX_BUCKET_SEC = 26 * 3600;

const keyOf = (channel: number, model: string, start: number) => `${channel}\u0000${model}\u0000${start}`;
const seriesKey = (channel: number, model: string) => `${channel}\u0000${model}`;

/**
 * Adds tokens to the bucket of (channel, model, start) in `buckets` (an array the caller owns), creating the bucket
 * or replacing it with an updated copy: bucket objects may be shared with a state the caller may still keep.
 */
export class BucketAdder {
  private index: Map<string, number>;

  constructor(private readonly buckets: Bucket[]) {
    this.index = new Map(buckets.map((b, i) => [keyOf(b.channel, b.model, b.start), i]));
  }

  add(channel: number, model: string, at: { day: string; start: number }, tokens: number, requests: number): void {
    const key = keyOf(channel, model, at.start);
    const i = this.index.get(key);
    if (i === undefined) {
      this.index.set(key, this.buckets.length);
      this.buckets.push({ channel, model, day: at.day, start: at.start, tokens, requests });
      return;
    }
    const b = this.buckets[i];
    this.buckets[i] = { ...b, tokens: b.tokens + tokens, requests: b.requests + requests };
  }
}

/** Buckets grouped per (channel, model) and per channel, built once a cycle so each budget sums only its own. */
export class UsageIndex {
  private series = new Map<string, Bucket[]>();
  private byChannel = new Map<number, Bucket[]>();

  constructor(buckets: Bucket[]) {
    for (const b of buckets) {
      const k = seriesKey(b.channel, b.model);
      (this.series.get(k) ?? this.series.set(k, []).get(k)!).push(b);
      (this.byChannel.get(b.channel) ?? this.byChannel.set(b.channel, []).get(b.channel)!).push(b);
    }
  }

  /** Tokens and requests of a channel (and model, if given) in buckets that start within [from, to). */
  sum(q: { channel: number; model?: string; from: number; to: number }): { tokens: number; requests: number } {
    const list = (q.model === undefined ? this.byChannel.get(q.channel) : this.series.get(seriesKey(q.channel, q.model))) ?? [];
    let tokens = 0;
    let requests = 0;
    for (const b of list) {
      if (b.start < q.from || b.start >= q.to) continue;
      tokens += b.tokens;
      requests += b.requests;
    }
    return { tokens, requests };
  }
}

/** Tokens and requests of a channel (and model, if given) in buckets that start within [from, to). */
export function sumUsage(
  buckets: Bucket[],
  q: { channel: number; model?: string; from: number; to: number },
): { tokens: number; requests: number } {
  return new UsageIndex(buckets).sum(q);
}
