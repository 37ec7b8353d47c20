import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { calendarSnapshot, currentWindow, lastOccurrence, localDay, nextOccurrence, onLocalDay, restoreCalendar } from '../../src/usage/windows.js';

const ms = (iso: string, zone: string) => DateTime.fromISO(iso, { zone }).toMillis();
const local = (sec: number, zone: string) => DateTime.fromSeconds(sec, { zone }).toFormat("yyyy-MM-dd'T'HH:mm ZZ");

describe('currentWindow', () => {
  const rows: Array<[string, Parameters<typeof currentWindow>[0], string, string, string, string]> = [
    // name, spec, zone, now (local), expected start, expected end
    ['daily after reset', { window: 'daily', resetAt: '02:20' }, 'Asia/Shanghai', '2026-11-24T10:00', '2026-11-24T02:20 +08:00', '2026-11-25T02:20 +08:00'],
    ['daily before reset', { window: 'daily', resetAt: '02:20' }, 'Asia/Shanghai', '2026-11-24T02:19:59', '2026-11-23T02:20 +08:00', '2026-11-24T02:20 +08:00'],
    ['daily exactly at reset', { window: 'daily', resetAt: '02:20' }, 'Asia/Shanghai', '2026-11-24T02:20', '2026-11-24T02:20 +08:00', '2026-11-25T02:20 +08:00'],
    ['weekly from Monday', { window: 'weekly', resetAt: '02:20' }, 'Asia/Shanghai', '2026-11-26T09:00', '2026-11-23T02:20 +08:00', '2026-11-30T02:20 +08:00'],
    ['weekly, Monday before reset', { window: 'weekly', resetAt: '02:20' }, 'Asia/Shanghai', '2026-11-23T01:00', '2026-11-16T02:20 +08:00', '2026-11-23T02:20 +08:00'],
    ['monthly', { window: 'monthly', resetAt: '00:00' }, 'Asia/Shanghai', '2026-11-24T09:00', '2026-11-01T00:00 +08:00', '2026-12-01T00:00 +08:00'],
    ['monthly, 1st before reset', { window: 'monthly', resetAt: '02:20' }, 'Asia/Shanghai', '2026-12-01T01:00', '2026-11-01T02:20 +08:00', '2026-12-01T02:20 +08:00'],
    ['total', { window: 'total', resetAt: '02:20', since: '2026-11-01' }, 'Asia/Shanghai', '2026-11-24T09:00', '2026-11-01T00:00 +08:00', 'Infinity'],
    ['UTC daily', { window: 'daily', resetAt: '00:00' }, 'UTC', '2026-11-24T23:59', '2026-11-24T00:00 +00:00', '2026-11-25T00:00 +00:00'],
    // New York falls back on 2026-11-01 (02:00 EDT -> 01:00 EST): that day is 25 hours long.
    ['DST fall-back day is 25 h', { window: 'daily', resetAt: '00:00' }, 'America/New_York', '2026-11-01T12:00', '2026-11-01T00:00 -04:00', '2026-11-02T00:00 -05:00'],
    // New York springs forward on 2026-03-08: 02:20 does not exist that day and moves to 03:20 EDT.
    ['DST spring-forward, nonexistent reset time', { window: 'daily', resetAt: '02:20' }, 'America/New_York', '2026-03-08T12:00', '2026-03-08T03:20 -04:00', '2026-03-09T02:20 -04:00'],
    ['DST spring-forward, before the moved reset', { window: 'daily', resetAt: '02:20' }, 'America/New_York', '2026-03-08T03:00', '2026-03-07T02:20 -05:00', '2026-03-08T03:20 -04:00'],
  ];
  it.each(rows)('%s', (_name, spec, zone, now, start, end) => {
    const w = currentWindow(spec, zone, ms(now, zone));
    expect(local(w.start, zone)).toBe(start);
    expect(w.end === Infinity ? 'Infinity' : local(w.end, zone)).toBe(end);
  });

  it('the fall-back day window spans 25 hours', () => {
    const w = currentWindow({ window: 'daily', resetAt: '00:00' }, 'America/New_York', ms('2026-11-01T12:00', 'America/New_York'));
    expect(w.end - w.start).toBe(25 * 3600);
  });

  it('labels the window with local time and offset', () => {
    const w = currentWindow({ window: 'daily', resetAt: '02:20' }, 'Asia/Shanghai', ms('2026-11-24T10:00', 'Asia/Shanghai'));
    expect(w.label).toBe('daily window since 2026-11-24 02:20 +08:00');
  });
});

