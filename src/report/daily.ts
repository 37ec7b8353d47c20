import { DateTime } from 'luxon';
import type { Budget, ChannelRef, Config } from '../config/types.js';
import type { Bucket } from '../usage/buckets.js';
import { currentWindow } from '../usage/windows.js';

/** Tokens (prompt + completion) and requests. */
export interface Usage {
  tokens: number;
  requests: number;
}

/** Where tokens went: a free quota, a free channel past its quota, or a channel no budget covers (paid). */
export interface Split {
  free: number;
  overBudget: number;
  unbudgeted: number;
}

/** One local day of the report. */
export interface DayReport extends Usage {
  /** Local date, YYYY-MM-DD. */
  day: string;
  /** Per model, with the same free / over budget / unbudgeted split as the day. */
  byModel: Record<string, Usage & Split>;
  /** Keyed by OneAPI channel id. */
  byChannel: Record<string, Usage>;
  split: Split;
}

/** One channel over the whole period. */
export interface ChannelTotal extends Usage, Split {
  id: number;
  /** From OneAPI; null when OneAPI was not consulted. */
  name: string | null;
  /** Keys of the budgets that resolve to this channel. */
  budgets: string[];
}

/** The usage of the last `days` local days, oldest first, every day present. */
export interface DailyReport {
  timezone: string;
  from: string;
  to: string;
  days: DayReport[];
  /** Models seen in the period, most tokens first. */
  models: string[];
  channels: ChannelTotal[];
  totals: Usage & Split;
  /** Budgets whose channel could not be resolved to an id; their tokens count as unbudgeted. */
  unresolved: string[];
}

export interface DailyReportInput {
  config: Config;
  buckets: Bucket[];
  /** Config ref -> OneAPI id; empty when OneAPI was not consulted. */
  channelIds: Map<ChannelRef, number>;
  channelNames: Map<number, string>;
  nowMs: number;
  days: number;
}

/** Builds the per-day report, with the free / over-budget / unbudgeted split walked window by window. */
export function dailyReport(input: DailyReportInput): DailyReport {
  const { config, buckets, channelNames, nowMs } = input;
  const tz = config.timezone;
  const today = DateTime.fromMillis(nowMs, { zone: tz }).startOf('day');
  const first = today.minus({ days: input.days - 1 }).startOf('day');
  const dayList = Array.from({ length: input.days }, (_, i) => first.plus({ days: i }).toISODate()!);
  const range = { start: Math.floor(first.toSeconds()), end: Math.floor(today.plus({ days: 1 }).startOf('day').toSeconds()) };

  const resolved: Array<{ budget: Budget; id: number }> = [];
  const unresolved: string[] = [];
  for (const budget of config.budgets) {
    const id = resolveRef(budget.channel, input.channelIds, channelNames);
    if (id === undefined) unresolved.push(budget.key);
    else resolved.push({ budget, id });
  }
  const freeOf = splitFree(resolved, buckets, tz, range, nowMs);

  const days = new Map(dayList.map((day) => [day, emptyDay(day)]));
  const channels = new Map<number, ChannelTotal>();
  // By channel once, not a pass over every budget per channel: with thousands of budgets that was quadratic.
  const budgetsOf = new Map<number, string[]>();
  for (const r of resolved) {
    const keys = budgetsOf.get(r.id);
    if (keys) keys.push(r.budget.key);
    else budgetsOf.set(r.id, [r.budget.key]);
  }
  const channel = (id: number): ChannelTotal => {
    let c = channels.get(id);
    if (!c) {
      c = { id, name: channelNames.get(id) ?? null, budgets: budgetsOf.get(id) ?? [], tokens: 0, requests: 0, ...zeroSplit() };
      channels.set(id, c);
    }
    return c;
  };
  for (const r of resolved) channel(r.id);
  const modelTokens = new Map<string, number>();
  for (const b of buckets) {
    const day = days.get(b.day);
    if (!day) continue;
    const c = channel(b.channel);
    const free = freeOf.get(b);
    const part: Split = free === undefined ? { ...zeroSplit(), unbudgeted: b.tokens } : { free, overBudget: b.tokens - free, unbudgeted: 0 };
    const model = (day.byModel[b.model] ??= { tokens: 0, requests: 0, ...zeroSplit() });
    addUsage(day, b);
    addUsage(c, b);
    addUsage(model, b);
    addUsage((day.byChannel[String(b.channel)] ??= { tokens: 0, requests: 0 }), b);
    modelTokens.set(b.model, (modelTokens.get(b.model) ?? 0) + b.tokens);
    addSplit(day.split, part);
    addSplit(model, part);
    addSplit(c, part);
  }

  const dayReports = [...days.values()];
  const totals = { tokens: 0, requests: 0, ...zeroSplit() };
  for (const d of dayReports) {
    addUsage(totals, d);
    addSplit(totals, d.split);
  }
  return {
    timezone: tz,
    from: dayList[0],
    to: dayList[dayList.length - 1],
    days: dayReports,
    models: [...modelTokens].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([m]) => m),
    channels: [...channels.values()].sort((a, b) => b.tokens - a.tokens || a.id - b.id),
    totals,
    unresolved,
  };
}

