import { num } from '../platform/format.js';
import type { Config } from '../config/types.js';
import { usageSummary, type Decision } from '../policy/decide.js';
import { project, type PaceLog } from '../usage/burn.js';
import { formatLocal } from '../usage/windows.js';
import type { AlertMemory } from './memory.js';
import type { ResetProgress } from '../policy/memory.js';
import type { RefProblem } from '../policy/resolve.js';

export { emptyAlertMemory, type AlertMemory } from './memory.js';

import type { Change } from '../policy/change.js';

export type { Change } from '../policy/change.js';
import type { AlertEvent } from './types.js';
import { unmovedDemotions } from './unmoved.js';


/** Don't project from too little: an hour into the window and a tenth of the budget used. */
const PROJECT_MIN_ELAPSED_SEC = 3600;
const PROJECT_MIN_RATIO = 0.1;

/**
 * The events one completed cycle gives rise to, and the memory that keeps them from repeating. Pure.
 * OneAPI outages and auth failures are followed across cycles by the daemon (see outage.ts).
 */
export function detectEvents(p: {
  config: Config;
  decision: Decision;
  applied: Change[];
  nowMs: number;
  memory: AlertMemory;
  pace?: PaceLog;
  /** Where the nightly reset stands (absent: as if none was under way). */
  reset?: ResetProgress;
  /** Config references that resolve to no single channel this cycle. */
  unresolved?: RefProblem[];
  /** Auto-disabled channels enabled again this cycle (reenable_at_renewal). */
  enabled?: Array<{ id: number; name: string; reason: string }>;
}): { events: AlertEvent[]; memory: AlertMemory } {
  const { config, decision, applied, nowMs } = p;
  const at = Math.floor(nowMs / 1000);
  const memory: AlertMemory = { projected: { ...p.memory.projected }, autoDisabled: [...p.memory.autoDisabled], unmoved: { ...p.memory.unmoved }, unresolved: [] };
  const events: AlertEvent[] = [];
  const names = new Map(decision.channels.map((c) => [c.id, c.name]));
  const tz = config.timezone;

  for (const b of decision.warnings)
    events.push({
      kind: 'budget-warning', severity: 'warning', at,
      title: `${b.budget.key} at ${(b.ratio * 100).toFixed(1)}% of its free tokens`,
      text: usageSummary(b),
      fields: { budget: b.budget.key, channel: b.channelId, name: names.get(b.channelId ?? -1) ?? null, used: b.used, free: b.budget.freeTokens, ratio: round(b.ratio) },
    });

  for (const b of decision.budgets) {
    if (b.state !== 'ok' && b.state !== 'warning') continue;
    if (memory.projected[b.budget.key] === b.window.start) continue;
    if (at - b.window.start < PROJECT_MIN_ELAPSED_SEC || b.ratio < PROJECT_MIN_RATIO) continue;
    const pr = project(b, nowMs, p.pace?.[b.budget.key]);
    if (!pr.beforeWindowEnds || pr.runsOutAt === null) continue;
    memory.projected[b.budget.key] = b.window.start;
    events.push({
      kind: 'budget-projected', severity: 'warning', at,
      title: `${b.budget.key} will run out at ${formatLocal(pr.runsOutAt, tz)}`,
      text: `At ${num(pr.tokensPerHour)} tokens/hour, ${usageSummary(b)} runs out before the window renews at ${formatLocal(b.window.end, tz)}.`,
      fields: { budget: b.budget.key, channel: b.channelId, used: b.used, free: b.budget.freeTokens, tokensPerHour: pr.tokensPerHour, runsOutAt: pr.runsOutAt, windowEnd: b.window.end },
    });
  }
  for (const k of Object.keys(memory.projected)) if (!decision.budgets.some((b) => b.budget.key === k)) delete memory.projected[k];

  for (const c of applied) {
    const demoted = c.to === config.demoted;
    events.push({
      kind: demoted ? 'channel-demoted' : 'channel-restored', severity: demoted ? 'warning' : 'info', at,
      title: `${c.name} ${demoted ? 'demoted' : 'restored'}: priority ${c.from} -> ${c.to}`,
      text: c.reason,
      fields: { channel: c.id, name: c.name, from: c.from, to: c.to, reason: c.reason },
    });
  }

  const reset = p.reset ?? { began: decision.reset === 'due' || decision.reset === 'forced', before: 0, left: 0 };
  // Once when the reset begins, and once more only if it needed retries and they have now all landed.
  if (reset.began || (reset.before > 0 && reset.left === 0)) {
    const restored = applied.filter((c) => c.to !== config.demoted).map((c) => `${c.name} (#${c.id})`);
    const still = decision.channels.filter((c) => c.desired === config.demoted && c.default !== config.demoted).map((c) => `${c.name} (#${c.id})`);
    const waiting = Object.entries(decision.memory.pending).filter(([id, w]) => w.cause === 'reset' && !applied.some((c) => c.id === Number(id))).map(([id]) => `${names.get(Number(id)) ?? 'channel'} (#${id})`);
    const done = reset.left === 0;
    events.push({
      kind: 'reset-done', severity: done ? 'info' : 'warning', at,
      title: done
        ? `Nightly reset done${reset.began ? '' : ' after retries'}: ${restored.length} restored, ${still.length} still demoted`
        : `Nightly reset incomplete: ${restored.length} restored, ${waiting.length} not shown by OneAPI yet (retried alone), ${still.length} still demoted`,
      text: [
        `Restored: ${restored.join(', ') || 'none'}.`,
        ...(done ? [] : [`Not shown by OneAPI yet: ${waiting.join(', ')}; each is written again alone every cycle until it is.`]),
        `Still demoted (quota not renewed): ${still.join(', ') || 'none'}.`,
      ].join(' '),
      fields: { restored, stillDemoted: still, pending: waiting, scheduled: decision.reset === 'due' },
    });
  }

  for (const b of decision.budgets) {
    const s = decision.memory.stopped[b.budget.key];
    if (!b.stopped || s === undefined || s.at !== at) continue;
    events.push({
      kind: 'budget-stopped', severity: 'warning', at,
      title: `The provider stopped ${b.budget.key} at ${num(s.used)} of free_tokens ${num(b.budget.freeTokens)}: lower free_tokens?`,
      text: `OneAPI auto-disabled ${names.get(b.channelId ?? -1) ?? 'its channel'} (#${b.channelId}) after the provider's errors, while the logs counted ${num(s.used)}/${num(b.budget.freeTokens)} tokens (${((s.used / b.budget.freeTokens) * 100).toFixed(1)}%) of its ${b.budget.window} window. The budget counts as spent until the window renews at ${formatLocal(b.window.end, tz)}; if the provider's allowance is smaller than free_tokens, lower it (or usage outside OneAPI, or consume logging off, would explain it too).`,
      fields: { budget: b.budget.key, channel: b.channelId, used: s.used, free: b.budget.freeTokens, windowEnd: b.window.end },
    });
  }
  for (const e of p.enabled ?? [])
    events.push({ kind: 'channel-reenabled', severity: 'info', at, title: `${e.name} (#${e.id}) enabled again`, text: e.reason, fields: { channel: e.id, name: e.name, reason: e.reason } });

  for (const u of p.unresolved ?? []) {
    const ref = String(u.ref);
    memory.unresolved.push(ref);
    if (p.memory.unresolved.includes(ref)) continue;
    const budgets = config.budgets.filter((b) => b.channel === u.ref).map((b) => b.key);
    const stranded = decision.stranded.find((c) => c.ref === u.ref);
    events.push({
      kind: 'budget-unresolved', severity: 'critical', at,
      title: `Not enforced: channel ${typeof u.ref === 'number' ? `#${u.ref}` : `"${ref}"`} does not resolve in OneAPI`,
      text:
        `${u.source.file}:${u.source.line}: ${u.message}. ` +
        (budgets.length === 1
          ? `Budget ${budgets[0]} counts nothing and demotes nothing until the config names a channel that exists once.`
          : budgets.length > 1
            ? `Budgets ${budgets.join(', ')} count nothing and demote nothing until the config names a channel that exists once.`
            : 'Its default priority is not restored.') +
        (stranded ? ` Channel #${stranded.id} (now "${stranded.name}"), which it named before, is at the demoted priority ${stranded.priority}: nothing restores it.` : ''),
      fields: { ref, budgets, file: u.source.file, line: u.source.line, stranded: stranded?.id ?? null },
    });
  }

  const disabled = decision.channels.filter((c) => c.status === 3).map((c) => c.id);
  for (const c of decision.channels)
    if (c.status === 3 && !memory.autoDisabled.includes(c.id))
      events.push({
        kind: 'channel-auto-disabled', severity: 'critical', at,
        title: `${c.name} (#${c.id}) was auto-disabled by OneAPI`,
        text: `OneAPI disabled channel ${c.id} after upstream errors; it gets no traffic until it is enabled again, whatever its priority (${c.observed}).`,
        fields: { channel: c.id, name: c.name, priority: c.observed },
      });
  memory.autoDisabled = disabled;
  const unmoved = unmovedDemotions({ config, decision, pace: p.pace ?? {}, memory: p.memory, at });
  events.push(...unmoved.events);
  memory.unmoved = unmoved.unmoved;
  return { events, memory };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
