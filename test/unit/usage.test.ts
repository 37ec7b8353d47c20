import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { Bucketer, layoutFor, sumUsage } from '../../src/usage/buckets.js';
import { DEFAULT_INGEST, emptyUsage, foldLogs, ingest, rangesToFetch } from '../../src/usage/ingest.js';
import type { ConsumeLog, OneApiClient, TimeRange } from '../../src/oneapi/types.js';
import { aBudget, aConfig, aLog } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => Math.floor(DateTime.fromISO(iso, { zone: TZ }).toSeconds());

describe('Bucketer', () => {
  const b = new Bucketer({ timezone: TZ, boundaries: ['00:00', '02:20'] });
  it.each([
    ['2026-11-24T00:00', '2026-11-24', '2026-11-24T00:00'],
    ['2026-11-24T02:19:59', '2026-11-24', '2026-11-24T00:00'],
    ['2026-11-24T02:20', '2026-11-24', '2026-11-24T02:20'],
    ['2026-11-24T23:59:59', '2026-11-24', '2026-11-24T02:20'],
  ])('%s falls in day %s, segment %s', (at, day, start) => {
    expect(b.locate(sec(at))).toEqual({ day, start: sec(start) });
  });

  it('sums a daily window exactly across a reset boundary', () => {
    const buckets: ReturnType<typeof emptyUsage>['buckets'] = [];
    b.add(buckets, [
      aLog({ createdAt: sec('2026-11-24T01:00'), promptTokens: 1000, completionTokens: 0 }), // before 02:20: yesterday's window
      aLog({ createdAt: sec('2026-11-24T02:20'), promptTokens: 10, completionTokens: 5 }),
      aLog({ createdAt: sec('2026-11-24T23:00'), promptTokens: 20, completionTokens: 0, modelName: 'other' }),
    ]);
    const window = { from: sec('2026-11-24T02:20'), to: sec('2026-11-25T02:20') };
    expect(sumUsage(buckets, { channel: 1, ...window })).toEqual({ tokens: 35, requests: 2 });
    expect(sumUsage(buckets, { channel: 1, model: 'm', ...window })).toEqual({ tokens: 15, requests: 1 });
    expect(sumUsage(buckets, { channel: 2, ...window })).toEqual({ tokens: 0, requests: 0 });
  });
});

describe('layoutFor', () => {
  it('splits days at midnight and every renewal time', () => {
    const c = aConfig({ budgets: [aBudget({ resetAt: '08:00' }), aBudget({ channel: 'x', resetAt: '02:20' })] });
    expect(layoutFor(c).boundaries).toEqual(['00:00', '02:20', '08:00']);
  });
});

describe('rangesToFetch', () => {
  const opts = DEFAULT_INGEST;
  it('reads the whole needed span the first time', () => {
    expect(rangesToFetch(emptyUsage(), 1000, 5000, opts)).toEqual([{ start: 1000, end: 5000 }]);
  });
  it('reads on from the watermark with an overlap', () => {
    const u = { ...emptyUsage(), coveredFrom: 1000, watermark: 4000 };
    expect(rangesToFetch(u, 1000, 5000, opts)).toEqual([{ start: 3700, end: 5000 }]);
  });
  it('backfills when a window now starts before what was covered', () => {
    const u = { ...emptyUsage(), coveredFrom: 1000, watermark: 4000 };
    expect(rangesToFetch(u, 500, 5000, opts)).toEqual([{ start: 500, end: 999 }, { start: 3700, end: 5000 }]);
  });
  it('reads nothing when nothing new can exist', () => {
    const u = { ...emptyUsage(), coveredFrom: 1000, watermark: 5000 };
    expect(rangesToFetch(u, 1000, 5000, opts)).toEqual([]);
  });
});

