import { DateTime } from 'luxon';
import type { WindowKind } from '../config/types.js';

/** A budget window: [start, end) in unix seconds; end is Infinity for `total`. */
export interface Window {
  start: number;
  end: number;
  /** e.g. "daily window since 2026-11-24 02:20 +08:00" */
  label: string;
}

export interface WindowSpec {
  window: WindowKind;
  resetAt: string;
  since?: string;
}

/** Parses "HH:MM" (already validated by config). */
export function parseHHMM(s: string): { hour: number; minute: number } {
  const [h, m] = s.split(':').map(Number);
  return { hour: h, minute: m };
}

/** The instant of local time `hhmm` on the local day of `day`. A time skipped by DST moves forward. */
export function atLocal(day: DateTime, hhmm: string): DateTime {
  return day.startOf('day').set({ ...parseHHMM(hhmm), second: 0, millisecond: 0 });
}

/** Formats a unix-second instant as local "YYYY-MM-DD HH:mm +08:00". */
export function formatLocal(sec: number, tz: string): string {
  return DateTime.fromSeconds(sec, { zone: tz }).toFormat('yyyy-MM-dd HH:mm ZZ');
}

/** A window as the calendar keeps it: with the local date it starts on (the buckets' day). */
interface Known extends Window {
  day: string;
}

/**
 * Every window computed so far, per (zone, kind, reset time, since): a window holds for any instant in
 * [start, end), so once computed it answers without date maths until it ends. Kept in the state file between
 * runs (calendarSnapshot / restoreCalendar): a short-lived `once` in a known day then needs no time-zone data at
 * all, whose first use costs ~25 ms of ICU start-up.
 */
const calendar = new Map<string, Known[]>();

const specKey = (spec: WindowSpec, tz: string) => `${tz}|${spec.window}|${spec.resetAt}|${spec.since ?? ''}`;

const holds = (w: Window, nowMs: number) => w.start * 1000 <= nowMs && nowMs < w.end * 1000;

function known(spec: WindowSpec, tz: string, nowMs: number): Known {
  const key = specKey(spec, tz);
  let list = calendar.get(key);
  if (!list) calendar.set(key, (list = []));
  for (const w of list) if (holds(w, nowMs)) return w;
  const w = computeWindow(spec, tz, nowMs);
  // A `total` window whose start is still ahead does not contain now: computed each time, not kept.
  if (holds(w, nowMs)) list.push(w);
  return w;
}

/** The window that contains `nowMs`, in zone `tz`. */
export function currentWindow(spec: WindowSpec, tz: string, nowMs: number): Window {
  const { start, end, label } = known(spec, tz, nowMs);
  return { start, end, label };
}

/** The local day holding `sec` (unix seconds): its start, the next day's start, and its date (YYYY-MM-DD). */
export function localDay(tz: string, sec: number): { start: number; end: number; day: string } {
  return known({ window: 'daily', resetAt: '00:00' }, tz, sec * 1000);
}

/** The instant of local time `hhmm` on the local day that starts at `dayStart` (DST-skipped times move forward). */
export function onLocalDay(tz: string, dayStart: number, hhmm: string): number {
  // The daily window at `hhmm` that holds the day's last second starts at that day's `hhmm`.
  return hhmm === '00:00' ? dayStart : known({ window: 'daily', resetAt: hhmm }, tz, (localDay(tz, dayStart).end - 1) * 1000).start;
}

/** One kept window, as stored in the state file. */
export interface CalendarEntry {
  spec: string;
  start: number;
  end: number | null;
  day: string;
  label: string;
}

/** The calendar as stored: entries are only trusted with the time-zone data they were computed with. */
export interface CalendarState {
  tzdata: string;
  windows: CalendarEntry[];
}

const TZDATA = process.versions.tz ?? 'unknown';

/** The windows still current at or after `sinceSec` (older ones are forgotten here too), for the state file. */
export function calendarSnapshot(sinceSec: number): CalendarState {
  const windows: CalendarEntry[] = [];
  for (const [spec, list] of calendar) {
    const kept = list.filter((w) => w.end > sinceSec);
    if (kept.length > 0) calendar.set(spec, kept);
    else calendar.delete(spec);
    for (const w of kept) windows.push({ spec, start: w.start, end: w.end === Infinity ? null : w.end, day: w.day, label: w.label });
  }
  return { tzdata: TZDATA, windows };
}

