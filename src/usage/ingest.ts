import type { Logger } from 'pino';
import type { ChannelRef, Config } from '../config/types.js';
import type { Flavor, LogQuery, OneApiClient } from '../oneapi/types.js';
import { BucketClock, layoutFor, layoutSignature, type Bucket } from './buckets.js';
import type { DbCursor } from './db/ingest-db.js';
import { idsRise, nextIdState, STEP_MIN_SEC, steppedBack } from './clock-step.js';
import { Fold, type IdFloor } from './fold.js';
import { lazyIds, neededFor, planRelayout, recountFor } from './relayout.js';
import { mergeTimeline, TIMELINE_SEC, type Timeline } from './timeline.js';
import { localDay, windowsFor } from './windows.js';

/** Where the API reader stands. Times are OneAPI's clock (its created_at), except where said. */
export interface ApiCursor {
  /** Every row of a channel in `channels` with created_at ≤ readTo has been read. */
  readTo: number;
  /** Channel id -> the first LOCAL instant (unix s) counted for it. A channel not here is read from scratch. */
  channels: Record<string, number>;
  /** [key, created_at] of the rows read within the sweep span of readTo: a row read again is counted once. */
  recent: Array<[number, number]>;
  /** When the last safety sweep ran. */
  sweptAt: number;
  /** Consume rows per second lately, across the gateway and on the channels read (null: not measured yet). */
  rates: { all: number | null; named: number | null };
  /** OneAPI's clock minus ours at the last read, seconds. */
  skewSec: number;
  /** The highest log id counted, where ids rise in insert order; null when not known or not usable. */
  maxId?: number | null;
  /**
   * new-api: true once ids turn out to be page positions (its ClickHouse store; rows are then told by time and key),
   * false once pages showed SQL ids (falling along a page); absent while unknown. Not used by other flavors.
   */
  idsArePositions?: boolean;
  /** After OneAPI's clock stepped back: rows stamped ≤ until with id ≤ id were counted before the step. */
  idFloor?: IdFloor | null;
}

/** Aggregated usage kept in state: buckets, and what is needed to read on incrementally. No raw rows. */
export interface UsageState {
  /** Bucket layout the buckets were cut with; a different one recounts what it needs (see relayout.ts). */
  signature: string;
  /** LOCAL unix seconds up to which usage is counted (what `status` shows); null before the first read. */
  watermark: number | null;
  cursor: ApiCursor | null;
  /** Where the database source stands (usage.source: database); each source drops the other's cursor. */
  dbCursor?: DbCursor | null;
  buckets: Bucket[];
  /** The last minutes per (channel, model), for burn rates and request durations (API source; see timeline.ts). */
  timeline?: Timeline;
}

export interface IngestOptions {
  /** Rows stamped in the last few seconds of OneAPI's clock may not be written yet (one-hub writes every 5 s). */
  lagSec: number;
  /** Every so often the last `sweepSpanSec` are read again, for rows that were written later still. */
  sweepEverySec: number;
  sweepSpanSec: number;
  /** Keep daily buckets this long (reports need 35 days). */
  retentionDays: number;
}

export const DEFAULT_INGEST: IngestOptions = { lagSec: 10, sweepEverySec: 600, sweepSpanSec: 120, retentionDays: 40 };

/** How the cycle's read went, for logs, metrics and the bench. */
export interface IngestStats {
  counted: number;
  seen: number;
  repeated: number;
  rejected: Record<string, number>;
  pages: number;
  /** OneAPI's clock minus ours, seconds (0 when OneAPI sends no Date header). */
  skewSec: number;
  clockSource: 'date-header' | 'local';
  /** 'all': one read of every channel, filtered here; 'per-channel': one filtered read per channel. */
  mode: 'all' | 'per-channel' | 'none';
  swept: boolean;
  /** Channels read from the start of their windows this cycle (new, or after a config change). */
  coldChannels: number[];
  /** Database source only: ms spent in the database's reads this cycle. */
  dbMs?: number;
}

export function emptyUsage(signature = ''): UsageState {
  return { signature, watermark: null, cursor: null, buckets: [] };
}