describe('foldLogs', () => {
  const config = aConfig();
  const nowMs = DateTime.fromISO('2026-11-24T12:00', { zone: TZ }).toMillis();
  const p = { from: sec('2026-11-24T00:00'), end: sec('2026-11-24T11:59'), nowMs, opts: DEFAULT_INGEST };

  it('counts a row seen twice (overlap, repeated page) once', () => {
    const log = aLog({ createdAt: sec('2026-11-24T11:58') });
    const first = foldLogs(emptyUsage(), [log, log], config, p);
    expect(first.added).toBe(1);
    const second = foldLogs(first.usage, [log], config, { ...p, end: p.end + 60 });
    expect(second.added).toBe(0);
    expect(second.usage.buckets.reduce((s, b) => s + b.tokens, 0)).toBe(150);
  });

  it('forgets ids once they are behind the overlap, and keeps no raw rows', () => {
    const old = aLog({ createdAt: sec('2026-11-24T09:00') });
    const { usage } = foldLogs(emptyUsage(), [old], config, p);
    expect(usage.seen).toEqual({});
    expect(JSON.stringify(usage)).not.toContain('promptTokens');
  });

  it('prunes buckets older than the retention at a local midnight', () => {
    const ancient = aLog({ createdAt: sec('2026-09-01T10:00') });
    const kept = foldLogs(emptyUsage(), [ancient], config, { ...p, from: sec('2026-09-01T00:00') });
    expect(kept.usage.buckets).toHaveLength(1); // still inside a window that starts on 09-01
    const { usage } = foldLogs(kept.usage, [], config, p);
    expect(usage.buckets).toEqual([]);
    expect(usage.coveredFrom).toBe(sec('2026-10-15T00:00'));
  });
});

describe('ingest', () => {
  const config = aConfig();
  const nowMs = DateTime.fromISO('2026-11-24T12:00', { zone: TZ }).toMillis();
  function fakeClient(logs: ConsumeLog[], failOn?: number): OneApiClient & { ranges: TimeRange[] } {
    const ranges: TimeRange[] = [];
    return {
      ranges,
      requestCount: 0,
      listChannels: async () => [],
      getChannel: async () => ({ id: 1, name: '', priority: 0, status: 1, models: [] }),
      setPriority: async () => undefined,
      fetchConsumeLogs: async (r) => {
        ranges.push(r);
        if (failOn === ranges.length) throw new Error('page 3 failed');
        return logs.filter((l) => l.createdAt >= r.start && l.createdAt <= r.end);
      },
    };
  }

  it('first reads from the earliest window start, then only what is new', async () => {
    const logs = [aLog({ createdAt: sec('2026-11-24T03:00') })];
    const c = fakeClient(logs);
    const first = await ingest(c, emptyUsage(), config, nowMs);
    expect(c.ranges[0]).toEqual({ start: sec('2026-11-24T00:00'), end: nowMs / 1000 - 5 });
    const second = await ingest(c, first.usage, config, nowMs + 60_000);
    expect(c.ranges[1]).toEqual({ start: nowMs / 1000 - 5 - 300, end: nowMs / 1000 + 55 });
    expect(second.added).toBe(0);
  });

  it('throws and leaves usage untouched when a read fails', async () => {
    const c = fakeClient([], 1);
    const before = emptyUsage();
    await expect(ingest(c, before, config, nowMs)).rejects.toThrow('page 3 failed');
    expect(before).toEqual(emptyUsage());
  });

  it('starts over when the bucket layout changes', async () => {
    const c = fakeClient([aLog({ createdAt: sec('2026-11-24T03:00') })]);
    const first = await ingest(c, emptyUsage(), config, nowMs);
    const moved = aConfig({ budgets: [aBudget({ resetAt: '08:00' })] });
    const again = await ingest(c, first.usage, moved, nowMs + 60_000);
    expect(c.ranges[1].start).toBe(sec('2026-11-24T00:00'));
    expect(again.usage.buckets.reduce((s, b) => s + b.tokens, 0)).toBe(150);
  });
});
