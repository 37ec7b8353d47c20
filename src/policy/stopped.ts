import type { Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import { num } from '../platform/format.js';
import { formatLocal } from '../usage/windows.js';
import { usageSummary, type BudgetStatus, type ChannelPlan } from './decide.js';
import type { Memory } from './memory.js';

// The provider's own word that a quota is spent, and enabling again what OneAPI disabled for it (reenable_at_renewal).

/**
 * The provider's own word that a quota is spent: a budgeted channel that OneAPI auto-disabled (status 3, after the
 * provider's errors) before the budget reached demote_at counts as spent for the rest of its window, at what the
 * logs had counted then. Returns the memory of it: this window's entries, and earlier ones while the channel is still
 * auto-disabled (reenable_at_renewal needs to know it was stopped before the window renewed).
 */
export function providerStopped(budgets: BudgetStatus[], channels: Channel[], before: Memory['stopped'], nowSec: number): Memory['stopped'] {
  const status = new Map(channels.map((c) => [c.id, c.status]));
  const out: Memory['stopped'] = {};
  for (const b of budgets) {
    if (b.channelId === null) continue;
    const key = b.budget.key;
    const prev = before[key];
    const off = status.get(b.channelId) === 3;
    // Still off since an earlier window: that stop is kept (for reenable_at_renewal), not a new one in this window.
    const now = prev && prev.window === b.window.start ? prev : off && !prev ? { window: b.window.start, used: b.used, at: nowSec } : undefined;
    if (now) out[key] = now;
    else if (prev && off) out[key] = prev;
    // Stopped before the logs said so: spent anyway. (Stopped after demote_at, the logs had it right.)
    if (now && now.used < b.budget.demoteAt * b.budget.freeTokens) {
      b.stopped = { used: now.used, at: now.at };
      b.state = 'exhausted';
      b.projection = null;
    }
  }
  return out;
}

/**
 * Whether an auto-disabled channel is enabled again now: only with reenable_at_renewal on a budget that the provider
 * stopped in an earlier window, and none of its budgets spent in the current one. Never status 2 (a person's).
 */
export function reenablePlan(ch: Channel, mine: BudgetStatus[], stopped: Memory['stopped'], config: Config): Pick<ChannelPlan, 'enable' | 'off'> {
  const renewed = mine.find((b) => b.budget.reenableAtRenewal && stopped[b.budget.key] !== undefined && stopped[b.budget.key].window < b.window.start);
  const spent = mine.find((b) => b.state === 'exhausted');
  if (renewed && !spent) {
    const s = stopped[renewed.budget.key];
    return { enable: `auto-disabled by OneAPI at ${formatLocal(s.at, config.timezone)} (its provider stopped ${renewed.budget.key} at ${num(s.used)} tokens); its ${renewed.budget.window} window renewed: enabled again (reenable_at_renewal)` };
  }
  const earlier = mine.find((b) => stopped[b.budget.key] !== undefined && stopped[b.budget.key].window < b.window.start);
  const why = spent?.stopped
    ? `the provider stopped ${spent.budget.key} at ${num(spent.stopped.used)}/${num(spent.budget.freeTokens)} tokens this window`
    : spent
      ? `${spent.budget.key} is spent this window`
      : earlier
        ? `the provider stopped ${earlier.budget.key} at ${num(stopped[earlier.budget.key].used)} tokens, ${formatLocal(stopped[earlier.budget.key].at, config.timezone)}, in an earlier window`
        : 'OneAPI disabled it after upstream errors';
  const next = mine.some((b) => b.budget.reenableAtRenewal) ? 'enabled again when its window renews (reenable_at_renewal)' : 'stays off until enabled in OneAPI (or set reenable_at_renewal: true)';
  return { off: `auto-disabled by OneAPI: ${why}; ${next}` };
}

/** "budget exhausted: …", or, when the provider stopped it first, what the provider's stop was counted at. */
export function exhaustedReason(b: BudgetStatus, config: Config): string {
  if (!b.stopped) return `budget exhausted: ${usageSummary(b)}`;
  return `budget spent: the provider stopped it (OneAPI auto-disabled the channel) at ${num(b.stopped.used)}/${num(b.budget.freeTokens)} tokens, ${formatLocal(b.stopped.at, config.timezone)}; counted as spent until its ${b.budget.window} window renews`;
}
