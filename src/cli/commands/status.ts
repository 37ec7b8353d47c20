import { systemClock } from '../../platform/clock.js';
import { decide } from '../../policy/decide.js';
import { resolveRefs, formatRefProblem } from '../../policy/resolve.js';
import type { Channel } from '../../oneapi/types.js';
import { layoutFor, layoutSignature } from '../../usage/buckets.js';
import { formatLocal, nextOccurrence } from '../../usage/windows.js';
import { configOrThrow, connect, context, type GlobalOptions } from '../context.js';
import { num, table } from '../render.js';

/**
 * One row per budget, from the usage counted by the last cycle and the channels as OneAPI has them now.
 * Read-only: it neither writes to OneAPI nor changes the state file.
 */
export async function statusCommand(opts: GlobalOptions & { json?: boolean }): Promise<number> {
  const ctx = context(opts, 2);
  const { config } = await configOrThrow(ctx);
  const { client, store } = connect(ctx);
  const state = await store.load();
  const nowMs = systemClock.now();
  let channels: Channel[] = [];
  let oneapiError: string | undefined;
  try {
    channels = await client.listChannels();
  } catch (err) {
    oneapiError = (err as Error).message;
  }
  const resolution = oneapiError ? { ids: new Map(), problems: [] } : resolveRefs(config, channels);
  const usable = state.usage.signature === layoutSignature(layoutFor(config));
  const decision = decide({ config, resolution, channels, buckets: usable ? state.usage.buckets : [], nowMs, memory: state.memory });
  const plan = new Map(decision.channels.map((c) => [c.id, c]));
  const rows = decision.budgets.map((b) => {
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
      state: oneapiError ? (b.ratio >= b.budget.demoteAt ? 'exhausted' : b.ratio >= b.budget.warnAt ? 'warning' : 'ok') : b.state,
      observedPriority: p?.observed ?? null,
      desiredPriority: p?.desired ?? null,
    };
  });
  const summary = {
    oneapi: oneapiError ? { reachable: false, error: oneapiError } : { reachable: true },
    usageAsOf: state.usage.watermark,
    lastCycle: state.lastCycle,
    lastSuccessAt: state.lastSuccessAt,
    nextReset: nextOccurrence(config.reset.at, config.reset.timezone, nowMs),
    problems: resolution.problems.map(formatRefProblem),
    budgets: rows,
  };
  if (opts.json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  } else {
    const tz = config.timezone;
    const out = [
      table(
        ['CHANNEL', 'MODEL', 'WINDOW', 'USED', 'BUDGET', '%', 'STATE', 'PRIO', 'DESIRED'],
        rows.map((r) => [
          `${r.name}${typeof r.channel === 'number' ? ` (#${r.channel})` : ''}`,
          r.model ?? '*',
          r.window,
          num(r.used),
          num(r.budgetTokens),
          r.percent.toFixed(1),
          r.state,
          r.observedPriority === null ? '?' : String(r.observedPriority),
          r.desiredPriority === null ? '?' : String(r.desiredPriority),
        ]),
      ),
      '',
      `OneAPI:      ${oneapiError ? `UNREACHABLE (${oneapiError})` : 'reachable'}`,
      `usage as of: ${state.usage.watermark ? formatLocal(state.usage.watermark, tz) : 'never read (no cycle has run yet)'}${usable || !state.usage.watermark ? '' : ' (config changed since; the next cycle recounts)'}`,
      `last cycle:  ${state.lastCycle ? `${formatLocal(state.lastCycle.at, tz)} ${state.lastCycle.ok ? 'ok' : `FAILED: ${state.lastCycle.error}`}` : 'none'}`,
      `next reset:  ${formatLocal(summary.nextReset, config.reset.timezone)}`,
      ...summary.problems.map((p) => `problem:     ${p}`),
    ];
    process.stdout.write(out.join('\n') + '\n');
  }
  return oneapiError ? 1 : 0;
}
