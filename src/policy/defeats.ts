import type { Budget, Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import { UsageIndex, type Bucket } from '../usage/buckets.js';
import type { BudgetStatus } from './decide.js';
import type { RefProblem, Resolution } from './resolve.js';

const show = (c: Channel) => `${c.name} (#${c.id})`;

/** A setting that defeats a demotion; `key` is the config key at fault. */
export type Defeat = RefProblem & { key: 'model' | 'demoted' };

/**
 * Budgets whose `model` the channel does not list in its `models`: the budget would count nothing, so the channel
 * would never be demoted. (A model check with spelling suggestions at `validate` belongs to the config checks.)
 */
export function unservedModels(config: Config, channels: Channel[], resolution: Resolution): Defeat[] {
  const byId = new Map(channels.map((c) => [c.id, c]));
  return config.budgets.flatMap((b) => {
    const ch = byId.get(resolution.ids.get(b.channel) ?? -1);
    if (!ch || b.model === undefined || ch.models.length === 0 || ch.models.includes(b.model)) return [];
    const listed = ch.models.length > 6 ? `${ch.models.slice(0, 6).join(', ')}, …` : ch.models.join(', ');
    return [{ key: 'model', ref: b.channel, source: b.source, message: `${show(ch)} does not serve model "${b.model}" (its models: ${listed}); this budget would count nothing and never demote it` }];
  });
}

/**
 * A `demoted` priority at or above an enabled fallback (a channel with no budget that serves the same model):
 * OneAPI keeps routing to the demoted channel, so the demotion moves nothing. The fallback's priority is its
 * default when the config has one (what the reset gives it), else what OneAPI shows.
 */
export function fallbacksNotBelow(config: Config, channels: Channel[], resolution: Resolution): Defeat[] {
  const budgeted = new Set(config.budgets.flatMap((b) => resolution.ids.get(b.channel) ?? []));
  const defaults = new Map<number, number>();
  for (const d of config.defaults) {
    const id = resolution.ids.get(d.channel);
    if (id !== undefined && !defaults.has(id)) defaults.set(id, d.priority);
  }
  const byId = new Map(channels.map((c) => [c.id, c]));
  const order = new Map(channels.map((c, i) => [c.id, i]));
  // The enabled fallbacks at or above `demoted`, by model: one pass over the channels, not one per budget.
  const fallbacks = new Map<string, Channel[]>();
  for (const f of channels) {
    if (f.status !== 1 || budgeted.has(f.id) || (defaults.get(f.id) ?? f.priority) > config.demoted) continue;
    for (const m of f.models) (fallbacks.get(m) ?? fallbacks.set(m, []).get(m)!).push(f);
  }
  if (fallbacks.size === 0) return [];
  const seen = new Set<string>();
  return config.budgets.flatMap((b: Budget) => {
    const ch = byId.get(resolution.ids.get(b.channel) ?? -1);
    if (!ch) return [];
    const models = b.model !== undefined ? [b.model] : ch.models;
    if (!models.some((m) => fallbacks.has(m))) return [];
    const found = new Set(models.flatMap((m) => fallbacks.get(m) ?? []));
    const high = [...found].filter((f) => f.id !== ch.id).sort((x, y) => order.get(x.id)! - order.get(y.id)!);
    const key = `${ch.id}:${high.map((f) => f.id).join(',')}`;
    if (high.length === 0 || seen.has(key)) return [];
    seen.add(key);
    const list = high.map((f) => `${show(f)} at ${defaults.get(f.id) ?? f.priority}`).join(', ');
    return [{ key: 'demoted', ref: b.channel, source: b.source, message: `demoted (${config.demoted}) is not below the enabled fallback ${list} serving the same model; demoting ${show(ch)} would not move its traffic` }];
  });
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
