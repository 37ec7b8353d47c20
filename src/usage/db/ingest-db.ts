import { localDay } from '../windows.js';
import { BucketAdder, BucketClock, layoutFor, layoutSignature, type Bucket } from '../buckets.js';
import { DEFAULT_INGEST, emptyUsage, neededFrom, type IngestInput, type IngestStats, type UsageState } from '../ingest.js';
import { lazyIds, neededFor, planRelayout, recountFor } from '../relayout.js';
import { checkRow } from '../rows.js';
import type { LogDb } from './connect.js';
import { badRows, maxLogId, sumSlots, type SlotSum } from './queries.js';
import { steppedBack } from '../clock-step.js';

/**
 * Where the database reader stands. Times are OneAPI's clock (the created_at it stamps), except where said.
 * Rows with created_at ≤ settledTo are in the buckets for good. The rows after it, up to readTo, are the `tail`:
 * OneAPI may still commit rows stamped there (one-hub writes in batches, one-api from a goroutine), so every cycle
 * reads the tail again and REPLACES its sums in the buckets (subtract the old tail, add the new one). No row keys
 * are kept, and a late row is counted once, exactly.
 */
export interface DbCursor {
  /** The database read (its URL without the password): another database starts over. */
  db: string;
  settledTo: number;
  readTo: number;
  /** Channel id -> the first LOCAL instant counted for it (as ApiCursor.channels). */
  channels: Record<string, number>;
  /** [channel, model, bucket start (local unix s), tokens, requests] of the rows in (settledTo, readTo]. */
  tail: Array<[number, string, number, number, number]>;
  skewSec: number;
  /**
   * The highest log id read (ids rise in insert order in every SQL store): each cycle also reads the rows with a
   * higher id stamped at or before settledTo, which a stepped-back clock (or a very late commit) puts there. Absent in
   * older states, null before the first read.
   */
  maxId?: number | null;
  /** OneAPI's clock (less the lag) at the last read: seeing it go back is seeing a clock step. */
  clockAt?: number;
}

export interface DbIngestInput extends IngestInput {
  db: LogDb;
}

/** Bad rows logged one by one per cycle, at most (as the API source). */
const MAX_REJECT_LINES = 20;
/** A row written later than this after its created_at is not counted (the API source's sweep span). */
const DEFAULT_TAIL_SEC = DEFAULT_INGEST.sweepSpanSec;
/** The database has the row as soon as it is committed: only a short lag for clocks that disagree by a second. */
const LAG_SEC = 2;

type Slot = { start: number; day: string; tail: boolean };

/**
 * The database source: the same contract as `ingest` (usage in, usage and stats out; throws on any failed read and
 * changes nothing then), with sums computed by the database. The API cursor is dropped, so that switching back to
 * the API source recounts instead of adding twice; likewise `ingest` drops this cursor.
 */
