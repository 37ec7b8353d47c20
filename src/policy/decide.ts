import type { Budget, Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import type { Memory } from '../state/store.js';
import { UsageIndex, type Bucket } from '../usage/buckets.js';
import { lastOccurrence, windowsFor, type Window } from '../usage/windows.js';
import type { Resolution } from './resolve.js';

export type BudgetState = 'ok' | 'warning' | 'exhausted' | 'unresolved';

/** One budget measured in its current window. */
export interface BudgetStatus {
  budget: Budget;
  channelId: number | null;
  window: Window;
  used: number;
  requests: number;
  ratio: number;
  state: BudgetState;
}

/** What quota-pilot wants for one channel it manages, and why. */
export interface ChannelPlan {
  id: number;
  name: string;
  status: number;
  observed: number;
  default: number | null;
  desired: number;
  /** Why desired differs from observed; null when nothing is to be done. */
  reason: string | null;
}

/** Whether this cycle is the nightly reset. */
export type ResetMode = 'due' | 'forced' | 'first-run' | 'not-due';

export interface Decision {
  budgets: BudgetStatus[];
  channels: ChannelPlan[];
  /** Budgets that crossed warn_at for the first time in their window. */
  warnings: BudgetStatus[];
  reset: ResetMode;
  /** Memory to keep if the plan is carried out. */
  memory: Memory;
}

export interface DecideInput {
  config: Config;
  resolution: Resolution;
  channels: Channel[];
  buckets: Bucket[];
  nowMs: number;
  memory: Memory;
  forceReset?: boolean;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** "1,812,345/1,900,000 tokens (95.4%), daily window since 2026-11-24 02:20 +08:00" */
export function usageSummary(s: BudgetStatus): string {
  return `${fmt(s.used)}/${fmt(s.budget.freeTokens)} tokens (${(s.ratio * 100).toFixed(1)}%), ${s.window.label}`;
}

/** Measures every budget in its current window. */
export function measureBudgets(input: Omit<DecideInput, 'memory' | 'channels'>): BudgetStatus[] {
  const { config, resolution, buckets, nowMs } = input;
  const windows = windowsFor(config.budgets, config.timezone, nowMs);
  const index = new UsageIndex(buckets);
  return config.budgets.map((budget) => {
    const window = windows.get(budget.key)!;
    const channelId = resolution.ids.get(budget.channel) ?? null;
    const { tokens, requests } =
      channelId === null
        ? { tokens: 0, requests: 0 }
        : index.sum({ channel: channelId, model: budget.model, from: window.start, to: window.end });
    const ratio = tokens / budget.freeTokens;
    const state: BudgetState =
      channelId === null ? 'unresolved' : ratio >= budget.demoteAt ? 'exhausted' : ratio >= budget.warnAt ? 'warning' : 'ok';
    return { budget, channelId, window, used: tokens, requests, ratio, state };
  });
}

function resetMode(input: DecideInput): ResetMode {
  if (input.forceReset) return 'forced';
  if (input.memory.lastResetAt === null) return 'first-run';
  const { at, timezone } = input.config.reset;
  return input.memory.lastResetAt < lastOccurrence(at, timezone, input.nowMs) ? 'due' : 'not-due';
}

/**
 * The whole policy, pure: from config, observed channels and usage, the priority each managed channel should have
 * and why. Exhausted channels go to `demoted` (again, if raised by hand); the nightly reset restores defaults;
 * a channel quota-pilot demoted comes back when its quota renews; any other manual change is left alone.
 */
export function decide(input: DecideInput): Decision {
  const { config, resolution, channels, nowMs } = input;
  const nowSec = Math.floor(nowMs / 1000);
  const budgets = measureBudgets(input);
  const reset = resetMode(input);
  const memory: Memory = structuredClone(input.memory);
  if (reset === 'first-run') memory.lastResetAt = lastOccurrence(config.reset.at, config.reset.timezone, nowMs);
  if (reset === 'due' || reset === 'forced') memory.lastResetAt = nowSec;

  const defaults = new Map<number, number>();
  for (const d of config.defaults) {
    const id = resolution.ids.get(d.channel);
    if (id !== undefined && !defaults.has(id)) defaults.set(id, d.priority);
  }
  const managed = new Set<number>([...defaults.keys(), ...budgets.flatMap((b) => (b.channelId === null ? [] : [b.channelId]))]);

  const plans: ChannelPlan[] = [];
  for (const ch of channels) {
    if (!managed.has(ch.id)) continue;
    const mine = budgets.filter((b) => b.channelId === ch.id);
    const exhausted = mine.filter((b) => b.state === 'exhausted').sort((a, b) => b.ratio - a.ratio);
    const def = defaults.get(ch.id) ?? null;
    const plan: ChannelPlan = { id: ch.id, name: ch.name, status: ch.status, observed: ch.priority, default: def, desired: ch.priority, reason: null };
    const key = String(ch.id);
    if (exhausted.length > 0) {
      if (ch.priority > config.demoted) {
        plan.desired = config.demoted;
        plan.reason = `budget exhausted: ${usageSummary(exhausted[0])}`;
      }
      if (plan.desired === config.demoted)
        memory.demoted[key] = memory.demoted[key] ?? { at: nowSec, reason: plan.reason ?? `budget exhausted: ${usageSummary(exhausted[0])}` };
    } else if (def !== null && (reset === 'due' || reset === 'forced')) {
      if (ch.priority !== def) {
        plan.desired = def;
        plan.reason = `${reset === 'due' ? 'nightly reset' : 'reset'}: default priority restored` + renewedNote(mine);
      }
      delete memory.demoted[key];
    } else if (memory.demoted[key]) {
      if (def !== null && ch.priority === config.demoted) {
        plan.desired = def;
        plan.reason = `free quota renewed${renewedNote(mine, ': ')}`;
      }
      // Restored now, or changed by hand since we demoted it: either way no longer ours to restore.
      delete memory.demoted[key];
    }
    plans.push(plan);
  }

  const warnings: BudgetStatus[] = [];
  const keys = new Set(budgets.map((b) => b.budget.key));
  for (const k of Object.keys(memory.warned)) if (!keys.has(k)) delete memory.warned[k];
  for (const b of budgets) {
    if (b.state !== 'warning' && b.state !== 'exhausted') continue;
    if (memory.warned[b.budget.key] === b.window.start) continue;
    memory.warned[b.budget.key] = b.window.start;
    warnings.push(b);
  }
  return { budgets, channels: plans, warnings, reset, memory };
}

function renewedNote(mine: BudgetStatus[], lead = '; '): string {
  if (mine.length === 0) return '';
  return lead + mine.map((b) => `${b.budget.key} at ${usageSummary(b)}`).join('; ');
}
