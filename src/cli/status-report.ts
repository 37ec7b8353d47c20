import type { Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import { decide } from '../policy/decide.js';
import { formatRefProblem, resolveRefs, type Resolution } from '../policy/resolve.js';
import type { State } from '../state/store.js';
import { layoutFor, layoutSignature } from '../usage/buckets.js';
import { formatLocal, nextOccurrence } from '../usage/windows.js';
import { num, table } from './render.js';

/** What `status` reports: usage counted by the last cycle, priorities as OneAPI has them now. */
export function statusReport(config: Config, state: State, live: { channels: Channel[] } | { error: string }, nowMs: number) {
  const oneapiError = 'error' in live ? live.error : undefined;
  const channels = 'error' in live ? [] : live.channels;
  const resolution: Resolution = oneapiError ? { ids: new Map(), problems: [] } : resolveRefs(config, channels);
  const usable = state.usage.signature === layoutSignature(layoutFor(config));
  const decision = decide({ config, resolution, channels, buckets: usable ? state.usage.buckets : [], nowMs, memory: state.memory });
  const plan = new Map(decision.channels.map((c) => [c.id, c]));
  const budgets = decision.budgets.map((b) => {
    const p = b.channelId === null ? undefined : plan.get(b.channelId);
    return {
      budget: b.budget.key,
      channel: b.channelId ?? b.budget.channel,
      name: p?.name ?? String(b.budget.channel),
      model: b.budget.model ?? null,
      window: b.budget.window,
      windowStart: formatLocal(b.window.start, config.timezone),
      used: b.used,
      requests: b.requests,
      budgetTokens: b.budget.freeTokens,
      percent: Math.round(b.ratio * 1000) / 10,
      // Without OneAPI the channel cannot be resolved; the usage still says how far the budget is.
      state: oneapiError ? (b.ratio >= b.budget.demoteAt ? 'exhausted' : b.ratio >= b.budget.warnAt ? 'warning' : 'ok') : b.state,
      observedPriority: p?.observed ?? null,
      desiredPriority: p?.desired ?? null,
    };
  });
  return {
    oneapi: oneapiError ? { reachable: false, error: oneapiError } : { reachable: true },
    usageAsOf: state.usage.watermark,
    usageCurrent: usable,
    lastCycle: state.lastCycle,
    lastSuccessAt: state.lastSuccessAt,
    nextReset: nextOccurrence(config.reset.at, config.reset.timezone, nowMs),
    problems: resolution.problems.map(formatRefProblem),
    budgets,
  };
}

export type StatusReport = ReturnType<typeof statusReport>;

/** The report as a table for people. */
export function renderStatus(r: StatusReport, config: Config): string {
  const tz = config.timezone;
  const rows = r.budgets.map((b) => [
    `${b.name}${typeof b.channel === 'number' ? ` (#${b.channel})` : ''}`,
    b.model ?? '*',
    b.window,
    num(b.used),
    num(b.budgetTokens),
    b.percent.toFixed(1),
    b.state,
    b.observedPriority === null ? '?' : String(b.observedPriority),
    b.desiredPriority === null ? '?' : String(b.desiredPriority),
  ]);
  return [
    table(['CHANNEL', 'MODEL', 'WINDOW', 'USED', 'BUDGET', '%', 'STATE', 'PRIO', 'DESIRED'], rows),
    '',
    `OneAPI:      ${r.oneapi.reachable ? 'reachable' : `UNREACHABLE (${r.oneapi.error})`}`,
    `usage as of: ${r.usageAsOf ? formatLocal(r.usageAsOf, tz) : 'never read (no cycle has run yet)'}${r.usageCurrent || !r.usageAsOf ? '' : ' (config changed since; the next cycle recounts)'}`,
    `last cycle:  ${r.lastCycle ? `${formatLocal(r.lastCycle.at, tz)} ${r.lastCycle.ok ? 'ok' : `FAILED: ${r.lastCycle.error}`}` : 'none'}`,
    `next reset:  ${formatLocal(r.nextReset, config.reset.timezone)}`,
    ...r.problems.map((p) => `problem:     ${p}`),
  ].join('\n');
}