/** The earliest LOCAL instant any budget's current window (or today, for reports) needs counted. */
export function neededFrom(config: Config, nowMs: number): number {
  const today = localDay(config.timezone, nowMs / 1000).start;
  let from = today;
  for (const w of windowsFor(config.budgets, config.timezone, nowMs).values()) from = Math.min(from, w.start);
  return from;
}

export interface IngestInput {
  client: OneApiClient;
  flavor: Flavor;
  config: Config;
  /** Channel ids to count: those config names (budgets and defaults). */
  channels: number[];
  /** Config references as the cycle resolved them; without it, names are resolved with a channel list when needed. */
  refIds?: ReadonlyMap<ChannelRef, number>;
  nowMs: number;
  log?: Logger;
  opts?: IngestOptions;
}

const SKEW_WARN_SEC = 30;
/** At most this many rejected rows are logged one by one per cycle; the rest are summed up in one line. */
const MAX_REJECT_LINES = 20;
const pageSizeOf = (flavor: Flavor) => (flavor === 'one-api' ? 10 : 100);
const ewma = (old: number | null, x: number) => (old === null ? x : (old + x) / 2);

/**
 * Reads what is new since the cursor and counts it. Throws if any read fails, leaving `usage` untouched: no
 * decision is ever made on partial data. Bad rows are skipped with a warning and never block the cursor.
 */
