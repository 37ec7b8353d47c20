import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import type { Config } from '../../src/config/types.js';
import { displayWidth, stackedBars } from '../../src/report/chart.js';
import { dailyReport, type DailyReport } from '../../src/report/daily.js';
import { reportSvg } from '../../src/report/svg.js';
import { layoutFor, type Bucket } from '../../src/usage/buckets.js';
import { aBudget, aConfig, aLog, addLogs } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => Math.floor(DateTime.fromISO(iso, { zone: TZ }).toSeconds());
const ms = (iso: string) => sec(iso) * 1000;

/** Buckets cut the way the daemon cuts them: [local time, channel id, model, tokens]. */
function usage(config: Config, rows: Array<[string, number, string, number]>): Bucket[] {
  const buckets: Bucket[] = [];
  addLogs(
    buckets,
    layoutFor(config),
    rows.map(([at, channelId, modelName, tokens]) => aLog({ createdAt: sec(at), channelId, modelName, promptTokens: tokens, completionTokens: 0 })),
  );
  return buckets;
}

function report(config: Config, rows: Array<[string, number, string, number]>, now: string, days: number, names: Record<number, string> = {}, ids: Array<[string | number, number]> = []): DailyReport {
  const channelNames = new Map(Object.entries(names).map(([id, n]) => [Number(id), n]));
  return dailyReport({ config, buckets: usage(config, rows), channelIds: new Map(ids), channelNames, nowMs: ms(now), days });
}

const splits = (r: DailyReport) => r.days.map((d) => ({ day: d.day, ...d.split }));

describe('dailyReport days', () => {
  it('cuts days in the config timezone, not UTC, and keeps empty days', () => {
    // 2026-11-24T23:30+08:00 is 15:30Z: still 11-24 locally.
    const r = report(aConfig({ budgets: [] }), [['2026-11-24T23:30', 1, 'm', 100]], '2026-11-25T10:00', 3);
    expect(r.days.map((d) => [d.day, d.tokens, d.requests])).toEqual([
      ['2026-11-23', 0, 0],
      ['2026-11-24', 100, 1],
      ['2026-11-25', 0, 0],
    ]);
    expect([r.from, r.to, r.timezone]).toEqual(['2026-11-23', '2026-11-25', TZ]);
    expect(r.days[1].byModel).toEqual({ m: { tokens: 100, requests: 1, free: 0, overBudget: 0, unbudgeted: 100 } });
    expect(r.days[1].byChannel).toEqual({ '1': { tokens: 100, requests: 1 } });
  });

  it('leaves out buckets before the period but counts models by total, most first', () => {
    const r = report(aConfig({ budgets: [] }), [
      ['2026-11-20T12:00', 1, 'old', 999],
      ['2026-11-25T09:00', 1, 'a', 10],
      ['2026-11-25T09:00', 2, 'b', 30],
    ], '2026-11-25T10:00', 2);
    expect(r.models).toEqual(['b', 'a']);
    expect(r.totals).toEqual({ tokens: 40, requests: 2, free: 0, overBudget: 0, unbudgeted: 40 });
  });
});

describe('dailyReport free / over-budget split', () => {
  it('walks daily windows across the 02:20 renewal, counting a window that began the day before', () => {
    const config = aConfig({ budgets: [aBudget({ channel: 1, freeTokens: 1000, resetAt: '02:20' })] });
    const r = report(config, [
      ['2026-11-23T10:00', 1, 'm', 700], // before the period, but in the window that is open at its start
      ['2026-11-24T01:00', 1, 'm', 600], // same window (since 11-23 02:20): 300 free, 300 over
      ['2026-11-24T03:00', 1, 'm', 800], // new window: free
      ['2026-11-24T20:00', 1, 'm', 500], // 200 free, 300 over
      ['2026-11-25T01:00', 1, 'm', 100], // still the 11-24 02:20 window: over
      ['2026-11-25T02:20', 1, 'm', 400], // renewed: free
      ['2026-11-25T09:00', 9, 'm', 250], // no budget: paid
    ], '2026-11-25T12:00', 2);
    expect(splits(r)).toEqual([
      { day: '2026-11-24', free: 1300, overBudget: 600, unbudgeted: 0 },
      { day: '2026-11-25', free: 400, overBudget: 100, unbudgeted: 250 },
    ]);
    expect(r.totals).toEqual({ tokens: 2650, requests: 6, free: 1700, overBudget: 700, unbudgeted: 250 });
    expect(r.channels.map((c) => [c.id, c.name, c.budgets, c.tokens, c.free, c.overBudget, c.unbudgeted])).toEqual([
      [1, null, ['1'], 2400, 1700, 700, 0],
      [9, null, [], 250, 0, 0, 250],
    ]);
  });

  it('walks a weekly window that renews on Monday 02:20', () => {
    const config = aConfig({ budgets: [aBudget({ channel: 1, freeTokens: 1000, window: 'weekly' })] });
    const r = report(config, [
      ['2026-11-22T10:00', 1, 'm', 400], // Sunday, week since 11-16
      ['2026-11-23T01:00', 1, 'm', 800], // Monday before 02:20: same week, 600 free, 200 over
      ['2026-11-23T03:00', 1, 'm', 700], // new week
      ['2026-11-24T10:00', 1, 'm', 500], // 300 free, 200 over
      ['2026-11-25T10:00', 1, 'm', 100], // over
    ], '2026-11-25T12:00', 4);
    expect(splits(r)).toEqual([
      { day: '2026-11-22', free: 400, overBudget: 0, unbudgeted: 0 },
      { day: '2026-11-23', free: 1300, overBudget: 200, unbudgeted: 0 },
      { day: '2026-11-24', free: 300, overBudget: 200, unbudgeted: 0 },
      { day: '2026-11-25', free: 0, overBudget: 100, unbudgeted: 0 },
    ]);
  });

  it('gives a bucket to the model budget before the channel-wide one, never to both', () => {
    // The catch-all budget is listed first on purpose: specificity decides, not order.
    const config = aConfig({
      budgets: [aBudget({ channel: 'volc', freeTokens: 1000 }), aBudget({ channel: 'volc', model: 'A', freeTokens: 500 })],
    });
    const r = report(config, [
      ['2026-11-25T03:00', 1, 'A', 800], // model budget: 500 free, 300 over
      ['2026-11-25T04:00', 1, 'B', 900], // catch-all: free (A's tokens are not in it)
    ], '2026-11-25T12:00', 1, { 1: 'volc-name-ignored' }, [['volc', 1]]);
    expect(splits(r)).toEqual([{ day: '2026-11-25', free: 1400, overBudget: 300, unbudgeted: 0 }]);
    expect(r.channels[0].budgets).toEqual(['volc', 'volc/A']);
  });

  const rows: Array<[string, Record<number, string>, Array<[string | number, number]>, string[], number]> = [
    // name, channel names, OneAPI ids, unresolved budget keys, free tokens
    ['a unique name, without OneAPI ids', { 1: 'volc', 2: 'paid' }, [], [], 100],
    ['an ambiguous name', { 1: 'volc', 3: 'volc' }, [], ['volc'], 0],
    ['no names known', {}, [], ['volc'], 0],
    ['OneAPI ids win over names', { 1: 'volc' }, [['volc', 2]], [], 0],
  ];
  it.each(rows)('resolves budget channels: %s', (_name, names, ids, unresolved, free) => {
    const config = aConfig({ budgets: [aBudget({ channel: 'volc', freeTokens: 1000 })] });
    const r = report(config, [['2026-11-25T09:00', 1, 'm', 100]], '2026-11-25T12:00', 1, names, ids);
    expect(r.unresolved).toEqual(unresolved);
    expect(r.totals.free).toBe(free);
    expect(r.totals.unbudgeted).toBe(100 - free);
  });
});

