import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import type { Channel, Flavor, LogQuery, LogReadOptions, OneApiClient } from '../../src/oneapi/types.js';
import { BucketClock, layoutFor, sumUsage } from '../../src/usage/buckets.js';
import { DEFAULT_INGEST, emptyUsage, ingest, type UsageState } from '../../src/usage/ingest.js';
import { Fold } from '../../src/usage/fold.js';
import { checkRow, MAX_TOKENS } from '../../src/usage/rows.js';
import { aBudget, aConfig, aDefault, aLog, addLogs, aRow } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => Math.floor(DateTime.fromISO(iso, { zone: TZ }).toSeconds());

describe('BucketClock', () => {
  const clock = new BucketClock({ timezone: TZ, boundaries: ['00:00', '02:20'] });
  it.each([
    ['2026-11-24T00:00', '2026-11-24', '2026-11-24T00:00'],
    ['2026-11-24T02:19:59', '2026-11-24', '2026-11-24T00:00'],
    ['2026-11-24T02:20', '2026-11-24', '2026-11-24T02:20'],
    ['2026-11-24T23:59:59', '2026-11-24', '2026-11-24T02:20'],
    ['2026-08-01T12:00', '2026-08-01', '2026-08-01T02:20'], // far from the days already known
    ['2026-11-23T01:00', '2026-11-23', '2026-11-23T00:00'],
  ])('%s falls in day %s, segment %s', (at, day, start) => {
    expect(clock.locate(sec(at))).toEqual({ day, start: sec(start) });
  });

  it('cuts a New York fall-back day (25 hours) at its local midnight', () => {
    const ny = new BucketClock({ timezone: 'America/New_York', boundaries: ['00:00'] });
    const midnight = DateTime.fromISO('2026-11-01T00:00', { zone: 'America/New_York' }).toSeconds();
    expect(ny.locate(midnight + 24.5 * 3600)).toEqual({ day: '2026-11-01', start: midnight });
    expect(ny.locate(midnight + 25 * 3600).day).toBe('2026-11-02');
  });

  it('sums a daily window exactly across a reset boundary', () => {
    const buckets: UsageState['buckets'] = [];
    addLogs(buckets, { timezone: TZ, boundaries: ['00:00', '02:20'] }, [
      aLog({ createdAt: sec('2026-11-24T01:00'), promptTokens: 1000, completionTokens: 0 }), // yesterday's window
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

describe('checkRow: hostile rows are rejected naming the field, never counted', () => {
  const T = 1_764_000_000;
  it.each([
    ['prompt_tokens', -1_500_000],
    ['prompt_tokens', '12'],
    ['prompt_tokens', 1.5],
    ['completion_tokens', undefined],
    ['completion_tokens', MAX_TOKENS + 1],
    ['type', 9],
    ['type', undefined],
    ['channel', '3'],
    ['created_at', undefined],
    ['model_name', null],
  ])('%s = %p', (field, value) => {
    const r = checkRow(aRow({ created_at: T, [field]: value }), 'one-api');
    expect(r).toMatchObject({ ok: false, rejected: { field, value } });
  });

  it('accepts a plain consume row, summing prompt and completion', () => {
    const r = checkRow(aRow({ id: 7, created_at: T, channel: 3, prompt_tokens: 0, completion_tokens: MAX_TOKENS }), 'one-api');
    expect(r).toMatchObject({ ok: true, row: { createdAt: T, channel: 3, model: 'm', tokens: MAX_TOKENS } });
  });

  it('one-hub: the channel is channel_id (channel is a preloaded object)', () => {
    const r = checkRow(aRow({ created_at: T, channel: { id: 4, name: 'x' }, channel_id: 4 }), 'one-hub');
    expect(r).toMatchObject({ ok: true, row: { channel: 4 } });
  });

  it.each([
    ['upstream name in other', '{"upstream_model_name":"DeepSeek-V3","model_ratio":1}', 'DeepSeek-V3'],
    ['no mapping', '{"model_ratio":1}', 'alias'],
    ['malformed other', '{"upstream_model_name":', 'alias'],
    ['empty upstream name', '{"upstream_model_name":""}', 'alias'],
  ])('new-api counts the upstream model: %s', (_name, other, model) => {
    const r = checkRow(aRow({ created_at: T, model_name: 'alias', other }), 'new-api');
    expect(r).toMatchObject({ ok: true, row: { model } });
  });

  it('one-api and one-hub count model_name as logged (already the upstream name there)', () => {
    const other = '{"upstream_model_name":"X"}';
    expect(checkRow(aRow({ created_at: T, model_name: 'M', other }), 'one-api')).toMatchObject({ row: { model: 'M' } });
  });

  it('keys on request_id where filled (ClickHouse ids are page positions), else on id', () => {
    const key = (r: Record<string, unknown>) => (checkRow(aRow({ created_at: T, ...r }), 'new-api') as { row: { key: number } }).row.key;
    expect(key({ id: 1, request_id: 'abc' })).toBe(key({ id: 101, request_id: 'abc' }));
    expect(key({ id: 1, request_id: 'abc' })).not.toBe(key({ id: 1, request_id: 'abd' }));
    // A re-billing row for the same request differs in time or counts: counted as its own row.
    expect(key({ request_id: 'abc' })).not.toBe(key({ request_id: 'abc', prompt_tokens: 7 }));
    expect(key({ id: 5 })).toBe(key({ id: 5, model_name: 'other' }));
  });
});

describe('Fold.share: the budgeted share of a first answer, which picks one read of all channels or one per channel', () => {
  const fold = new Fold('one-api', new BucketClock(layoutFor(aConfig())), new Set(), 0, 0);
  const range = { start: 1000, end: 2000 };
  const rows = (n: number, channel: number, at: number) => Array.from({ length: n }, () => ({ channel, created_at: at }));
  const cases: Array<[string, unknown[], number]> = [
    ['rows in the range: their share', [...rows(3, 1, 1500), ...rows(7, 50, 1500), ...rows(90, 1, 2500)], 0.3],
    // one-api's newest-100 search on a busy gateway: every row is newer than the read's end (now − lag).
    ['none in the range: the share of all rows', [...rows(10, 1, 2005), ...rows(90, 50, 2005)], 0.1],
    ['empty: assume all', [], 1],
  ];
  it.each(cases)('%s', (_name, sample, want) => {
    expect(fold.share(sample, range, new Set([1, 2]))).toBeCloseTo(want);
  });
});

/** An in-memory OneAPI log store that pages like a flavor, records each query and can fail or lie about time. */
function fakeOneApi(flavor: Flavor = 'new-api', opts: { skewSec?: number; nowMs?: () => number } = {}) {
  const rows: Array<Record<string, unknown>> = [];
  const queries: Array<LogQuery & { pages: number }> = [];
  let failNext = false;
  let requests = 0;
  const size = flavor === 'one-api' ? 10 : 100;
  const client: OneApiClient = {
    get requestCount() {
      return requests;
    },
    throttledMs: 0,
    serverClock: () => (opts.nowMs ? { serverMs: opts.nowMs() + (opts.skewSec ?? 0) * 1000, localMs: opts.nowMs() } : undefined),
    close: () => undefined,
    listChannels: async () => [],
    getChannel: async (id) => ({ id, name: '', priority: 0, status: 1, models: [] }) as Channel,
    setPriority: async () => undefined,
    enableChannel: async () => undefined,
    async readLogs(q, onPage, o: LogReadOptions = {}) {
      if (failNext) {
        failNext = false;
        throw new Error('page 3 failed');
      }
      const match = rows
        .filter((r) => (r.created_at as number) >= q.start && (r.created_at as number) <= q.end)
        .filter((r) => q.channel === undefined || r.channel === q.channel)
        .sort((a, b) => (b.created_at as number) - (a.created_at as number));
      const record = { ...q, pages: 1 };
      queries.push(record);
      requests++;
      if (o.onFirst && !o.onFirst(Math.max(0, match.length - size), match.slice(0, size))) return { pages: 1, rows: 0, declined: true, total: match.length };
      const pages = Math.max(1, Math.ceil((match.length + 1) / size));
      record.pages = pages;
      requests += pages - 1;
      for (let p = 0; p < pages; p++) onPage(match.slice(p * size, (p + 1) * size));
      return { pages, rows: match.length, declined: false, total: match.length };
    },
  };
  return {
    client,
    rows,
    queries,
    add: (...r: Array<Record<string, unknown>>) => rows.push(...r),
    failOnce: () => (failNext = true),
  };
}

const tokensOf = (u: UsageState, channel?: number) =>
  u.buckets.filter((b) => channel === undefined || b.channel === channel).reduce((s, b) => s + b.tokens, 0);

describe('ingest', () => {
  const config = aConfig({ defaults: [aDefault(1, 100), aDefault(2, 100)], budgets: [aBudget({ channel: 1 }), aBudget({ channel: 2 })] });
  const NOW = DateTime.fromISO('2026-11-24T12:00', { zone: TZ }).toMillis();
  const now = NOW / 1000;
  const lag = DEFAULT_INGEST.lagSec;
  const base = { flavor: 'new-api' as Flavor, config, channels: [1, 2] };

  it('first reads each budgeted channel from its window start to OneAPI-now minus the lag, then only what is new', async () => {
    let t = NOW;
    const f = fakeOneApi('new-api', { nowMs: () => t });
    f.add(aRow({ created_at: sec('2026-11-24T03:00'), channel: 1 }), aRow({ created_at: sec('2026-11-24T03:00'), channel: 9 }));
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: t });
    const from = sec('2026-11-24T00:00'); // today's start: reports need it, and it precedes the 02:20 window
    expect(f.queries.map(({ pages, ...q }) => q)).toEqual([
      { start: from, end: now - lag, channel: 1 },
      { start: from, end: now - lag, channel: 2 },
    ]);
    expect(first.stats).toMatchObject({ counted: 1, coldChannels: [1, 2], clockSource: 'date-header', skewSec: 0 });
    expect(tokensOf(first.usage)).toBe(150);

    t += 60_000;
    f.queries.length = 0;
    f.add(aRow({ created_at: now + 30, channel: 2 }));
    const second = await ingest(first.usage, { ...base, client: f.client, nowMs: t });
    expect(f.queries).toHaveLength(1);
    expect(f.queries[0].end).toBe(now + 60 - lag);
    expect(second.stats).toMatchObject({ counted: 1, mode: 'all' });
    expect(tokensOf(second.usage, 2)).toBe(150);
    expect(JSON.stringify(second.usage)).not.toContain('prompt_tokens');
  });

  it('counts a row read twice (a repeated page, the re-read of the last minutes) once', async () => {
    let t = NOW;
    const f = fakeOneApi('new-api', { nowMs: () => t });
    const row = aRow({ created_at: now - 60, channel: 1 });
    const old = aRow({ created_at: now - 3000, channel: 1 }); // far from the cursor, repeated within one page
    f.add(row, row, old, old);
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: t });
    expect(first.stats).toMatchObject({ counted: 2, repeated: 2 });
    t += 60_000;
    const late = aRow({ created_at: now - 30, channel: 1 }); // stamped before the last read's end, written after it
    f.add(late);
    const second = await ingest(first.usage, { ...base, client: f.client, nowMs: t });
    expect([second.stats.swept, tokensOf(second.usage)]).toEqual([false, 300]); // a steady read starts after the cursor
    t += DEFAULT_INGEST.sweepEverySec * 1000;
    f.add(late); // the sweep sees it again: counted once
    const third = await ingest(second.usage, { ...base, client: f.client, nowMs: t });
    expect(third.stats.swept).toBe(true);
    expect(tokensOf(third.usage)).toBe(450);
    const fourth = await ingest(third.usage, { ...base, client: f.client, nowMs: t + 60_000 });
    expect([fourth.stats.swept, tokensOf(fourth.usage)]).toEqual([false, 450]);
  });

  it('skips a hostile row with one warning naming id, channel and field, counts the rest, and moves on', async () => {
    let t = NOW;
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const f = fakeOneApi('new-api', { nowMs: () => t });
    f.add(
      aRow({ id: 66, created_at: now - 100, channel: 1, prompt_tokens: -1_500_000 }),
      aRow({ id: 67, created_at: now - 100, channel: 2, prompt_tokens: '12' }),
      aRow({ id: 68, created_at: now - 90, channel: 1, prompt_tokens: 1_000_000, completion_tokens: 0 }),
    );
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: t, log });
    expect(tokensOf(first.usage, 1)).toBe(1_000_000);
    expect(first.stats.rejected).toEqual({ prompt_tokens: 2 });
    expect(lines.filter((l) => l.msg === 'log row skipped')).toEqual([
      expect.objectContaining({ id: 66, channel: 1, field: 'prompt_tokens', value: -1_500_000 }),
      expect.objectContaining({ id: 67, channel: 2, field: 'prompt_tokens', value: '12' }),
    ]);
    t += 60_000;
    lines.length = 0;
    f.add(aRow({ created_at: now + 20, channel: 1 }));
    const second = await ingest(first.usage, { ...base, client: f.client, nowMs: t, log });
    expect(second.stats.counted).toBe(1);
    expect(lines.filter((l) => l.msg === 'log row skipped')).toEqual([]); // re-read, but reported once
  });

  it('throws and leaves usage untouched when a read fails', async () => {
    const f = fakeOneApi('new-api', { nowMs: () => NOW });
    f.failOnce();
    const before = emptyUsage();
    await expect(ingest(before, { ...base, client: f.client, nowMs: NOW })).rejects.toThrow('page 3 failed');
    expect(before).toEqual(emptyUsage());
  });

  it('a new reset time recounts only its channel, from that window\'s local midnight; the rest goes on from the cursor', async () => {
    let t = NOW;
    const f = fakeOneApi('new-api', { nowMs: () => t });
    f.add(aRow({ created_at: sec('2026-11-24T03:00'), channel: 1 }), aRow({ created_at: sec('2026-11-24T09:00'), channel: 1 }));
    f.add(aRow({ created_at: sec('2026-11-24T03:00'), channel: 2 }));
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: t });
    t += 60_000;
    f.queries.length = 0;
    const moved = { ...config, budgets: [aBudget({ channel: 1, resetAt: '08:00' }), aBudget({ channel: 2 })] };
    const again = await ingest(first.usage, { ...base, config: moved, client: f.client, nowMs: t });
    expect(again.stats.coldChannels).toEqual([1]);
    expect(f.queries.map(({ pages, ...q }) => q)).toEqual([
      { start: sec('2026-11-24T00:00'), end: now + 60 - lag, channel: 1 },
      { start: now - lag + 1, end: now + 60 - lag },
    ]);
    expect(tokensOf(again.usage)).toBe(450);
    // Channel 1's buckets are cut at 08:00 now: its window's sum is exact.
    expect(sumUsage(again.usage.buckets, { channel: 1, from: sec('2026-11-24T08:00'), to: sec('2026-11-25T08:00') }).tokens).toBe(150);
    expect(again.usage.signature).toBe('Asia/Shanghai|00:00,02:20,08:00');
  });

  it('starts over when the time zone changes', async () => {
    const f = fakeOneApi('new-api', { nowMs: () => NOW });
    f.add(aRow({ created_at: sec('2026-11-24T03:00'), channel: 1 }));
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: NOW });
    const moved = { ...config, timezone: 'Asia/Tokyo' };
    const again = await ingest(first.usage, { ...base, config: moved, client: f.client, nowMs: NOW + 60_000 });
    expect(again.stats.coldChannels).toEqual([1, 2]);
    expect(tokensOf(again.usage)).toBe(150);
  });

  it.each([
    ['10 minutes behind', -600],
    ['10 minutes ahead', 600],
  ])("reads by OneAPI's clock when it is %s, and counts every row", async (_name, skew) => {
    let t = NOW;
    const f = fakeOneApi('new-api', { nowMs: () => t, skewSec: skew });
    // Rows stamped by OneAPI's clock, over the last 20 minutes of it.
    for (let i = 0; i < 20; i++) f.add(aRow({ created_at: now + skew - 20 - i * 60, channel: 1 }));
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: t });
    expect(f.queries[0].end).toBe(now + skew - lag);
    expect(first.stats.skewSec).toBe(skew);
    t += 60_000;
    f.add(aRow({ created_at: now + skew + 30, channel: 1 }));
    const second = await ingest(first.usage, { ...base, client: f.client, nowMs: t });
    expect(tokensOf(second.usage)).toBe(21 * 150);
    // The status shows our own time: OneAPI's read end, less the skew.
    expect(second.usage.watermark).toBe(now + 60 - lag);
  });

  it('loses nothing when our own clock is set back an hour', async () => {
    let local = NOW;
    let server = NOW;
    const f = fakeOneApi('new-api');
    f.client.serverClock = () => ({ serverMs: server, localMs: local });
    f.add(aRow({ created_at: now - 100, channel: 1 }));
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: local });
    local -= 3_600_000; // ours jumps back; OneAPI's goes on
    server += 120_000;
    f.add(aRow({ created_at: now + 60, channel: 1 }));
    const second = await ingest(first.usage, { ...base, client: f.client, nowMs: local });
    expect(f.queries.at(-1)).toMatchObject({ end: now + 120 - lag });
    expect(tokensOf(second.usage)).toBe(300);
  });

  it('counts new-api ClickHouse rows whose ids repeat every page, keyed on request_id', async () => {
    let t = NOW;
    const f = fakeOneApi('new-api', { nowMs: () => t });
    for (let i = 0; i < 250; i++) f.add(aRow({ id: (i % 100) + 1, request_id: `req-${i}`, created_at: now - 500 + i, channel: 1 }));
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: t });
    expect(first.stats.counted).toBe(250);
  });

  it('reads one filtered query per channel when budgeted channels are a small part of a busy gateway', async () => {
    let t = NOW;
    const f = fakeOneApi('one-api', { nowMs: () => t });
    // 10 rows a second across 100 channels before the first cycle; 1 and 2 carry 2% of it.
    const busy = (from: number, n: number) => {
      for (let i = 0; i < n; i++) f.add(aRow({ created_at: from + Math.floor(i / 10), channel: 3 + (i % 98) }));
    };
    busy(now - 600 - lag, 6000);
    f.add(aRow({ created_at: now - 300, channel: 1 }), aRow({ created_at: now - 200, channel: 2 }));
    const first = await ingest(emptyUsage(), { ...base, flavor: 'one-api', client: f.client, nowMs: t });
    const warm = { ...first.usage, cursor: { ...first.usage.cursor!, rates: { all: 10, named: 0.2 } } };
    t += 60_000;
    busy(now - lag + 1, 600);
    f.add(aRow({ created_at: now + 10, channel: 1 }));
    f.queries.length = 0;
    const second = await ingest(warm, { ...base, flavor: 'one-api', client: f.client, nowMs: t });
    expect(second.stats.mode).toBe('per-channel');
    expect(f.queries.map((q) => q.channel)).toEqual([1, 2]);
    expect(second.stats.counted).toBe(1);
  });

  it('reads a channel added to the config from its window start, and the others on from the cursor', async () => {
    let t = NOW;
    const f = fakeOneApi('new-api', { nowMs: () => t });
    f.add(aRow({ created_at: now - 3600, channel: 1 }), aRow({ created_at: now - 3600, channel: 3 }));
    const first = await ingest(emptyUsage(), { ...base, client: f.client, nowMs: t });
    t += 60_000;
    f.queries.length = 0;
    const second = await ingest(first.usage, { ...base, channels: [1, 2, 3], client: f.client, nowMs: t });
    expect(second.stats.coldChannels).toEqual([3]);
    expect(f.queries[0]).toMatchObject({ channel: 3, start: sec('2026-11-24T00:00') });
    expect(tokensOf(second.usage, 3)).toBe(150);
    expect(tokensOf(second.usage, 1)).toBe(150);
  });

  it('keeps daily buckets for the retention and drops older ones at a local midnight', async () => {
    const f = fakeOneApi('new-api', { nowMs: () => NOW });
    const old = { ...emptyUsage(layoutSignatureOf()), buckets: [{ channel: 1, model: 'm', day: '2026-09-01', start: sec('2026-09-01T00:00'), tokens: 5, requests: 1 }, { channel: 1, model: 'm', day: '2026-11-01', start: sec('2026-11-01T00:00'), tokens: 7, requests: 1 }] };
    const { usage } = await ingest(old, { ...base, client: f.client, nowMs: NOW });
    expect(usage.buckets.map((b) => b.day)).toEqual(['2026-11-01']);
  });

  function layoutSignatureOf(): string {
    const l = layoutFor(config);
    return `${l.timezone}|${l.boundaries.join(',')}`;
  }
});