export async function ingest(usage: UsageState, input: IngestInput): Promise<{ usage: UsageState; stats: IngestStats }> {
  const { client, flavor, config, nowMs, log } = input;
  const opts = input.opts ?? DEFAULT_INGEST;
  const layout = layoutFor(config);
  const signature = layoutSignature(layout);
  const plan = planRelayout(usage.signature, config, nowMs);
  const refIds = input.refIds ? () => Promise.resolve(input.refIds!) : lazyIds(config, client);
  const recountFrom = await recountFor(plan, { ids: refIds, channels: input.channels, firstCounted: usage.cursor?.channels, log, hadBuckets: usage.buckets.length > 0 });
  const base = recountFrom === null ? emptyUsage(signature) : usage;
  const cursor = base.cursor;

  // Read by OneAPI's clock: its created_at stamps are what the range filters compare, whatever ours says.
  const sc = client.serverClock();
  const skewSec = sc ? Math.round((sc.serverMs - sc.localMs) / 1000) : 0;
  const end = Math.floor(nowMs / 1000) + skewSec - opts.lagSec;
  const fromLocal = neededFrom(config, nowMs);
  const fromServer = fromLocal + skewSec;
  const keepFrom = end - opts.sweepSpanSec - opts.lagSec;

  // OneAPI's clock went back past the last read end (OneAPI on this host, its clock set back): rows written since are
  // stamped below the cursor. Where ids rise in insert order, the time since the window's start is read again for
  // ids above the highest counted; else every channel is recounted from its window's start (clock-step.ts).
  const backSec = cursor ? steppedBack(cursor.readTo, end) : 0;
  const byIds = backSec > 0 && idsRise(flavor, cursor) && cursor?.maxId != null;
  // Channel -> LOCAL instant from which its buckets are dropped and read again: new channels from the windows'
  // start, channels whose budgets renew at a new boundary from that window's local midnight (relayout.ts). A channel
  // first counted after what the config now needs is read back to what ITS budgets need (neededFor).
  const recount = new Map<number, number>(recountFrom ?? []);
  const needed = await neededFor(input, cursor?.channels, fromLocal, refIds);
  const backfill: Array<{ channel: number; from: number; to: number }> = [];
  const channels: Record<string, number> = {};
  for (const c of input.channels) {
    const from = cursor?.channels[c];
    if (from === undefined || (backSec > 0 && !byIds)) recount.set(c, Math.min(recount.get(c) ?? fromLocal, fromLocal));
    // One read where a recounted channel also needs an earlier start: nothing of it is counted before `from`.
    else if (from > needed(c) && recount.has(c)) recount.set(c, needed(c));
    else if (from > needed(c)) backfill.push({ channel: c, from: needed(c), to: from + skewSec - 1 });
    // Marked as counted from fromLocal even where its own budgets needed less: what they need is there, and the
    // check above (and its channel list) is not repeated every cycle.
    channels[c] = Math.min(from ?? fromLocal, fromLocal);
  }

  const known = new Set((cursor?.recent ?? []).map(([k]) => k));
  const floor = cursor?.idFloor ?? null;
  const idCheck = cursor?.maxId != null && !floor && backSec === 0 ? { after: cursor.readTo + opts.lagSec + STEP_MIN_SEC, maxId: cursor.maxId } : null;
  const fold = new Fold(flavor, new BucketClock(layout), known, keepFrom, skewSec, new Set(recount.keys()), floor, idCheck);
  const horizon = Math.floor(nowMs / 1000) - TIMELINE_SEC;
  fold.timelineFrom = horizon;
  const stats: IngestStats = { counted: 0, seen: 0, repeated: 0, rejected: {}, pages: 0, skewSec, clockSource: sc ? 'date-header' : 'local', mode: 'none', swept: false, coldChannels: [] };
  const named = new Set(input.channels);
  type ReadHow = { onFirst?: (left: number | undefined, sample: unknown[]) => boolean; tryRecent?: boolean; accept?: { start: number; end: number }; readAhead?: boolean; idAbove?: number };
  const read = async (q: LogQuery, channels: Set<number>, how: ReadHow = {}) => {
    const accept = how.accept ?? q;
    const r = await client.readLogs(q, (rows) => fold.page(rows, accept, channels, how.idAbove), { onFirst: how.onFirst, tryRecent: how.tryRecent, readAhead: how.readAhead });
    stats.pages += r.pages;
    return r;
  };

  // Channels recounted, or whose windows now start earlier, are read on their own. Reads from a window's start are
  // long: one-api may keep a few pages in flight.
  const readEnd = Math.max(end, cursor?.readTo ?? end);
  for (const [c, from] of recount) if (readEnd >= from + skewSec) await read({ start: from + skewSec, end: readEnd, channel: c }, new Set([c]), { readAhead: true });
  for (const b of backfill) if (b.to >= b.from + skewSec) await read({ start: b.from + skewSec, end: b.to, channel: b.channel }, new Set([b.channel]), { readAhead: true });
  const coldCounted = fold.stats.counted;

  // The channels already followed: only what is new since readTo (plus, now and then, a re-read of the last minutes).
  const warm = input.channels.filter((c) => !recount.has(c));
  if (byIds && warm.length > 0 && end >= fromServer)
    await read({ start: fromServer, end }, new Set(warm), { readAhead: true, idAbove: cursor!.maxId! });
  let rates = cursor?.rates ?? { all: null, named: null };
  const sweep = cursor !== null && end - cursor.sweptAt >= opts.sweepEverySec;
  if (cursor && warm.length > 0 && end > cursor.readTo) {
    const size = pageSizeOf(flavor);
    const pages = (rows: number) => Math.ceil((rows + 1) / size);
    // Steady reads start right after the cursor; the sweep goes back a little for rows written late. (one-api's
    // newest-100 search brings late rows along at no cost: they have the newest ids. The fold takes them.)
    const start = sweep ? Math.max(cursor.readTo - opts.sweepSpanSec + 1, fromServer) : cursor.readTo + 1;
    const q = { start, end };
    const span = end - start + 1;
    const accept = { start: Math.max(cursor.readTo - opts.sweepSpanSec + 1, fromServer), end };
    const warmSet = new Set(warm);
    const perChannelCost = (rows: number) => pages(rows / warm.length) * warm.length;
    // One read of every channel is cheapest when the budgeted channels carry most of the traffic; one read per
    // channel when they are a small part of a busy gateway. The first answer says which before any row is taken:
    // how many rows are left (its total, or one-api's newest-100 search) and, from its rows, the budgeted share.
    // When the last cycles show per-channel reads far cheaper, even that request is saved.
    const guessAll =
      rates.all === null || rates.named === null || pages(rates.all * span) <= 4 * perChannelCost(rates.named * span) || sweep;
    // one-api's count is an estimate from the newest 100 rows' pace: only a clear saving justifies many reads.
    const slack = flavor === 'one-api' ? 1.5 : 1;
    const decide = (left: number | undefined, sample: unknown[]) =>
      left === undefined || Math.ceil(left / size) <= slack * perChannelCost(left * fold.share(sample, q, warmSet));
    const seenBefore = fold.stats.seen;
    const all = guessAll ? await read(q, warmSet, { onFirst: decide, tryRecent: flavor === 'one-api', accept }) : undefined;
    if (all && !all.declined) {
      stats.mode = 'all';
      rates = { ...rates, all: ewma(rates.all, (fold.stats.seen - seenBefore) / span) };
    } else {
      stats.mode = 'per-channel';
      if (all?.total !== undefined) rates = { ...rates, all: ewma(rates.all, all.total / span) };
      for (const c of warm) await read({ ...q, channel: c }, new Set([c]));
    }
    rates = { ...rates, named: ewma(rates.named, (fold.stats.counted - coldCounted) / span) };
    stats.swept = sweep;
  }

  // Every read succeeded: now the sums become the state.
  const buckets = base.buckets.filter((b) => !(b.start >= (recount.get(b.channel) ?? Infinity)));
  fold.commit(buckets);
  const cutoff = Math.min(fromLocal, localDay(config.timezone, nowMs / 1000 - opts.retentionDays * 86_400).start);
  const kept = buckets.filter((b) => b.start >= cutoff);
  // After a step the cursor follows OneAPI's clock back: what lies above it was counted (ids, or the recent keys).
  const readTo = backSec > 0 ? end : Math.max(readEnd, cursor?.readTo ?? readEnd);
  const ids = nextIdState(cursor, fold, { backSec, byIds, readTo, spanSec: opts.sweepSpanSec });
  const recent = new Map((cursor?.recent ?? []).filter(([, at]) => at >= keepFrom));
  for (const [k, at] of fold.nearKeys) recent.set(k, at);

  // Without a timeline (a cold read, or a state from before it), it is complete from where this read starts.
  const timeline = mergeTimeline(cursor ? base.timeline : undefined, fold.timeline, { horizon, coveredFrom: cursor ? (base.watermark ?? horizon) : horizon, dropFrom: recount });

  Object.assign(stats, fold.stats, { coldChannels: [...recount.keys()].sort((a, b) => a - b) });
  report(log, stats, fold, cursor);
  if (backSec > 0)
    log?.warn({ backSec, readTo: cursor!.readTo, readEnd: end, how: byIds ? 'ids above the highest counted' : 'recount of the windows' }, "OneAPI's clock went back; reading around it");
  if (fold.idsWentBack) log?.warn({ maxId: cursor!.maxId, seen: fold.maxId }, 'log ids went back (a log clean-up or id reuse); reading by time');
  const skew = stats.skewSec;
  return {
    usage: {
      signature,
      watermark: Math.max(base.watermark ?? 0, readTo - skewSec),
      cursor: { readTo, channels, recent: [...recent], sweptAt: stats.swept || !cursor || backSec > 0 ? readTo : cursor.sweptAt, rates, skewSec: skew, ...ids },
      buckets: kept,
      timeline,
    },
    stats,
  };
}

function report(log: Logger | undefined, stats: IngestStats, fold: Fold, cursor: ApiCursor | null): void {
  if (!log) return;
  for (const r of fold.newlyRejected.slice(0, MAX_REJECT_LINES))
    log.warn({ id: r.id, channel: r.channel, field: r.field, value: r.value }, 'log row skipped');
  if (fold.newlyRejected.length > MAX_REJECT_LINES)
    log.warn({ more: fold.newlyRejected.length - MAX_REJECT_LINES, byField: stats.rejected }, 'more log rows skipped');
  if (stats.clockSource === 'local' && cursor === null)
    log.warn({}, "OneAPI sent no Date header: reading by quota-pilot's own clock");
  // Once when it appears or moves, not every cycle.
  const before = cursor?.skewSec ?? 0;
  if (Math.abs(stats.skewSec) >= SKEW_WARN_SEC && (Math.abs(before) < SKEW_WARN_SEC || Math.abs(stats.skewSec - before) >= 10))
    log.warn({ skewSec: stats.skewSec }, "OneAPI's clock differs from ours; reading by OneAPI's clock");
}