describe('stackedBars', () => {
  it('draws exact bars with a fill per series, totals on the right and a legend', () => {
    const chart = stackedBars(
      [
        { label: 'x', parts: [{ series: 'a', value: 2 }, { series: 'b', value: 2 }] },
        { label: 'yy', parts: [{ series: 'a', value: 4 }] },
        { label: 'z', parts: [] },
      ],
      { width: 20 },
    );
    expect(chart.split('\n')).toEqual(['x  ████████▓▓▓▓▓▓▓ 4', 'yy ███████████████ 4', 'z                  0', '█ a  ▓ b']);
  });

  it.each([12, 20, 40, 80, 100])('never exceeds %i columns, and keeps the legend', (width) => {
    const series = ['DeepSeek-V3-2-251201', 'Doubao-Seed-Code-Preview-251028', 'GLM-4-7-251222', 'Kimi-K2-Thinking-251104', '模型测试'];
    const rows = ['Tue 11-24', 'a very long label that will not fit', '通道名称很长很长'].map((label, i) => ({
      label,
      parts: series.map((s, k) => ({ series: s, value: (i + 1) * (k + 1) * 1_234_567 })),
    }));
    const chart = stackedBars(rows, { width });
    for (const line of chart.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(width);
    expect(chart).toContain('█ DeepSeek');
    expect(chart).toContain('░ Kimi');
  });

  it('gives letters to series past the four block characters', () => {
    const parts = ['s1', 's2', 's3', 's4', 's5', 's6'].map((series) => ({ series, value: 1 }));
    const legend = stackedBars([{ label: 'd', parts }], { width: 80 }).split('\n').pop();
    expect(legend).toBe('█ s1  ▓ s2  ▒ s3  ░ s4  A s5  B s6');
  });
});

describe('reportSvg', () => {
  const config = aConfig({ budgets: [aBudget({ channel: 1, freeTokens: 100 })] });
  const r = report(config, [
    ['2026-11-24T09:00', 1, 'm<&x', 150],
    ['2026-11-25T09:00', 2, 'plain', 40],
  ], '2026-11-25T12:00', 7);

  it('is a standalone SVG with escaped text', () => {
    const svg = reportSvg(r);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('m&lt;&amp;x');
    expect(svg).not.toContain('m<&x');
    expect(svg).toContain('2026-11-19 to 2026-11-25 (Asia/Shanghai)');
    for (const tag of ['svg', 'text', 'title']) {
      expect((svg.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length).toBe((svg.match(new RegExp(`</${tag}>`, 'g')) ?? []).length);
    }
    // Text content never holds a raw '<' or a bare '&'.
    for (const [, content] of svg.matchAll(/>([^<]*)</g)) expect(content).not.toMatch(/&(?!amp;|lt;|gt;|quot;|#39;)/);
  });

  it('draws one rect per non-empty (day, model) plus the legend swatches', () => {
    const svg = reportSvg(r);
    expect((svg.match(/<rect [^>]*><title>/g) ?? []).length).toBe(2);
    expect(svg).toContain('<title>2026-11-24 m&lt;&amp;x: 150 tokens, 1 requests</title>');
  });
});
