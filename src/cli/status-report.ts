import type { Config } from '../config/types.js';
import type { Channel, Flavor } from '../oneapi/types.js';
import { decide } from '../policy/decide.js';
import { delayInUse } from '../policy/routing-delay.js';
import { formatRefProblem, resolveRefs, type Resolution } from '../policy/resolve.js';
import { rememberedChannels, type State } from '../reconcile/state.js';
import { layoutFor, layoutSignature } from '../usage/buckets.js';
import { MODEL_SOURCE } from '../usage/rows.js';
import { project } from '../usage/burn.js';
import { formatLocal, nextOccurrence } from '../usage/windows.js';
import { SYSTEM_STATE_DIR } from './context.js';
import { num, table } from './render.js';

/** The state file a report was read from; `exists` is false when there was none (all counts are then zero). */
export interface StateFileInfo {
  path: string;
  exists: boolean;
}

/** What `status` reports: usage counted by the last cycle, priorities as OneAPI has them now. */
export function statusReport(
  config: Config,
  state: State,
  live: { channels: Channel[] } | { error: string; refused?: boolean },
  nowMs: number,
  flavor: Flavor,
  stateFile: StateFileInfo,
) {
  const oneapiError = 'error' in live ? live.error : undefined;
  const channels = 'error' in live ? [] : live.channels;
  // Without OneAPI, budgets are matched to channels by the names the last cycle saw, so usage is still told.
  const remembered = rememberedChannels(state);
  const resolution: Resolution = oneapiError ? { ids: resolveRefs(config, remembered, state.memory.refs).ids, problems: [] } : resolveRefs(config, channels, state.memory.refs);
  const usable = state.usage.signature === layoutSignature(layoutFor(config));
  // The delay the daemon plans with: measured at the OneAPI the last cycle spoke to, configured, or the flavor's.
  const routingDelay = delayInUse(config, state.routing.instances[state.routing.baseUrl ?? ''], flavor);
  // With the pace the daemon keeps, DESIRED shows a projected demotion as the daemon would make it.
  const decision = decide({ config, resolution, channels, buckets: usable ? state.usage.buckets : [], nowMs, memory: state.memory, pace: state.pace, timeline: usable ? state.usage.timeline : undefined, routingDelay, usageAsOf: usable ? state.usage.watermark : null });
  const plan = new Map(decision.channels.map((c) => [c.id, c]));
  const budgets = decision.budgets.map((b) => {
    const p = b.channelId === null ? undefined : plan.get(b.channelId);
    const pr = project(b, nowMs, state.pace[b.budget.key]);
    return {
      budget: b.budget.key,
      channel: b.channelId ?? b.budget.channel,
      name: p?.name ?? String(b.budget.channel),
      model: b.budget.model ?? null,
      /** The log field a per-model budget is matched on (free allowances are per upstream model). */
      modelField: b.budget.model ? MODEL_SOURCE[flavor] : null,
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
      tokensPerHour: pr.tokensPerHour,
      /** When the free tokens run out at the window's average pace (unix seconds), if that is before it renews. */
      runsOutAt: pr.beforeWindowEnds || b.window.end === Infinity ? pr.runsOutAt : null,
      /** The provider stopped it this window (OneAPI auto-disabled its channel) at this count: spent. */
      stoppedAt: b.stopped ?? null,
    };
  });
  const channelRows = decision.channels.map((c) => ({
    channel: c.id,
    name: c.name,
    observedPriority: c.observed,
    defaultPriority: c.default,
    /** Only budgeted channels are ever demoted. */
    demotedPriority: decision.budgets.some((b) => b.channelId === c.id) ? config.demoted : null,
    desiredPriority: c.desired,
    autoDisabled: c.status === 3,
    status: c.status,
    /** Why an auto-disabled channel stays off, or that it is enabled again at renewal. */
    off: c.status === 3 ? (c.enable ?? c.off ?? null) : null,
  }));
  return {
    stateFile,
    timezone: config.timezone,
    oneapi: oneapiError ? { reachable: false, error: oneapiError, tokenRefused: 'refused' in live && !!live.refused } : { reachable: true },
    usageAsOf: state.usage.watermark,
    usageCurrent: usable,
    lastCycle: state.lastCycle,
    lastSuccessAt: state.lastSuccessAt,
    nextReset: nextOccurrence(config.reset.at, config.reset.timezone, nowMs),
    flavor,
    /** Seconds until OneAPI routes by a priority change, as the daemon projects with it, and where that came from. */
    routingDelay: { seconds: routingDelay.sec, source: routingDelay.source, text: routingDelay.text },
    modelField: MODEL_SOURCE[flavor],
    problems: [
      ...resolution.problems.map((p) => `${formatRefProblem(p)}: not enforced`),
      ...decision.stranded.map((c) => `channel ${c.id} ${c.name} is at demoted (${c.priority}) and nothing restores it: "${c.ref}" named it before and no longer resolves to it`),
      ...(resolution.notes ?? []).map(formatRefProblem),
    ],
    budgets,
    channels: channelRows,
  };
}

