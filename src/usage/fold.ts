import type { Flavor } from '../oneapi/types.js';
import type { Bucket, BucketClock } from './buckets.js';
import { BucketAdder } from './buckets.js';
import { checkRow, type Rejected } from './rows.js';
import { TimelineDelta } from './timeline.js';

/** Keys of the last few pages, enough to drop the rows offset paging repeats when rows are inserted meanwhile. */
const PAGE_MEMORY = 8;

/** What one fold saw, for logs and metrics. */
export interface FoldStats {
  /** Rows counted. */
  counted: number;
  /** Rows of any channel in the ranges read (to learn how busy the whole gateway is). */
  seen: number;
  /** Rows read twice (offset paging, the sweep's re-read) and counted once. */
  repeated: number;
  /** Rejected rows by field. */
  rejected: Record<string, number>;
}

/** This cycle's sums for one bucket, before they are added to the stored ones. */
type Delta = Bucket;

/**
 * What log ids say, where they rise in insert order (SQL stores): a row stamped at or below `until` with an id at or
 * below `id` was counted before OneAPI's clock stepped back, so reading that time again counts only the rows above.
 */
export interface IdFloor {
  id: number;
  until: number;
}

/** Rows of a ClickHouse page carry their position (offset + i + 1): ids rising by one along a page of 3 or more. */
const POSITION_RUN = 3;

/**
 * Folds pages of raw rows into per-bucket sums as they arrive; nothing holds a whole window. It only adds to its own
 * scratch: `commit` merges into buckets after every read of the cycle succeeded, so a failed read changes nothing.
 */
export class Fold {
  readonly stats: FoldStats = { counted: 0, seen: 0, repeated: 0, rejected: {} };
  /** Rejected rows first seen this cycle, for one warning each. */
  readonly newlyRejected: Rejected[] = [];
  /** [key, created_at] of rows counted or rejected this cycle near the cursor. */
  readonly nearKeys = new Map<number, number>();
  /** The highest log id among this cycle's rows of the channels read (null: none had one). */
  maxId: number | null = null;
  /**
   * What the pages showed of new-api's ids: true when they are page positions (its ClickHouse store: ids say nothing
   * of insert order), false when an id fell along a page (an SQL store: newest, highest id, first), else undefined.
   */
  idsArePositions: boolean | undefined = undefined;
  /** Set when a row stamped after `idCheck.after` has an id at or below `idCheck.maxId`: ids were reset or reused. */
  idsWentBack = false;
  /** This cycle's rows of the recent minutes (see timeline.ts), LOCAL seconds from `timelineFrom` on. */
  readonly timeline = new TimelineDelta();
  /** LOCAL second from which counted rows also go into `timeline` (Infinity: none, e.g. the database source). */
  timelineFrom = Infinity;
  private delta = new Map<string, Delta>();
  private pages: Set<number>[] = [];

  /**
   * @param known keys already counted in earlier cycles (near the cursor)
   * @param keepFrom OneAPI-clock seconds from which keys are kept for later cycles
   * @param skewSec OneAPI's clock minus ours: a row's local instant is created_at − skew
   * @param recounted channels whose buckets are being rebuilt: their rows count even when `known`
   * @param floor rows under it were counted before a clock step (null: none)
   * @param idCheck a row stamped after `after` (just past the last read's moment) must have an id above `maxId`
   */
  constructor(
    private readonly flavor: Flavor,
    private readonly clock: BucketClock,
    private readonly known: Set<number>,
    private readonly keepFrom: number,
    private readonly skewSec: number,
    private readonly recounted: ReadonlySet<number> = new Set(),
    private readonly floor: IdFloor | null = null,
    private readonly idCheck: { after: number; maxId: number } | null = null,
  ) {}