/** Takes back the windows a snapshot kept; entries that do not look right, or other time-zone data, are ignored. */
export function restoreCalendar(saved: unknown): void {
  const s = saved as Partial<CalendarState> | null | undefined;
  if (!s || s.tzdata !== TZDATA || !Array.isArray(s.windows)) return;
  for (const e of s.windows as Partial<CalendarEntry>[]) {
    if (typeof e?.spec !== 'string' || typeof e.day !== 'string' || typeof e.label !== 'string' || !Number.isSafeInteger(e.start)) continue;
    const end = e.end === null ? Infinity : e.end;
    const kind = e.spec.split('|')[1] as WindowKind;
    if (kind === 'total' ? end !== Infinity : !(Number.isSafeInteger(end) && fits(kind, (end as number) - e.start!))) continue;
    const list = calendar.get(e.spec) ?? [];
    if (!list.some((w) => w.start === e.start)) list.push({ start: e.start!, end: end as number, day: e.day, label: e.label });
    calendar.set(e.spec, list);
  }
}

const HOUR = 3600;
const DAY = 24 * HOUR;
/** Whether a stored window's length can be one of `kind` (a day is 23 to 25 hours long). */
function fits(kind: WindowKind, sec: number): boolean {
  if (kind === 'daily') return sec >= DAY - HOUR && sec <= DAY + HOUR;
  if (kind === 'weekly') return sec >= 7 * DAY - HOUR && sec <= 7 * DAY + HOUR;
  return kind === 'monthly' && sec >= 28 * DAY - HOUR && sec <= 31 * DAY + HOUR;
}

/** The window that contains `nowMs`, computed in zone `tz` with luxon. */
function computeWindow(spec: WindowSpec, tz: string, nowMs: number): Known {
  const now = DateTime.fromMillis(nowMs, { zone: tz });
  let start: DateTime;
  let end: DateTime | null;
  switch (spec.window) {
    case 'daily':
    case 'weekly':
    case 'monthly': {
      const unit = spec.window === 'daily' ? 'day' : spec.window === 'weekly' ? 'week' : 'month';
      const step = { [`${unit}s`]: 1 } as Record<string, number>;
      // luxon's startOf('week') is ISO Monday.
      start = atLocal(now.startOf(unit), spec.resetAt);
      if (start > now) start = atLocal(now.startOf(unit).minus(step).startOf(unit), spec.resetAt);
      end = atLocal(start.plus(step).startOf(unit), spec.resetAt);
      break;
    }
    case 'total':
      start = DateTime.fromISO(spec.since ?? '1970-01-01', { zone: tz }).startOf('day');
      end = null;
      break;
  }
  return {
    start: Math.floor(start.toSeconds()),
    end: end ? Math.floor(end.toSeconds()) : Infinity,
    day: start.toISODate()!,
    label: `${spec.window} window since ${start.toFormat('yyyy-MM-dd HH:mm ZZ')}`,
  };
}

/** The most recent scheduled time of a daily event at `at` (local, in `tz`) that is ≤ nowMs, in unix seconds. */
export function lastOccurrence(at: string, tz: string, nowMs: number): number {
  return currentWindow({ window: 'daily', resetAt: at }, tz, nowMs).start;
}

/** The next scheduled time of a daily event at `at` strictly after nowMs, in unix seconds. */
export function nextOccurrence(at: string, tz: string, nowMs: number): number {
  return currentWindow({ window: 'daily', resetAt: at }, tz, nowMs).end;
}

/** A budget's window spec, with the key it is known by. */
export type KeyedSpec = WindowSpec & { key: string };

let memo: { budgets: readonly KeyedSpec[]; tz: string; nowMs: number; windows: Map<string, Window> } | undefined;

/**
 * Every budget's current window, each distinct (kind, reset time, since) computed once: thousands of budgets share
 * a handful of windows, and the date maths is the costly part. The last answer is kept, so the ingest and the
 * policy of one cycle (same budgets, same `now`) share it.
 */
export function windowsFor(budgets: readonly KeyedSpec[], tz: string, nowMs: number): Map<string, Window> {
  if (memo && memo.budgets === budgets && memo.tz === tz && memo.nowMs === nowMs) return memo.windows;
  const bySpec = new Map<string, Window>();
  const windows = new Map<string, Window>();
  for (const b of budgets) {
    const spec = `${b.window}|${b.resetAt}|${b.since ?? ''}`;
    let w = bySpec.get(spec);
    if (!w) bySpec.set(spec, (w = currentWindow(b, tz, nowMs)));
    windows.set(b.key, w);
  }
  memo = { budgets, tz, nowMs, windows };
  return windows;
}
