import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { BudgetState, BudgetStatus, ChannelPlan } from '../policy/decide.js';
import type { CycleResult } from '../reconcile/cycle.js';
import type { Change } from '../reconcile/apply.js';
import type { DailyReport } from '../report/daily.js';
import { GaugeTable, labelText, TableRegistry, type TableRow } from './table.js';

/** The daemon's Prometheus metrics, on a registry of their own. */
export interface Metrics {
  registry: Registry;
  /** After every cycle: budgets and channels from result.decision (when present), outcome, duration. */
  recordCycle(result: CycleResult, nowMs: number): void;
  /** Hook for the OneAPI client's onRequest(endpoint, result). */
  recordRequest(endpoint: string, result: string): void;
  /** The daily report's days (the dashboard's 7-day chart), as per-local-day series for Grafana. */
  recordDays(report: DailyReport): void;
  /**
   * Where the days come from when /metrics is scraped, instead of recordDays after every cycle: `load` is called
   * before each scrape (it keeps its report while nothing changed: see dashboard/days.ts), and the days are set
   * again when it returns another report. A failed load keeps the last days and goes to `onError`.
   */
  daysFrom(load: () => Promise<DailyReport>, onError: (err: unknown) => void): void;
}

/** How `quota_pilot_daily_tokens` splits a day's tokens, as the report does. */
export const DAY_SPLITS = { free: 'free', overBudget: 'over_budget', unbudgeted: 'unbudgeted' } as const;

/** Every value `quota_pilot_budget_state` carries a series for. */
export const BUDGET_STATES: readonly BudgetState[] = ['ok', 'warning', 'exhausted', 'unresolved'];
export const CHANGE_DIRECTIONS = ['demote', 'restore', 'other'] as const;
export type ChangeDirection = (typeof CHANGE_DIRECTIONS)[number];

const BUDGET_LABELS = ['budget', 'channel', 'model', 'window'] as const;