describe('nightly reset occurrences', () => {
  it('last and next around 02:20 Asia/Shanghai', () => {
    const now = ms('2026-11-24T02:19:50', 'Asia/Shanghai');
    expect(local(lastOccurrence('02:20', 'Asia/Shanghai', now), 'Asia/Shanghai')).toBe('2026-11-23T02:20 +08:00');
    expect(local(nextOccurrence('02:20', 'Asia/Shanghai', now), 'Asia/Shanghai')).toBe('2026-11-24T02:20 +08:00');
  });
});

describe('the calendar kept in state', () => {
  const spec = { window: 'daily', resetAt: '02:20' } as const;

  it('a restored window answers for any instant inside it, without computing it again', () => {
    // A shape-valid window that luxon would never compute: getting it back shows the stored one was used.
    const start = Math.floor(ms('2026-11-24T02:21', 'Asia/Tokyo') / 1000);
    restoreCalendar({ tzdata: process.versions.tz, windows: [{ spec: 'Asia/Tokyo|daily|02:20|', start, end: start + 86_400, day: '2026-11-24', label: 'stored' }] });
    expect(currentWindow(spec, 'Asia/Tokyo', (start + 3600) * 1000)).toEqual({ start, end: start + 86_400, label: 'stored' });
    // Outside it, the window is computed.
    expect(currentWindow(spec, 'Asia/Tokyo', (start - 7200) * 1000).label).toBe('daily window since 2026-11-23 02:20 +09:00');
  });

  it('ignores entries from other time-zone data, of the wrong shape, or of a length their kind cannot have', () => {
    const start = Math.floor(ms('2026-11-24T02:21', 'Europe/Paris') / 1000);
    const entry = { spec: 'Europe/Paris|daily|02:20|', start, end: start + 86_400, day: '2026-11-24', label: 'stored' };
    restoreCalendar({ tzdata: 'other', windows: [entry] });
    restoreCalendar({ tzdata: process.versions.tz, windows: [{ ...entry, end: start + 2 * 86_400 }, { ...entry, start: '1' }, null, 7] });
    restoreCalendar({ tzdata: process.versions.tz, windows: 'nope' });
    restoreCalendar(undefined);
    expect(currentWindow(spec, 'Europe/Paris', (start + 3600) * 1000).label).toBe('daily window since 2026-11-24 02:20 +01:00');
  });

  it('a snapshot keeps the windows that end after the cut-off, and round-trips through JSON', () => {
    const now = ms('2026-11-24T10:00', 'America/Chicago');
    const today = currentWindow({ window: 'daily', resetAt: '00:00' }, 'America/Chicago', now);
    const old = currentWindow({ window: 'daily', resetAt: '00:00' }, 'America/Chicago', now - 10 * 86_400_000);
    const total = currentWindow({ window: 'total', resetAt: '00:00', since: '2026-01-01' }, 'America/Chicago', now);
    const snap = JSON.parse(JSON.stringify(calendarSnapshot(now / 1000 - 86_400)));
    const mine = snap.windows.filter((w: { spec: string }) => w.spec.startsWith('America/Chicago|'));
    expect(mine.map((w: { start: number }) => w.start).sort()).toEqual([total.start, today.start].sort());
    expect(mine.find((w: { start: number }) => w.start === today.start)).toMatchObject({ end: today.end, day: '2026-11-24', label: today.label });
    expect(mine.some((w: { start: number }) => w.start === old.start)).toBe(false);
    restoreCalendar(snap);
    expect(currentWindow({ window: 'total', resetAt: '00:00', since: '2026-01-01' }, 'America/Chicago', now)).toEqual(total);
  });

  it('local days and the boundaries in them, across a DST change', () => {
    const day = localDay('America/New_York', ms('2026-11-01T12:00', 'America/New_York') / 1000);
    expect([local(day.start, 'America/New_York'), local(day.end, 'America/New_York'), day.day]).toEqual(['2026-11-01T00:00 -04:00', '2026-11-02T00:00 -05:00', '2026-11-01']);
    expect(local(onLocalDay('America/New_York', day.start, '02:20'), 'America/New_York')).toBe('2026-11-01T02:20 -05:00');
    const spring = localDay('America/New_York', ms('2026-03-08T12:00', 'America/New_York') / 1000);
    expect(local(onLocalDay('America/New_York', spring.start, '02:20'), 'America/New_York')).toBe('2026-03-08T03:20 -04:00');
  });
});