export async function ingestFromDb(usage: UsageState, input: DbIngestInput): Promise<{ usage: UsageState; stats: IngestStats }> {
  const { client, db, flavor, config, nowMs, log } = input;
  const opts = input.opts ?? DEFAULT_INGEST;
  const tailSec = opts.sweepSpanSec || DEFAULT_TAIL_SEC;
  const layout = layoutFor(config);
  const signature = layoutSignature(layout);
  const sameDb = usage.dbCursor?.db === db.identity;
  const plan = planRelayout(usage.signature, config, nowMs);
  const ids = input.refIds ? () => Promise.resolve(input.refIds!) : lazyIds(config, client);
  const recountFrom = await recountFor(plan, { ids, channels: input.channels, firstCounted: sameDb ? usage.dbCursor?.channels : undefined, log, hadBuckets: usage.buckets.length > 0 });
  const base = recountFrom === null ? emptyUsage(signature) : usage;
  const cursor = base.dbCursor && base.dbCursor.db === db.identity ? base.dbCursor : null;

  // created_at is OneAPI's clock: read by it (the Date header of this cycle's channel list), as the API source does.
  const sc = client.serverClock();
  const skewSec = sc ? Math.round((sc.serverMs - sc.localMs) / 1000) : 0;
  const fromLocal = neededFrom(config, nowMs);
  const fromServer = fromLocal + skewSec;
  const clockAt = Math.floor(nowMs / 1000) + skewSec - LAG_SEC;
  const end = Math.max(clockAt, cursor?.readTo ?? 0);
  const settle = Math.max(end - tailSec, cursor?.settledTo ?? 0);
  const clock = new BucketClock(layout);
  const stats: IngestStats = { counted: 0, seen: 0, repeated: 0, rejected: {}, pages: 0, skewSec, clockSource: sc ? 'date-header' : 'local', mode: 'all', swept: false, coldChannels: [] };

  // After a long stop, nothing older than what the buckets keep is read again.
  const cutoff = Math.min(fromLocal, localDay(config.timezone, nowMs / 1000 - opts.retentionDays * 86_400).start);
  // Channel -> LOCAL instant from which it is recounted: new channels (or whose windows now start earlier) from the
  // windows' start, channels whose budgets renew at a new boundary from that window's local midnight (relayout.ts).
  const recount = new Map<number, number>(recountFrom ?? []);
  const needed = await neededFor(input, cursor?.channels, fromLocal, ids);
  for (const c of input.channels) {
    const first = cursor?.channels[c];
    if (first === undefined) recount.set(c, fromLocal);
    else if (first > needed(c)) recount.set(c, Math.min(recount.get(c) ?? Infinity, needed(c)));
  }
  const cold = [...recount.keys()].sort((a, b) => a - b);
  const warm = input.channels.filter((c) => !recount.has(c));
  const reads: Array<{ channels: number[]; from: number; to: number; idAbove?: number }> = [];
  for (const from of new Set(recount.values())) reads.push({ channels: cold.filter((c) => recount.get(c) === from), from: from + skewSec, to: end });
  if (warm.length && cursor) reads.push({ channels: warm, from: Math.max(cursor.settledTo + 1, cutoff + skewSec), to: end });

  // Every read first: nothing below changes state until all of them succeeded.
  const t0 = performance.now();
  // Rows inserted since the last cycle but stamped in the settled part: OneAPI's clock went back (or a commit came
  // very late). An id cursor ahead of the table (a clean-up emptied it, SQLite reused ids) would hide new rows: then
  // this cycle reads by time only and the ids start over from its own.
  const backSec = cursor?.clockAt !== undefined ? steppedBack(cursor.clockAt, clockAt) : 0;
  let idsWentBack = false;
  if (cursor?.maxId != null && warm.length) {
    const top = await maxLogId(db);
    stats.pages++;
    idsWentBack = top === null || top < cursor.maxId;
    // From the windows' start, as a cold read: what the budgets and today's report need (and few slots to cut).
    if (!idsWentBack && top! > cursor.maxId && cursor.settledTo >= fromServer)
      reads.push({ channels: warm, from: fromServer, to: cursor.settledTo, idAbove: cursor.maxId });
  }
  const results: Array<{ sums: SlotSum[]; slots: Slot[] }> = [];
  for (const r of reads) {
    const { edges, slots } = slotsFor(clock, r.from, r.to, settle, skewSec);
    const sums = await sumSlots(db, flavor, { channels: r.channels, from: r.from, to: r.to, edges, badFrom: cursor ? cursor.readTo + 1 : r.from, idAbove: r.idAbove });
    stats.pages++;
    results.push({ sums, slots });
  }
  let maxId = idsWentBack ? null : (cursor?.maxId ?? null);
  for (const r of results) for (const x of r.sums) if (x.maxId !== null && (maxId === null || x.maxId > maxId)) maxId = x.maxId;
  const rejectedTotal = results.reduce((n, r) => n + r.sums.reduce((m, s) => m + s.bad, 0), 0);
  const bad = rejectedTotal > 0 ? await badRows(db, flavor, { channels: input.channels, from: cursor ? cursor.readTo + 1 : fromServer, to: end, limit: MAX_REJECT_LINES }) : [];
  stats.dbMs = Math.round(performance.now() - t0);

  // Now the sums become the state: drop what cold channels had, take the warm channels' old tail out, add the new.
  const warmSet = new Set(warm);
  const buckets: Bucket[] = base.buckets.filter((b) => !(b.start >= (recount.get(b.channel) ?? Infinity)));
  const adder = new BucketAdder(buckets);
  let replaced = 0;
  for (const [channel, model, start, tokens, requests] of cursor?.tail ?? []) {
    if (!warmSet.has(channel)) continue;
    adder.add(channel, model, clock.locate(start), -tokens, -requests);
    replaced += requests;
  }
  const tail: DbCursor['tail'] = [];
  let added = 0;
  for (const { sums, slots } of results)
    for (const s of sums) {
      if (s.requests === 0) continue;
      const slot = slots[s.slot];
      adder.add(s.channel, s.model, slot, s.tokens, s.requests);
      if (slot.tail) tail.push([s.channel, s.model, slot.start, s.tokens, s.requests]);
      added += s.requests;
    }
  // A bucket can only shrink when OneAPI deleted rows of the tail; never below zero (the state schema refuses it).
  const kept = buckets.filter((b) => b.start >= cutoff && b.requests > 0).map((b) => (b.tokens < 0 ? { ...b, tokens: 0 } : b));
  const channels: Record<string, number> = {};
  // As the API source: marked from fromLocal, so the check for what each channel needs is not repeated every cycle.
  for (const c of input.channels) channels[c] = Math.min(cursor?.channels[c] ?? fromLocal, fromLocal);

  stats.seen = added;
  stats.repeated = Math.min(replaced, added);
  stats.counted = Math.max(0, added - replaced);
  stats.coldChannels = cold;
  // Each quarantined row is reported (and counted for the metric) once: in the cycle whose read first reaches it.
  for (const raw of bad) {
    const c = checkRow(raw, flavor);
    const field = c.ok ? 'tokens' : c.rejected.field;
    stats.rejected[field] = (stats.rejected[field] ?? 0) + 1;
    log?.warn({ id: raw.id, channel: raw.channel ?? raw.channel_id, field, value: c.ok ? undefined : c.rejected.value }, 'log row skipped');
  }
  if (backSec > 0)
    log?.warn({ backSec, readTo: cursor!.readTo, readEnd: clockAt, how: cursor!.maxId != null && !idsWentBack ? 'ids above the highest counted' : 'by time only' }, "OneAPI's clock went back; reading around it");
  if (idsWentBack) log?.warn({ maxId: cursor!.maxId }, 'log ids went back (a log clean-up or id reuse); reading by time');
  if (rejectedTotal > bad.length) {
    stats.rejected.more = rejectedTotal - bad.length;
    log?.warn({ more: rejectedTotal - bad.length, byField: stats.rejected }, 'more log rows skipped');
  }
  return {
    usage: {
      signature,
      watermark: Math.max(base.watermark ?? 0, end - skewSec),
      cursor: null,
      dbCursor: { db: db.identity, settledTo: settle, readTo: end, channels, tail, skewSec, maxId, clockAt },
      buckets: kept,
    },
    stats,
  };
}

/**
 * Cuts [from, to] (OneAPI's clock) at every bucket boundary and at `settle`, so each slot lies in one bucket and on
 * one side of the settled line. Bucket boundaries are local instants: on OneAPI's clock they are shifted by the skew.
 */
export function slotsFor(clock: BucketClock, from: number, to: number, settle: number, skewSec: number): { edges: number[]; slots: Slot[] } {
  const cuts = new Set<number>();
  for (const start of clock.startsBetween(from - skewSec, to - skewSec)) if (start + skewSec > from && start + skewSec <= to) cuts.add(start + skewSec);
  if (settle + 1 > from && settle + 1 <= to) cuts.add(settle + 1);
  const edges = [...cuts].sort((a, b) => a - b);
  const slots = [from, ...edges].map((at) => ({ ...clock.locate(at - skewSec), tail: at > settle }));
  return { edges, slots };
}
