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

/** The window that contains `nowMs`, computed in zone `tz`. */
export function currentWindow(spec: WindowSpec, tz: string, nowMs: number): Window {
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
