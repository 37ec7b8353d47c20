import { DateTime } from 'luxon';
import type { Config } from '../config/types.js';
import type { ConsumeLog } from '../oneapi/types.js';
import { atLocal } from './windows.js';

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

/** Cuts logs into buckets; remembers each local day's boundaries, since computing them is the costly part. */
export class Bucketer {
  private days = new Map<string, { day: string; starts: number[] }>();

  constructor(private readonly layout: BucketLayout) {}

  /** Finds the bucket start and local day of a unix-second instant. */
  locate(sec: number): { day: string; start: number } {
    const local = DateTime.fromSeconds(sec, { zone: this.layout.timezone });
    const day = local.toISODate()!;
    let entry = this.days.get(day);
    if (!entry) {
      const midnight = local.startOf('day');
      const starts = this.layout.boundaries.map((b) =>
        b === '00:00' ? midnight.toSeconds() : atLocal(midnight, b).toSeconds(),
      );
      entry = { day, starts: starts.map(Math.floor).sort((a, b) => a - b) };
      this.days.set(day, entry);
    }
    let start = entry.starts[0];
    for (const s of entry.starts) if (s <= sec) start = s;
    return { day, start };
  }

  /** Adds logs into `buckets` (mutated in place, through the index). */
  add(buckets: Bucket[], logs: ConsumeLog[]): void {
    const index = new Map(buckets.map((b) => [keyOf(b.channel, b.model, b.start), b]));
    for (const log of logs) {
      const { day, start } = this.locate(log.createdAt);
      const key = keyOf(log.channelId, log.modelName, start);
      let b = index.get(key);
      if (!b) {
        b = { channel: log.channelId, model: log.modelName, day, start, tokens: 0, requests: 0 };
        index.set(key, b);
        buckets.push(b);
      }
      b.tokens += log.promptTokens + log.completionTokens;
      b.requests += 1;
    }
  }
}

function keyOf(channel: number, model: string, start: number): string {
  return `${channel}\u0000${model}\u0000${start}`;
}

/** Tokens and requests of a channel (and model, if given) in buckets that start within [from, to). */
export function sumUsage(
  buckets: Bucket[],
  q: { channel: number; model?: string; from: number; to: number },
): { tokens: number; requests: number } {
  let tokens = 0;
  let requests = 0;
  for (const b of buckets) {
    if (b.channel !== q.channel || b.start < q.from || b.start >= q.to) continue;
    if (q.model !== undefined && b.model !== q.model) continue;
    tokens += b.tokens;
    requests += b.requests;
  }
  return { tokens, requests };
}