/** Creates the metrics on a fresh registry (never the global one), with Node's default metrics prefixed quota_pilot_. */
export function createMetrics(): Metrics {
  const registry = new TableRegistry();
  // The event loop lag is sampled every 100 ms, not prom-client's 10 ms: that timer alone woke the daemon 100 times a
  // second, about 6 ms of CPU a second (30 ms between two 5 s polls) while it had nothing to do.
  collectDefaultMetrics({ register: registry, prefix: 'quota_pilot_', eventLoopMonitoringPrecision: 100 });
  // These three are gauges named like counters (promtool lints them); nodejs_active_{handles,requests,resources}
  // carry the same numbers by type.
  for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total'])
    registry.removeSingleMetric(`quota_pilot_nodejs_${name}`);
  const registers = [registry];

  // Per budget and per channel: tables over the last decision's rows (see GaugeTable), in registration order.
  let budgetRows: BudgetRow[] = [];
  let channelRows: ChannelRow[] = [];
  const budgetGauge = (name: string, help: string, value: (r: BudgetRow) => number) => new GaugeTable(name, help, registry, { rows: () => budgetRows, value });
  budgetGauge('quota_pilot_budget_used_tokens', 'Tokens (prompt + completion) counted against the budget in its current window.', (r) => r.used);
  budgetGauge('quota_pilot_budget_free_tokens', 'The budget\'s free allowance per window (free_tokens in channels.yaml).', (r) => r.free);
  budgetGauge('quota_pilot_budget_usage_ratio', 'Used tokens divided by the free allowance in the current window.', (r) => r.ratio);
  new GaugeTable('quota_pilot_budget_state', 'The budget\'s state: 1 for the current state, 0 for the others (ok, warning, exhausted, unresolved).', registry, {
    rows: () => budgetRows,
    value: (r, state) => (state === r.state ? 1 : 0),
    split: { label: 'state', values: BUDGET_STATES },
  });

  const channelGauge = (name: string, help: string, value: (r: ChannelRow) => number | null) => new GaugeTable(name, help, registry, { rows: () => channelRows, value });
  channelGauge('quota_pilot_channel_priority', 'Priority of a managed channel as observed, or as confirmed by read-back after a write this cycle.', (r) => r.priority);
  channelGauge('quota_pilot_channel_desired_priority', 'Priority the policy wants for a managed channel.', (r) => r.desired);
  channelGauge('quota_pilot_channel_default_priority', 'Default priority from priorities.yaml, restored at the nightly reset (absent when none).', (r) => r.default);
  channelGauge('quota_pilot_channel_auto_disabled', '1 when OneAPI auto-disabled the channel (status 3), else 0.', (r) => (r.status === 3 ? 1 : 0));

  const duration = new Histogram({
    name: 'quota_pilot_cycle_duration_seconds',
    help: 'Wall time of one reconcile cycle.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const cycles = new Counter({ name: 'quota_pilot_cycles_total', help: 'Reconcile cycles by outcome.', labelNames: ['outcome'], registers });
  const changes = new Counter({
    name: 'quota_pilot_priority_changes_total',
    help: 'Priority writes confirmed by read-back, by direction.',
    labelNames: ['direction'],
    registers,
  });
  const requests = new Counter({
    name: 'quota_pilot_oneapi_requests_total',
    help: 'Requests to the OneAPI admin API by route and result (ok or the error kind).',
    labelNames: ['endpoint', 'result'],
    registers,
  });
  // Days are the config's local days (a Prometheus step is aligned to UTC, so range queries cannot cut them): the
  // daemon exports each of the last 7 with a `day` label, and Grafana reads them with instant queries.
  const dailyTokens = new Gauge({
    name: 'quota_pilot_daily_tokens',
    help: 'Tokens per local day (label day, YYYY-MM-DD in the config timezone) and model, split into free, over_budget and unbudgeted; the last 7 days.',
    labelNames: ['day', 'model', 'split'],
    registers,
  });
  const dailyRequests = new Gauge({
    name: 'quota_pilot_daily_requests',
    help: 'Requests per local day (label day, YYYY-MM-DD in the config timezone) and model; the last 7 days.',
    labelNames: ['day', 'model'],
    registers,
  });
  const lastSuccess = new Gauge({ name: 'quota_pilot_last_success_timestamp_seconds', help: 'Unix time of the last successful cycle (0 before the first).', registers });
  const failures = new Gauge({ name: 'quota_pilot_consecutive_failures', help: 'Cycles failed in a row since the last success.', registers });
  const skew = new Gauge({ name: 'quota_pilot_oneapi_clock_skew_seconds', help: "OneAPI's clock (its Date header) minus quota-pilot's, at the last usage read.", registers });
  const rowsCounted = new Counter({ name: 'quota_pilot_log_rows_counted_total', help: 'Consume-log rows counted into usage.', registers });
  const rowsSkipped = new Counter({
    name: 'quota_pilot_log_rows_skipped_total',
    help: 'Consume-log rows skipped as impossible (negative, fractional, absurd or missing counts, unknown type), by field.',
    labelNames: ['field'],
    registers,
  });
  const routingDelay = new Gauge({
    name: 'quota_pilot_routing_delay_seconds',
    help: 'The routing delay the last cycle projected with, by source (config, measured or flavor default).',
    labelNames: ['source'],
    registers,
  });
  const throttled = new Counter({ name: 'quota_pilot_rate_limit_wait_seconds_total', help: "Time spent waiting for quota-pilot's own rate cap and 429 back-off.", registers });

  // Counters start at 0 for every known label value, so rate() and absence alerts work from the first scrape.
  for (const outcome of ['ok', 'failed']) cycles.inc({ outcome }, 0);
  for (const direction of CHANGE_DIRECTIONS) changes.inc({ direction }, 0);
  failures.set(0);
  lastSuccess.set(0);
  rowsCounted.inc(0);
  throttled.inc(0);
  let failedInRow = 0;

  // Replaced whole: a budget or channel removed by a config reload loses its series, not keeps its last value. The
  // rows copy the few numbers they show, so the decision itself is not kept until the next cycle.
  function recordBudgets(budgets: BudgetStatus[]): void {
    budgetRows = budgets.map((b) => {
      const labels = budgetLabels(b);
      return { labels, text: labelText(labels), used: b.used, free: b.budget.freeTokens, ratio: b.ratio, state: b.state };
    });
  }

  function recordChannels(plans: ChannelPlan[], applied: Change[]): void {
    const written = new Map(applied.map((c) => [c.id, c.to]));
    channelRows = plans.map((p) => {
      const labels = { channel: String(p.id), name: p.name };
      return { labels, text: labelText(labels), priority: written.get(p.id) ?? p.observed, desired: p.desired, default: p.default, status: p.status };
    });
  }

  function recordDays(report: DailyReport): void {
    dailyTokens.reset();
    dailyRequests.reset();
    for (const d of report.days)
      for (const [model, u] of Object.entries(d.byModel)) {
        for (const [key, split] of Object.entries(DAY_SPLITS)) dailyTokens.set({ day: d.day, model, split }, u[key as keyof typeof DAY_SPLITS]);
        dailyRequests.set({ day: d.day, model }, u.requests);
      }
  }

  // Concurrent scrapes share one load.
  let recordedDays: DailyReport | null = null;
  let daysLoad: Promise<void> | null = null;
  const daysBeforeScrape = (load: () => Promise<DailyReport>, onError: (err: unknown) => void) => () =>
    (daysLoad ??= load()
      .then((report) => {
        if (report === recordedDays) return;
        recordDays(report);
        recordedDays = report;
      }, onError)
      .finally(() => (daysLoad = null)));

  return {
    registry,
    recordCycle(result, nowMs) {
      duration.observe(result.durationMs / 1000);
      cycles.inc({ outcome: result.ok ? 'ok' : 'failed' });
      failedInRow = result.ok ? 0 : failedInRow + 1;
      failures.set(failedInRow);
      if (result.ok) lastSuccess.set(Math.floor(nowMs / 1000));
      throttled.inc(result.throttledMs / 1000);
      if (result.ingest) {
        skew.set(result.ingest.skewSec);
        rowsCounted.inc(result.ingest.counted);
        for (const [field, n] of Object.entries(result.ingest.rejected)) rowsSkipped.inc({ field }, n);
      }
      if (result.routingDelay) {
        routingDelay.reset();
        routingDelay.set({ source: result.routingDelay.source }, result.routingDelay.sec);
      }
      // A cycle that failed before deciding keeps the last known budgets and channels rather than blanking them.
      if (result.decision) {
        recordBudgets(result.decision.budgets);
        recordChannels(result.decision.channels, result.applied);
        for (const c of result.applied) changes.inc({ direction: directionOf(c, result.decision.channels) });
      }
    },
    recordRequest(endpoint, result) {
      requests.inc({ endpoint, result });
    },
    recordDays,
    daysFrom(load, onError) {
      registry.beforeScrape = daysBeforeScrape(load, onError);
    },
  };
}

interface BudgetRow extends TableRow {
  used: number;
  free: number;
  ratio: number;
  state: BudgetState;
}

interface ChannelRow extends TableRow {
  priority: number;
  desired: number;
  default: number | null;
  status: number;
}

function budgetLabels(b: BudgetStatus): Record<(typeof BUDGET_LABELS)[number], string> {
  // An unresolved budget has no channel id; an empty label value is the same as no label in Prometheus.
  return { budget: b.budget.key, channel: b.channelId === null ? '' : String(b.channelId), model: b.budget.model ?? '', window: b.budget.window };
}

/** A write back to the channel's default is a restore; any other lowering is a demotion. */
export function directionOf(c: Change, plans: ChannelPlan[]): ChangeDirection {
  const def = plans.find((p) => p.id === c.id)?.default ?? null;
  if (def !== null && c.to === def) return 'restore';
  return c.to < c.from ? 'demote' : 'other';
}