/**
 * The free tokens of each bucket some budget covers. Each bucket belongs to one budget only, the most specific
 * first (one with a model), so a channel's per-model and catch-all budgets never count a token twice.
 */
function splitFree(
  resolved: Array<{ budget: Budget; id: number }>,
  buckets: Bucket[],
  tz: string,
  range: { start: number; end: number },
  nowMs: number,
): Map<Bucket, number> {
  const ordered = [...resolved].sort((a, b) => Number(a.budget.model === undefined) - Number(b.budget.model === undefined));
  // A total window does not reach back before `since`: older tokens are not part of that grant.
  const from = new Map(ordered.map((r) => [r, r.budget.window === 'total' ? currentWindow(r.budget, tz, nowMs).start : -Infinity]));
  const owned = new Map(ordered.map((r) => [r, [] as Bucket[]]));
  // Each bucket looks among its channel's budgets only (in the same order), not among all of them.
  const onChannel = new Map<number, typeof ordered>();
  for (const r of ordered) {
    const list = onChannel.get(r.id);
    if (list) list.push(r);
    else onChannel.set(r.id, [r]);
  }
  for (const b of buckets) {
    if (b.start >= range.end) continue;
    const owner = onChannel.get(b.channel)?.find((r) => (r.budget.model ?? b.model) === b.model && b.start >= from.get(r)!);
    if (owner) owned.get(owner)!.push(b);
  }
  // The windows over the range, walked once per window spec: thousands of budgets share a few.
  const walks = new Map<string, Array<{ start: number; end: number }>>();
  const windowsOf = (budget: Budget) => {
    const key = `${budget.window}|${budget.resetAt}|${budget.since ?? ''}`;
    let list = walks.get(key);
    if (list) return list;
    walks.set(key, (list = []));
    // The window holding the report's first instant may have started earlier; its earlier tokens count too.
    let w = currentWindow(budget, tz, range.start * 1000);
    for (;;) {
      list.push(w);
      if (w.end >= range.end) break;
      const next = currentWindow(budget, tz, w.end * 1000);
      if (next.start <= w.start) break;
      w = next;
    }
    return list;
  };
  const freeOf = new Map<Bucket, number>();
  for (const [r, mine] of owned) {
    if (mine.length === 0) continue;
    mine.sort((a, b) => a.start - b.start || a.model.localeCompare(b.model));
    for (const w of windowsOf(r.budget)) {
      let used = 0;
      for (const b of mine) {
        if (b.start < w.start || b.start >= w.end) continue;
        freeOf.set(b, Math.min(b.tokens, Math.max(0, r.budget.freeTokens - used)));
        used += b.tokens;
      }
    }
  }
  return freeOf;
}

/** A config ref as an id: through OneAPI's answer, or without it, a number as an id and a unique known name. */
function resolveRef(ref: ChannelRef, ids: Map<ChannelRef, number>, names: Map<number, string>): number | undefined {
  if (ids.size > 0) return ids.get(ref);
  if (typeof ref === 'number') return ref;
  const hits = [...names].filter(([, name]) => name === ref);
  return hits.length === 1 ? hits[0][0] : undefined;
}

function emptyDay(day: string): DayReport {
  return { day, tokens: 0, requests: 0, byModel: {}, byChannel: {}, split: zeroSplit() };
}

function zeroSplit(): Split {
  return { free: 0, overBudget: 0, unbudgeted: 0 };
}

function addUsage(to: Usage, u: Usage): void {
  to.tokens += u.tokens;
  to.requests += u.requests;
}

function addSplit(to: Split, s: Split): void {
  to.free += s.free;
  to.overBudget += s.overBudget;
  to.unbudgeted += s.unbudgeted;
}