  /**
   * Counts one page of the query [start, end] for the `channels` read; other channels' rows are only tallied. With
   * `idAbove`, a row with an id at or below it is taken as counted before (the read around a clock step).
   */
  page(rows: unknown[], q: { start: number; end: number }, channels: Set<number>, idAbove?: number): void {
    if (this.flavor === 'new-api' && this.idsArePositions !== true) this.idsArePositions = positionsIn(rows) ?? this.idsArePositions;
    const pageKeys = new Set<number>();
    for (const raw of rows) {
      const ch = this.flavor === 'one-hub' ? (raw as { channel_id?: unknown })?.channel_id : (raw as { channel?: unknown })?.channel;
      // A row of a channel nobody budgets is never checked: its faults are not ours to report. It is only tallied,
      // to learn how busy the whole gateway is (one-api's newest-100 search also brings rows from outside the range).
      if (typeof ch === 'number' && !channels.has(ch)) {
        const at = (raw as { created_at?: unknown }).created_at;
        if (typeof at === 'number' && at >= q.start && at <= q.end) this.stats.seen++;
        continue;
      }
      const checked = checkRow(raw, this.flavor);
      if (!checked.ok) {
        // Outside the range read (one-api's newest-100 search), it was or will be reported where it belongs.
        const at = checked.rejected.createdAt;
        if (at === undefined || (at >= q.start && at <= q.end)) this.reject(checked.rejected, pageKeys);
        continue;
      }
      const r = checked.row;
      if (r.createdAt < q.start || r.createdAt > q.end || !channels.has(r.channel)) continue;
      this.stats.seen++;
      if (r.id !== undefined) {
        if (this.maxId === null || r.id > this.maxId) this.maxId = r.id;
        if (this.idCheck && r.createdAt > this.idCheck.after && r.id <= this.idCheck.maxId) this.idsWentBack = true;
      }
      const before = r.id !== undefined && !this.recounted.has(r.channel) && ((idAbove !== undefined && r.id <= idAbove) || (this.floor !== null && r.createdAt <= this.floor.until && r.id <= this.floor.id));
      if (before || pageKeys.has(r.key) || this.isRepeat(r.key, r.channel)) {
        this.stats.repeated++;
        continue;
      }
      pageKeys.add(r.key);
      if (r.createdAt >= this.keepFrom) this.nearKeys.set(r.key, r.createdAt);
      const local = r.createdAt - this.skewSec;
      if (local >= this.timelineFrom) this.timeline.add(r.channel, r.model, local, r.tokens, r.elapsedSec);
      const at = this.clock.locate(local);
      const k = `${r.channel}\u0000${r.model}\u0000${at.start}`;
      const d = this.delta.get(k);
      if (d) {
        d.tokens += r.tokens;
        d.requests += 1;
      } else this.delta.set(k, { channel: r.channel, model: r.model, day: at.day, start: at.start, tokens: r.tokens, requests: 1 });
      this.stats.counted++;
    }
    this.pages.push(pageKeys);
    if (this.pages.length > PAGE_MEMORY) this.pages.shift();
  }

  /**
   * The share of a sample's rows that belong to `channels`: of its rows in `range`, or, when it has none there (one-api's
   * newest-100 search on a busy gateway holds only the last seconds, past the read's end), of all its rows. The mix of
   * traffic is what matters, not when. 1 when the sample is empty.
   */
  share(sample: unknown[], range: { start: number; end: number }, channels: Set<number>): number {
    const tally = { all: 0, mine: 0, inAll: 0, inMine: 0 };
    for (const raw of sample) {
      const r = raw as { created_at?: unknown; channel?: unknown; channel_id?: unknown };
      const mine = channels.has((this.flavor === 'one-hub' ? r.channel_id : r.channel) as number);
      tally.all++;
      if (mine) tally.mine++;
      const at = r.created_at;
      if (typeof at !== 'number' || at < range.start || at > range.end) continue;
      tally.inAll++;
      if (mine) tally.inMine++;
    }
    if (tally.inAll > 0) return tally.inMine / tally.inAll;
    return tally.all === 0 ? 1 : tally.mine / tally.all;
  }

  /** Adds the sums into `buckets` (the caller's own array). */
  commit(buckets: Bucket[]): void {
    const adder = new BucketAdder(buckets);
    for (const d of this.delta.values()) adder.add(d.channel, d.model, d, d.tokens, d.requests);
  }

  private isRepeat(key: number, channel?: number): boolean {
    if ((!this.recounted.has(channel!) && this.known.has(key)) || this.nearKeys.has(key)) return true;
    return this.pages.some((p) => p.has(key));
  }

  private reject(r: Rejected, pageKeys: Set<number>): void {
    if (r.key !== undefined) {
      if (pageKeys.has(r.key) || this.isRepeat(r.key)) return;
      pageKeys.add(r.key);
      // Remembered like a counted row, so the sweep's re-read does not report it again.
      if ((r.createdAt ?? this.keepFrom) >= this.keepFrom) this.nearKeys.set(r.key, r.createdAt ?? this.keepFrom);
    }
    this.stats.rejected[r.field] = (this.stats.rejected[r.field] ?? 0) + 1;
    this.newlyRejected.push(r);
  }
}

/** true when the page's ids rise by exactly one along it (3 rows or more), false when one falls, else undefined. */
function positionsIn(rows: unknown[]): boolean | undefined {
  let run = 1;
  for (let i = 1; i < rows.length; i++) {
    const prev = (rows[i - 1] as { id?: unknown })?.id;
    const id = (rows[i] as { id?: unknown })?.id;
    if (typeof prev !== 'number' || typeof id !== 'number') return undefined;
    if (id < prev) return false;
    run = id === prev + 1 ? run + 1 : 0;
  }
  return run >= POSITION_RUN && run === rows.length ? true : undefined;
}
