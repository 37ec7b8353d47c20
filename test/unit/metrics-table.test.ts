import { describe, expect, it } from '@jest/globals';
import { Gauge, Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/metrics.js';
import { GaugeTable, labelText, TableRegistry, type TableRow } from '../../src/metrics/table.js';
import type { DailyReport } from '../../src/report/daily.js';

interface Row extends TableRow {
  value: number | null;
}
const row = (labels: Record<string, string>, value: number | null): Row => ({ labels, text: labelText(labels), value });

/** The same rows through a prom-client Gauge on its own registry: what a scrape read before GaugeTable. */
async function asPromClient(rows: Row[], split?: { label: string; values: string[] }, valueOf?: (r: Row, v: string) => number) {
  const registry = new Registry();
  // A labelled gauge, as the budget and channel gauges were (one without labels shows a 0 series when empty).
  const labelNames = [...Object.keys(rows[0]?.labels ?? { b: '' }), ...(split ? [split.label] : [])];
  const g = new Gauge({ name: 'qp_test', help: 'A help with a \\ and a\nnewline.', labelNames, registers: [registry] });
  for (const r of rows) {
    if (!split) {
      if (r.value !== null) g.set(r.labels, r.value);
      continue;
    }
    for (const v of split.values) g.set({ ...r.labels, [split.label]: v }, valueOf!(r, v));
  }
  return { text: await registry.metrics(), json: await registry.getMetricsAsJSON() };
}

async function asTable(rows: Row[], split?: { label: string; values: string[] }, valueOf?: (r: Row, v: string) => number) {
  const registry = new TableRegistry();
  new GaugeTable('qp_test', 'A help with a \\ and a\nnewline.', registry, {
    rows: () => rows,
    value: (r, v) => (split ? valueOf!(r, v!) : r.value),
    split,
  });
  return { text: await registry.metrics(), json: await registry.getMetricsAsJSON() };
}

describe('GaugeTable', () => {
  const cases: Array<[string, Row[]]> = [
    ['plain labels', [row({ budget: 'volc-deepseek', channel: '1' }, 960_000), row({ budget: 'volc-kimi/kimi-k2', channel: '4' }, 0.25)]],
    ['quotes, backslashes and newlines in values', [row({ budget: 'a"b\\c\nd', channel: '' }, 1)]],
    ['NaN, infinities, negative and tiny numbers', [row({ b: 'x' }, NaN), row({ b: 'y' }, Infinity), row({ b: 'z' }, -Infinity), row({ b: 'w' }, -3), row({ b: 'v' }, 1e-7)]],
    ['a row without a value has no series', [row({ b: 'x' }, null), row({ b: 'y' }, 7)]],
    ['no rows', []],
  ];
  it.each(cases)('writes and answers as a prom-client Gauge: %s', async (_name, rows) => {
    expect(await asTable(rows)).toEqual(await asPromClient(rows));
  });

  it('writes one series per value of a split label, as prom-client does with that label', async () => {
    const rows = [row({ budget: 'a', channel: '1' }, null), row({ budget: 'b', channel: '' }, null)];
    const split = { label: 'state', values: ['ok', 'warning', 'exhausted'] };
    const valueOf = (r: Row, v: string) => (r.labels.budget === 'a' ? (v === 'ok' ? 1 : 0) : v === 'exhausted' ? 1 : 0);
    expect(await asTable(rows, split, valueOf)).toEqual(await asPromClient(rows, split, valueOf));
  });

  it('reads its rows at each scrape', async () => {
    let rows = [row({ b: 'x' }, 1)];
    const registry = new TableRegistry();
    new GaugeTable('qp_test', 'help', registry, { rows: () => rows, value: (r) => r.value });
    expect(await registry.metrics()).toContain('qp_test{b="x"} 1');
    rows = [row({ b: 'y' }, 2)];
    const text = await registry.metrics();
    expect([text.includes('b="x"'), text.includes('qp_test{b="y"} 2')]).toEqual([false, true]);
  });
});

const report = (tokens: number): DailyReport => ({
  timezone: 'Asia/Shanghai',
  from: '2026-11-24',
  to: '2026-11-24',
  days: [{ day: '2026-11-24', tokens, requests: 1, byModel: { ds: { tokens, requests: 1, free: tokens, overBudget: 0, unbudgeted: 0 } }, byChannel: {}, split: { free: tokens, overBudget: 0, unbudgeted: 0 } }],
  models: ['ds'],
  channels: [],
  totals: { tokens, requests: 1, free: tokens, overBudget: 0, unbudgeted: 0 },
  unresolved: [],
});
const free = (text: string) => /quota_pilot_daily_tokens\{day="2026-11-24",model="ds",split="free"\} (\d+)/.exec(text)?.[1];

describe('metrics.daysFrom', () => {
  it('loads the days at each scrape, never between, and keeps the last ones when a load fails', async () => {
    const m = createMetrics();
    const loads: Array<DailyReport | Error> = [report(100), report(200), new Error('state unreadable')];
    const errors: unknown[] = [];
    let calls = 0;
    m.daysFrom(
      async () => {
        const next = loads[calls++];
        if (next instanceof Error) throw next;
        return next;
      },
      (err) => errors.push(err),
    );
    expect(calls).toBe(0);
    expect(free(await m.registry.metrics())).toBe('100');
    expect(free(await m.registry.metrics())).toBe('200');
    expect(free(await m.registry.metrics())).toBe('200');
    expect([calls, errors.map((e) => (e as Error).message)]).toEqual([3, ['state unreadable']]);
  });

  it('shares one load between scrapes that arrive together', async () => {
    const m = createMetrics();
    let calls = 0;
    m.daysFrom(async () => (calls++, report(5)), () => {});
    const texts = await Promise.all([m.registry.metrics(), m.registry.metrics(), m.registry.metrics()]);
    expect([calls, texts.map(free)]).toEqual([1, ['5', '5', '5']]);
  });
});
