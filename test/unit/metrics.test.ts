import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { itWith } from '../helpers/tools.js';
import { decide } from '../../src/policy/decide.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import { diff } from '../../src/reconcile/apply.js';
import type { CycleResult } from '../../src/reconcile/cycle.js';
import type { Channel } from '../../src/oneapi/types.js';
import type { Config } from '../../src/config/types.js';
import type { Bucket } from '../../src/usage/buckets.js';
import { aBudget, aChannel, aConfig, aDefault, aMemory } from '../helpers/builders.js';
import { tempDir } from '../helpers/temp.js';
import { dailyReport } from '../../src/report/daily.js';

const TZ = 'Asia/Shanghai';
const NOW = DateTime.fromISO('2026-11-24T15:00', { zone: TZ }).toMillis();
const TODAY = Math.floor(DateTime.fromISO('2026-11-24T02:20', { zone: TZ }).toSeconds());
const config = aConfig({
  budgets: [
    aBudget({ channel: 'volc-deepseek', freeTokens: 1_000_000 }),
    aBudget({ channel: 'volc-kimi', model: 'kimi-k2', freeTokens: 2_000_000, window: 'weekly' }),
    aBudget({ channel: 'gone', freeTokens: 500 }),
  ],
  defaults: [aDefault('volc-deepseek', 100), aDefault('volc-kimi', 100), aDefault('gone', 100), aDefault('paid-deepseek', 50)],
});
const world = (deepseekPriority = 100): Channel[] => [
  aChannel({ id: 1, name: 'volc-deepseek', priority: deepseekPriority }),
  aChannel({ id: 2, name: 'paid-deepseek', priority: 50, status: 3 }),
  aChannel({ id: 4, name: 'volc-kimi', priority: 100 }),
  aChannel({ id: 9, name: 'not-managed', priority: 7 }),
];
const bucket = (channel: number, model: string, tokens: number): Bucket => ({ channel, model, day: '2026-11-24', start: TODAY, tokens, requests: 1 });

/** A real decide() over a small world, wrapped as the cycle's result with every change applied. */
function cycle(opts: { cfg?: Config; channels?: Channel[]; buckets?: Bucket[]; lastResetAt?: number } = {}): CycleResult {
  const cfg = opts.cfg ?? config;
  const channels = opts.channels ?? world();
  const decision = decide({
    config: cfg, resolution: resolveRefs(cfg, channels), channels, nowMs: NOW,
    buckets: opts.buckets ?? [bucket(1, 'm', 960_000), bucket(4, 'kimi-k2', 500_000)],
    memory: aMemory({ lastResetAt: opts.lastResetAt ?? TODAY }),
  });
  const changes = diff(decision.channels);
  return { ok: true, decision, problems: [], notes: [], changes, applied: changes, failed: [], enables: [], enabled: [], enableFailed: [], fetched: 3, requests: 5, throttledMs: 0, durationMs: 1500, memory: decision.memory, events: [] };
}
const failed = (): CycleResult => ({ ok: false, error: new Error('OneAPI unreachable'), problems: [], notes: [], changes: [], applied: [], failed: [], enables: [], enabled: [], enableFailed: [], fetched: 0, requests: 4, throttledMs: 0, durationMs: 200, memory: aMemory(), events: [] });

async function values(m: Metrics, name: string): Promise<Array<[Record<string, string | number>, number]>> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.map((v) => [v.labels as Record<string, string | number>, v.value]);
}
const one = async (m: Metrics, name: string, labels: Record<string, string> = {}) =>
  (await values(m, name)).find(([l]) => Object.entries(labels).every(([k, v]) => String(l[k]) === v))?.[1];

