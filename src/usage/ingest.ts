import { DateTime } from 'luxon';
import type { Config } from '../config/types.js';
import type { ConsumeLog, OneApiClient, TimeRange } from '../oneapi/types.js';
import { Bucketer, layoutFor, layoutSignature, type Bucket } from './buckets.js';
import { currentWindow } from './windows.js';

/** Aggregated usage kept in state: no raw log rows, only buckets and what is needed to read on incrementally. */
export interface UsageState {
  /** Bucket layout the buckets were cut with; a different layout starts over. */
  signature: string;
  /** Every consume log with created_at in [coveredFrom, watermark] has been counted (unix seconds). */
  coveredFrom: number | null;
  watermark: number | null;
  /** Ids of counted logs near the watermark (id -> created_at), to count late or repeated rows once. */
  seen: Record<string, number>;
  buckets: Bucket[];
}

export interface IngestOptions {
  /** Re-read this many seconds before the watermark: OneAPI writes logs after the response, so rows land late. */
  overlapSec: number;
  /** Do not read the last few seconds, which may still be filling. */
  lagSec: number;
  /** Keep daily buckets this long (reports need 35 days). */
  retentionDays: number;
}

export const DEFAULT_INGEST: IngestOptions = { overlapSec: 300, lagSec: 5, retentionDays: 40 };

export function emptyUsage(signature = ''): UsageState {
  return { signature, coveredFrom: null, watermark: null, seen: {}, buckets: [] };
}

/** The earliest instant any budget's current window (or today, for reports) needs counted. */
export function neededFrom(config: Config, nowMs: number): number {
  const today = Math.floor(DateTime.fromMillis(nowMs, { zone: config.timezone }).startOf('day').toSeconds());
  return Math.min(today, ...config.budgets.map((b) => currentWindow(b, config.timezone, nowMs).start));
}

/** The log ranges a cycle must read to bring `usage` up to `end`. */
export function rangesToFetch(usage: UsageState, from: number, end: number, opts: IngestOptions): TimeRange[] {
  if (usage.watermark === null || usage.coveredFrom === null) return [{ start: from, end }];
  const ranges: TimeRange[] = [];
  if (from < usage.coveredFrom) ranges.push({ start: from, end: usage.coveredFrom - 1 });
  if (end > usage.watermark) ranges.push({ start: Math.max(usage.coveredFrom, usage.watermark - opts.overlapSec), end });
  return ranges;
}

/**
 * Returns the usage state with `logs` (read for `ranges`, ending at `end`) counted once each, and old buckets
 * pruned. Pure: the caller decides whether to keep it.
 */
export function foldLogs(
  usage: UsageState,
  logs: ConsumeLog[],
  config: Config,
  p: { from: number; end: number; nowMs: number; opts: IngestOptions },
): { usage: UsageState; added: number } {
  const next: UsageState = structuredClone(usage);
  const fresh = logs.filter((l) => next.seen[l.id] === undefined);
  const unique = [...new Map(fresh.map((l) => [l.id, l])).values()];
  new Bucketer(layoutFor(config)).add(next.buckets, unique);
  for (const l of unique) next.seen[l.id] = l.createdAt;

  next.coveredFrom = Math.min(next.coveredFrom ?? p.from, p.from);
  next.watermark = Math.max(next.watermark ?? p.end, p.end);
  const keepSeenFrom = next.watermark - p.opts.overlapSec - p.opts.lagSec;
  for (const [id, at] of Object.entries(next.seen)) if (at < keepSeenFrom) delete next.seen[id];

  // Prune at a local midnight (always a bucket boundary), never inside a window still in use.
  const cutoff = Math.min(
    p.from,
    Math.floor(
      DateTime.fromMillis(p.nowMs, { zone: config.timezone }).minus({ days: p.opts.retentionDays }).startOf('day').toSeconds(),
    ),
  );
  if (next.coveredFrom < cutoff) {
    next.buckets = next.buckets.filter((b) => b.start >= cutoff);
    next.coveredFrom = cutoff;
  }
  return { usage: next, added: unique.length };
}

/**
 * Reads the consume logs that are new since the last cycle and counts them. Throws if any read fails, leaving
 * `usage` untouched: no decision is ever made on partial data.
 */
export async function ingest(
  client: OneApiClient,
  usage: UsageState,
  config: Config,
  nowMs: number,
  opts: IngestOptions = DEFAULT_INGEST,
): Promise<{ usage: UsageState; fetched: number; added: number }> {
  const signature = layoutSignature(layoutFor(config));
  const base = usage.signature === signature ? usage : emptyUsage(signature);
  const end = Math.floor(nowMs / 1000) - opts.lagSec;
  const from = neededFrom(config, nowMs);
  const logs: ConsumeLog[] = [];
  for (const range of rangesToFetch(base, from, end, opts)) logs.push(...(await client.fetchConsumeLogs(range)));
  const { usage: next, added } = foldLogs(base, logs, config, { from, end, nowMs, opts });
  return { usage: next, fetched: logs.length, added };
}