export type StatusReport = ReturnType<typeof statusReport>;

/** The report as a table for people. */
export function renderStatus(r: StatusReport, config: Config, color = false): string {
  const tz = config.timezone;
  const rows = r.budgets.map((b) => [
    `${b.name}${typeof b.channel === 'number' ? ` (#${b.channel})` : ''}`,
    b.model ?? '*',
    b.window,
    num(b.used),
    num(b.budgetTokens),
    b.percent.toFixed(1),
    num(b.requests),
    b.state === 'unresolved' ? 'UNRESOLVED' : b.state,
    runsOut(b, tz),
    b.observedPriority === null ? '?' : String(b.observedPriority),
    b.desiredPriority === null ? '?' : String(b.desiredPriority),
  ]);
  const channels = r.channels.map((c) => [
    `${c.name} (#${c.channel})`,
    String(c.observedPriority),
    c.defaultPriority === null ? '-' : String(c.defaultPriority),
    c.demotedPriority === null ? '-' : String(c.demotedPriority),
    String(c.desiredPriority),
    c.autoDisabled ? 'AUTO-DISABLED by OneAPI' : c.status === 1 ? 'enabled' : c.status === 2 ? 'disabled by hand' : `status ${c.status}`,
  ]);
  // Not enforced is the one thing that must stand out: red on a terminal, capitals everywhere.
  const red = (line: string) => (color && /\bUNRESOLVED\b|^problem:/.test(line) ? `\x1b[31m${line}\x1b[0m` : line);
  return [
    table(['BUDGET', 'MODEL', 'WINDOW', 'USED', 'FREE', '%', 'REQUESTS', 'STATE', 'RUNS OUT', 'PRIO', 'DESIRED'], rows),
    '',
    ...(channels.length ? [table(['CHANNEL', 'PRIORITY', 'DEFAULT', 'DEMOTED', 'DESIRED', 'STATUS'], channels), ''] : []),
    `OneAPI:      ${r.oneapi.reachable ? 'reachable' : `${r.oneapi.tokenRefused ? 'TOKEN REFUSED' : 'UNREACHABLE'} (${r.oneapi.error})`}`,
    `usage as of: ${r.usageAsOf ? formatLocal(r.usageAsOf, tz) : 'never read (no cycle has run yet)'}${r.usageCurrent || !r.usageAsOf ? '' : ' (config changed since; the next cycle recounts)'}`,
    `last cycle:  ${r.lastCycle ? `${formatLocal(r.lastCycle.at, tz)} ${r.lastCycle.ok ? 'ok' : `FAILED: ${r.lastCycle.error}`}` : 'none'}`,
    `last good:   ${r.lastSuccessAt ? formatLocal(r.lastSuccessAt, tz) : 'never'}`,
    `next reset:  ${formatLocal(r.nextReset, config.reset.timezone)}`,
    `routing:     ${r.routingDelay.seconds} s delay (${r.routingDelay.text})`,
    ...(r.budgets.some((b) => b.model) ? [`models:      per-model budgets matched on ${r.modelField} (${r.flavor} logs)`] : []),
    `state:       ${stateLine(r.stateFile)}`,
    ...r.budgets.filter((b) => b.stoppedAt).map((b) => `spent:       ${b.budget}: the provider stopped it at ${num(b.stoppedAt!.used)} of ${num(b.budgetTokens)} tokens (${formatLocal(b.stoppedAt!.at, tz)}); lower free_tokens?`),
    ...r.channels.filter((c) => c.off).map((c) => `off:         ${c.name} (#${c.channel}): ${c.off}`),
    ...r.problems.map((p) => `problem:     ${p}`),
  ]
    .join('\n')
    .split('\n')
    .map(red)
    .join('\n');
}

/** The state file read, or where none was found and where the systemd service keeps its own. */
function stateLine(f: StateFileInfo): string {
  if (f.exists) return f.path;
  const service = `${SYSTEM_STATE_DIR}/state.json`;
  return `no state at ${f.path}${f.path === service ? '' : `; the service's is ${service} (run as the quota-pilot user, or pass --state-dir)`}`;
}

export function runsOut(b: StatusReport['budgets'][number], tz: string): string {
  if (b.state === 'exhausted') return 'now';
  if (b.runsOutAt === null) return b.used > 0 ? 'not this window' : '-';
  return formatLocal(b.runsOutAt, tz).slice(5, 16);
}
