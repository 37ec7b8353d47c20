import type { Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import { UsageIndex, type Bucket } from '../usage/buckets.js';
import type { BudgetStatus } from './decide.js';
import type { RefProblem, Resolution } from './resolve.js';

const show = (c: Channel) => `${c.name} (#${c.id})`;

/** A setting that defeats a demotion; `key` is the config key at fault. */
export type Defeat = RefProblem & { key: 'model' | 'channel' | 'demoted' };

/** A finding about the config against OneAPI's channels, with how serious it is (see checks.ts). */
export type Check = Defeat & { severity: 'error' | 'warning' };

const MAX_MODELS = 4;
const listModels = (ms: string[]) => ms.slice(0, MAX_MODELS).map((m) => `"${m}"`).join(', ') + (ms.length > MAX_MODELS ? `, … (${ms.length} in all)` : '');

/**
 * Whether demoting a budget's channel moves its traffic. OneAPI routes a model to its highest-priority enabled
 * channels, so a demotion moves the traffic when an enabled fallback (a channel with no budget serving the same
 * model) sits strictly above `demoted`; fallbacks at or below it do not matter then (a last resort at 5 beside a
 * paid one at 50 is fine). Only fallbacks, and all of them at or below `demoted`: the demoted channel keeps the
 * traffic, an error at `demoted`. No fallback at all: nothing could take the traffic, whatever `demoted` is, so a
 * warning at the budget. A fallback's priority is its default when the config has one (what the reset gives it),
 * else what OneAPI shows.
 */
export function fallbackChecks(config: Config, channels: Channel[], resolution: Resolution): Check[] {
  const budgeted = new Set(config.budgets.flatMap((b) => resolution.ids.get(b.channel) ?? []));
  const defaults = new Map<number, number>();
  for (const d of config.defaults) {
    const id = resolution.ids.get(d.channel);
    if (id !== undefined && !defaults.has(id)) defaults.set(id, d.priority);
  }
  const priorityOf = (c: Channel) => defaults.get(c.id) ?? c.priority;
  const byId = new Map(channels.map((c) => [c.id, c]));
  // The enabled fallbacks by model, in OneAPI's order: one pass over the channels, not one per budget.
  const fallbacks = new Map<string, Channel[]>();
  for (const f of channels) {
    if (f.status !== 1 || budgeted.has(f.id)) continue;
    for (const m of f.models) (fallbacks.get(m) ?? fallbacks.set(m, []).get(m)!).push(f);
  }
  const seen = new Set<string>();
  const out: Check[] = [];
  for (const b of config.budgets) {
    const ch = byId.get(resolution.ids.get(b.channel) ?? -1);
    if (!ch) continue;
    // OneAPI routes by the requested name, which a channel's `models` lists: a model it does not list (a typo, or
    // one-api's upstream name after a model_mapping) is the model check's to judge, not this one's.
    const models = b.model === undefined ? ch.models : ch.models.includes(b.model) ? [b.model] : [];
    const low = new Map<number, Channel>();
    const alone: string[] = [];
    for (const m of models) {
      const fs = fallbacks.get(m) ?? [];
      if (fs.some((f) => priorityOf(f) > config.demoted)) continue;
      if (fs.length === 0) alone.push(m);
      for (const f of fs) low.set(f.id, f);
    }
    if (low.size > 0) {
      const list = [...low.values()].map((f) => `${show(f)} at ${priorityOf(f)}`).join(', ');
      const message = `demoted (${config.demoted}) is not below the enabled fallback ${list} serving the same model, and no enabled fallback above ${config.demoted} serves it; demoting ${show(ch)} would not move its traffic`;
      if (!seen.has(message)) out.push({ severity: 'error', key: 'demoted', ref: b.channel, source: config.demotedSource, message });
      seen.add(message);
    }
    if (alone.length > 0) {
      const message = `no other enabled channel serves ${listModels(alone)}: when ${show(ch)} is demoted, OneAPI still sends it that traffic (and the provider bills it); add a fallback channel to move it`;
      if (!seen.has(message)) out.push({ severity: 'warning', key: b.model !== undefined ? 'model' : 'channel', ref: b.channel, source: b.modelSource ?? b.source, message });
      seen.add(message);
    }
  }
  return out;
}

/** Requests on other models before a budget with none is suspicious, not just quiet. */
const SILENT_MIN_REQUESTS = 20;

/**
 * Budgets with no logs for their model this window while their channel served other models: the model name is
 * likely not the one OneAPI logs (new-api logs the requested name, one-api and one-hub the upstream one), and the
 * budget would never reach its limit.
 */
export function silentBudgets(budgets: BudgetStatus[], buckets: Bucket[], channels: Channel[]): Defeat[] {
  let index: UsageIndex | undefined;
  const byId = new Map(channels.map((c) => [c.id, c]));
  return budgets.flatMap((b) => {
    const ch = byId.get(b.channelId ?? -1);
    if (!ch || b.budget.model === undefined || b.requests > 0) return [];
    // Built on first need: most cycles have no budget without requests.
    index ??= new UsageIndex(buckets);
    const all = index.sum({ channel: ch.id, from: b.window.start, to: b.window.end });
    if (all.requests < SILENT_MIN_REQUESTS) return [];
    // Sorted and without counts: the daemon logs a problem again only when its text changes.
    const others = [...new Set(buckets.filter((x) => x.channel === ch.id && x.start >= b.window.start && x.start < b.window.end).map((x) => x.model))].sort().slice(0, 4);
    return [{ key: 'model', ref: b.budget.channel, source: b.budget.source, message: `no consume logs for model "${b.budget.model}" on ${show(ch)} this window, while it served other models (${others.join(', ')}); is "${b.budget.model}" the name OneAPI logs?` }];
  });
}