describe('metrics', () => {
  it('records every budget with its window, usage and state', async () => {
    const m = createMetrics();
    m.recordCycle(cycle(), NOW);
    const ds = { budget: 'volc-deepseek', channel: '1', model: '', window: 'daily' };
    const kimi = { budget: 'volc-kimi/kimi-k2', channel: '4', model: 'kimi-k2', window: 'weekly' };
    expect(await values(m, 'quota_pilot_budget_used_tokens')).toEqual([[ds, 960_000], [kimi, 500_000], [{ budget: 'gone', channel: '', model: '', window: 'daily' }, 0]]);
    expect(await one(m, 'quota_pilot_budget_free_tokens', kimi)).toBe(2_000_000);
    expect(await one(m, 'quota_pilot_budget_usage_ratio', ds)).toBe(0.96);
    const states = (await values(m, 'quota_pilot_budget_state')).filter(([, v]) => v === 1).map(([l]) => [l.budget, l.state]);
    expect(states).toEqual([['volc-deepseek', 'exhausted'], ['volc-kimi/kimi-k2', 'ok'], ['gone', 'unresolved']]);
    expect(await values(m, 'quota_pilot_budget_state')).toHaveLength(12);
  });

  it('records managed channels only, with the confirmed priority after a write', async () => {
    const m = createMetrics();
    m.recordCycle(cycle(), NOW);
    expect(await values(m, 'quota_pilot_channel_priority')).toEqual([
      [{ channel: '1', name: 'volc-deepseek' }, 10],
      [{ channel: '2', name: 'paid-deepseek' }, 50],
      [{ channel: '4', name: 'volc-kimi' }, 100],
    ]);
    expect(await one(m, 'quota_pilot_channel_desired_priority', { channel: '1' })).toBe(10);
    expect(await one(m, 'quota_pilot_channel_default_priority', { channel: '2' })).toBe(50);
    expect(await one(m, 'quota_pilot_channel_auto_disabled', { channel: '2' })).toBe(1);
    expect(await one(m, 'quota_pilot_channel_auto_disabled', { channel: '4' })).toBe(0);
  });

  it('drops the series of budgets and channels that left the config', async () => {
    const m = createMetrics();
    m.recordCycle(cycle(), NOW);
    const smaller = aConfig({ budgets: [aBudget({ channel: 'volc-deepseek' })], defaults: [aDefault('volc-deepseek', 100)] });
    m.recordCycle(cycle({ cfg: smaller, channels: world(10) }), NOW);
    expect((await values(m, 'quota_pilot_budget_used_tokens')).map(([l]) => l.budget)).toEqual(['volc-deepseek']);
    expect(await values(m, 'quota_pilot_budget_state')).toHaveLength(4);
    expect((await values(m, 'quota_pilot_channel_priority')).map(([l]) => l.name)).toEqual(['volc-deepseek']);
  });

  it('counts outcomes, failures in a row, the last success and the duration', async () => {
    const m = createMetrics();
    m.recordCycle(cycle(), NOW);
    m.recordCycle(failed(), NOW + 60_000);
    m.recordCycle(failed(), NOW + 120_000);
    expect(await one(m, 'quota_pilot_cycles_total', { outcome: 'ok' })).toBe(1);
    expect(await one(m, 'quota_pilot_cycles_total', { outcome: 'failed' })).toBe(2);
    expect(await one(m, 'quota_pilot_consecutive_failures')).toBe(2);
    expect(await one(m, 'quota_pilot_last_success_timestamp_seconds')).toBe(NOW / 1000);
    // A cycle that failed before deciding keeps the last known budgets.
    expect(await one(m, 'quota_pilot_budget_used_tokens', { budget: 'volc-deepseek' })).toBe(960_000);
    expect(await one(m, 'quota_pilot_cycle_duration_seconds', { le: '0.25' } as Record<string, string>)).toBe(2);
    m.recordCycle(cycle({ channels: world(10) }), NOW + 180_000);
    expect(await one(m, 'quota_pilot_consecutive_failures')).toBe(0);
    expect(await one(m, 'quota_pilot_last_success_timestamp_seconds')).toBe(NOW / 1000 + 180);
  });

  it('counts confirmed priority writes by direction', async () => {
    const m = createMetrics();
    m.recordCycle(cycle(), NOW); // 1: 100 -> 10
    const yesterday = TODAY - 86_400;
    m.recordCycle(cycle({ channels: world(10), buckets: [], lastResetAt: yesterday }), NOW); // nightly reset: 10 -> 100
    expect(await values(m, 'quota_pilot_priority_changes_total')).toEqual([
      [{ direction: 'demote' }, 1],
      [{ direction: 'restore' }, 1],
      [{ direction: 'other' }, 0],
    ]);
  });

  it('counts OneAPI requests by route and result', async () => {
    const m = createMetrics();
    m.recordRequest('GET /api/log/', 'ok');
    m.recordRequest('GET /api/log/', 'ok');
    m.recordRequest('PUT /api/channel/', 'server');
    expect(await one(m, 'quota_pilot_oneapi_requests_total', { endpoint: 'GET /api/log/', result: 'ok' })).toBe(2);
    expect(await one(m, 'quota_pilot_oneapi_requests_total', { result: 'server' })).toBe(1);
  });

  itWith('promtool', 'passes promtool check metrics without a lint message', async (promtool) => {
    const m = createMetrics();
    m.recordCycle(cycle(), NOW);
    m.recordRequest('GET /api/channel/search', 'ok');
    const out = await run(promtool, ['check', 'metrics'], await m.registry.metrics());
    expect(out.stdout + out.stderr).toBe('');
    expect(out.code).toBe(0);
  });

  it('has a Grafana dashboard whose every metric exists', async () => {
    const dash = JSON.parse(readFileSync(new URL('../../dashboards/quota-pilot.json', import.meta.url), 'utf8'));
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dash.__inputs[0].name).toBe('DS_PROMETHEUS');
    const m = createMetrics();
    m.recordCycle(cycle(), NOW);
    m.recordRequest('GET /api/log/', 'ok');
    const text = await m.registry.metrics();
    const exported = new Set([...text.matchAll(/^(?:# TYPE )?(quota_pilot_\w+)/gm)].map((x) => x[1]));
    const used = new Set([...JSON.stringify(dash).matchAll(/quota_pilot_\w+/g)].map((x) => x[0]));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
  });

  it('exports the report\'s last days per local day, model and split (what the page and the Grafana 7-day panel show)', async () => {
    const m = createMetrics();
    const buckets = [bucket(1, 'ds', 1_200_000), bucket(2, 'ds', 300_000), { ...bucket(1, 'ds', 400_000), day: '2026-11-23', start: TODAY - 86_400 }];
    const report = dailyReport({ config, buckets, channelIds: resolveRefs(config, world()).ids, channelNames: new Map(world().map((c) => [c.id, c.name])), nowMs: NOW, days: 7 });
    m.recordDays(report);
    const text = await m.registry.metrics();
    expect(text).toContain('quota_pilot_daily_tokens{day="2026-11-24",model="ds",split="free"} 1000000');
    expect(text).toContain('quota_pilot_daily_tokens{day="2026-11-24",model="ds",split="over_budget"} 200000');
    expect(text).toContain('quota_pilot_daily_tokens{day="2026-11-24",model="ds",split="unbudgeted"} 300000');
    expect(text).toContain('quota_pilot_daily_tokens{day="2026-11-23",model="ds",split="free"} 400000');
    expect(text).toContain('quota_pilot_daily_requests{day="2026-11-24",model="ds"} 2');
    // A new report replaces the days: one that left the last 7 leaves no series behind.
    m.recordDays({ ...report, days: report.days.filter((d) => d.day !== '2026-11-23') });
    expect(await m.registry.metrics()).not.toContain('day="2026-11-23"');
  });

  itWith('promtool', 'the Grafana 7-day panel returns a series per local day, split and requests (promtool test rules)', async (promtool) => {
    const m = createMetrics();
    const buckets = [bucket(1, 'ds', 1_200_000), bucket(2, 'ds', 300_000), { ...bucket(1, 'ds', 400_000), day: '2026-11-23', start: TODAY - 86_400 }];
    m.recordDays(dailyReport({ config, buckets, channelIds: resolveRefs(config, world()).ids, channelNames: new Map(world().map((c) => [c.id, c.name])), nowMs: NOW, days: 7 }));
    const series = (await m.registry.metrics()).split('\n').filter((l) => /^quota_pilot_daily_\w+\{/.test(l));
    const input = series.map((l) => `      - series: ${JSON.stringify(l.slice(0, l.lastIndexOf(' ')))}\n        values: "${l.slice(l.lastIndexOf(' ') + 1)}"\n`).join('');
    const dash = JSON.parse(readFileSync(new URL('../../dashboards/quota-pilot.json', import.meta.url), 'utf8'));
    const panel = dash.panels.find((p: { repeat?: string }) => p.repeat === 'model');
    const [tokens, requests] = panel.targets.map((t: { expr: string; instant: boolean }) => {
      expect(t.instant).toBe(true);
      return t.expr.replaceAll('$instance', '.*').replaceAll('$model', 'ds');
    });
    const sample = (labels: string, value: number) => `          - labels: '${labels}'\n            value: ${value}\n`;
    const tokenSamples = [['2026-11-23', 'free', 400_000], ['2026-11-23', 'over_budget', 0], ['2026-11-23', 'unbudgeted', 0], ['2026-11-24', 'free', 1_000_000], ['2026-11-24', 'over_budget', 200_000], ['2026-11-24', 'unbudgeted', 300_000]] as const;
    const doc = [
      'tests:\n  - interval: 1m\n    input_series:\n' + input,
      '    promql_expr_test:\n',
      `      - expr: ${JSON.stringify(tokens)}\n        eval_time: 0m\n        exp_samples:\n` + tokenSamples.map(([day, split, v]) => sample(`{day="${day}", split="${split}"}`, v)).join(''),
      `      - expr: ${JSON.stringify(requests)}\n        eval_time: 0m\n        exp_samples:\n` + sample('{day="2026-11-23", split="requests"}', 1) + sample('{day="2026-11-24", split="requests"}', 2),
    ].join('');
    const dir = await tempDir('qp-grafana-');
    await writeFile(join(dir, 'panel.test.yml'), doc);
    const out = await run(promtool, ['test', 'rules', join(dir, 'panel.test.yml')], '');
    expect([out.code, out.stderr]).toEqual([0, '']);
    expect(out.stdout).toContain('SUCCESS');
  });

  itWith('promtool', 'has dashboard queries that are valid PromQL (promtool check rules)', async (promtool) => {
    const dash = JSON.parse(readFileSync(new URL('../../dashboards/quota-pilot.json', import.meta.url), 'utf8'));
    const vars = (e: string) => e.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*').replaceAll('$budget', '.*');
    const exprs: string[] = dash.panels.flatMap((p: { targets?: Array<{ expr: string }> }) => (p.targets ?? []).map((t) => vars(t.expr)));
    const rules = exprs.map((e, i) => `      - record: panel_query_${i}\n        expr: ${JSON.stringify(e)}\n`).join('');
    const dir = await tempDir('qp-dash-');
    await writeFile(join(dir, 'rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules}`);
    const out = await run(promtool, ['check', 'rules', join(dir, 'rules.yml')], '');
    expect([out.code, out.stderr]).toEqual([0, '']);
    expect(out.stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
  });
});

/** Runs a command with `stdin`; rejects when it cannot be started at all. */
function run(cmd: string, args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}
