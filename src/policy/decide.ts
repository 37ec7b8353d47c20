import type { Budget, ChannelRef, Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import type { PaceLog } from '../usage/burn.js';
import type { Memory, PendingWrite } from './memory.js';
import type { DelayInUse } from './routing-delay.js';
import { lookAt, projectBudget, MIN_CHECK_SEC, type ProjectInput, type Projection } from './projection.js';
import { DateTime } from 'luxon';
import { UsageIndex, type Bucket } from '../usage/buckets.js';
import { seriesFor, type Timeline } from '../usage/timeline.js';
import { lastOccurrence, windowsFor, type Window } from '../usage/windows.js';
import { rememberRefs, type Resolution } from './resolve.js';
import { exhaustedReason, providerStopped, reenablePlan } from './stopped.js';
import { num } from '../platform/format.js';

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
  /** Where the recent burn rate takes it (null: not projected, e.g. exhausted, unresolved or no usage read yet). */
  projection: Projection | null;
  /** Set when the provider stopped it in this window (OneAPI auto-disabled its channel): spent, whatever the logs say. */
  stopped?: { used: number; at: number };
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
  /** Why a write the rules would otherwise make is held back (the reset keeping a channel demoted). */
  hold?: string;
  /** Set when the channel, auto-disabled by OneAPI in an earlier window, is to be enabled again (reenable_at_renewal). */
  enable?: string;
  /** Why an auto-disabled channel stays off (no reenable_at_renewal, or its window has not renewed). */
  off?: string;
}

/** A channel quota-pilot followed under a config name that no longer resolves, found at `demoted`. */
export interface Stranded {
  id: number;
  name: string;
  priority: number;
  ref: ChannelRef;
  budgets: string[];
}

/** Whether this cycle is the nightly reset. */
export type ResetMode = 'due' | 'forced' | 'first-run' | 'not-due';

export interface Decision {
  budgets: BudgetStatus[];
  channels: ChannelPlan[];
  /** Budgets that crossed warn_at for the first time in their window. */
  warnings: BudgetStatus[];
  reset: ResetMode;
  /**
   * Unix seconds (fractional) when a cycle should look again before the next poll, because a projected
   * demotion falls due (or a burst could bring one forward) before then; null when no budget needs it.
   */
  nextCheckAt: number | null;
  /** Memory to keep if the plan is carried out. */
  memory: Memory;
  /** Channels left at `demoted` by a reference that stopped resolving (reported every cycle). */
  stranded: Stranded[];
}

export interface DecideInput {
  config: Config;
  resolution: Resolution;
  channels: Channel[];
  buckets: Bucket[];
  nowMs: number;
  memory: Memory;
  forceReset?: boolean;
  /** Recent samples of each budget's use, for the burn rate; without them no demotion is projected. */
  pace?: PaceLog;
  /** Unix seconds up to which `buckets` count use; null or absent: no projection. */
  usageAsOf?: number | null;
  /** The usage's recent minutes (API source): when present, burn rates come from it instead of `pace`. */
  timeline?: Timeline;
  /** The routing delay to project with (see routing-delay.ts); absent: config.routingDelaySec. */
  routingDelay?: DelayInUse;
}

/** "1,812,345/1,900,000 tokens (95.4%), daily window since 2026-11-24 02:20 +08:00" */
export function usageSummary(s: BudgetStatus): string {
  return `${num(s.used)}/${num(s.budget.freeTokens)} tokens (${(s.ratio * 100).toFixed(1)}%), ${s.window.label}`;
}

/** Measures every budget in its current window, and projects it from its recent burn rate. */
export function measureBudgets(input: Omit<DecideInput, 'memory' | 'channels'>): BudgetStatus[] {
  const { config, resolution, buckets, nowMs, usageAsOf } = input;
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
    const projection =
      state === 'unresolved' || state === 'exhausted' || usageAsOf == null
        ? null
        : projectBudget({ freeTokens: budget.freeTokens, used: tokens, asOf: usageAsOf, windowStart: window.start, windowEnd: window.end, track: input.pace?.[budget.key], timeline: timelineOf(input.timeline, channelId, budget.model), routingDelaySec: input.routingDelay?.sec ?? config.routingDelaySec });
    return { budget, channelId, window, used: tokens, requests, ratio, state, projection };
  });
}

function timelineOf(t: Timeline | undefined, channel: number | null, model: string | undefined): ProjectInput['timeline'] {
  return t && channel !== null ? { series: seriesFor(t, channel, model), from: t.from } : undefined;
}

function resetMode(input: DecideInput): ResetMode {
  if (input.forceReset) return 'forced';
  if (input.memory.lastResetAt === null) return 'first-run';
  const { at, timezone } = input.config.reset;
  return input.memory.lastResetAt < lastOccurrence(at, timezone, input.nowMs) ? 'due' : 'not-due';
}

/**
 * The whole policy, pure: from config, observed channels and usage, the priority each managed channel should have
 * and why. The rules, first match wins (the README has them as a table):
 * 1. a budget is exhausted (use >= demote_at): `demoted` (again, if raised by hand; left alone if set lower);
 * 2. the nightly reset (scheduled or forced): the default priority, except (scheduled) a channel quota-pilot demoted
 *    in a budget window that has not renewed;
 * 3. the channel is at `demoted` and its quota is available again: the default, whether or not the state remembers
 *    demoting it, when its window renewed (since the last cycle, or since quota-pilot demoted it) or when there is
 *    no memory at all (state lost);
 * 4. anything else, including a manual priority other than `demoted`: left alone.
 * A restore (2, 3) is recorded in the memory before its write and redone, alone, until OneAPI shows it; a person
 * changing the channel meanwhile cancels it.
 */
export function decide(input: DecideInput): Decision {
  const { config, resolution, channels, nowMs } = input;
  const nowSec = Math.floor(nowMs / 1000);
  const budgets = measureBudgets(input);
  const stopped = providerStopped(budgets, channels, input.memory.stopped, nowSec);
  const reset = resetMode(input);
  const resetting = reset === 'due' || reset === 'forced';
  // Shallow copies: the maps' keys are set and deleted below, their values are replaced, never changed.
  const memory: Memory = {
    ...input.memory,
    warned: { ...input.memory.warned },
    demoted: { ...input.memory.demoted },
    windows: {},
    pending: {},
    refs: rememberRefs(resolution, input.memory.refs),
    stopped,
  };
  if (reset === 'first-run') memory.lastResetAt = lastOccurrence(config.reset.at, config.reset.timezone, nowMs);
  if (resetting) memory.lastResetAt = nowSec;

  const defaults = new Map<number, number>();
  for (const d of config.defaults) {
    const id = resolution.ids.get(d.channel);
    if (id !== undefined && !defaults.has(id)) defaults.set(id, d.priority);
  }
  const managed = new Set<number>(defaults.keys());
  for (const b of budgets) if (b.channelId !== null) managed.add(b.channelId);

  const byChannel = new Map<number, BudgetStatus[]>();
  for (const b of budgets) if (b.channelId !== null) (byChannel.get(b.channelId) ?? byChannel.set(b.channelId, []).get(b.channelId)!).push(b);
  const plans: ChannelPlan[] = [];
  for (const ch of channels) {
    if (!managed.has(ch.id)) continue;
    const mine = byChannel.get(ch.id) ?? [];
    const exhausted = mine.filter((b) => b.state === 'exhausted').sort((a, b) => b.ratio - a.ratio);
    const due = mine.filter((b) => b.projection?.demoteBy != null && b.projection.demoteBy <= nowMs / 1000);
    const def = defaults.get(ch.id) ?? null;
    const plan: ChannelPlan = { id: ch.id, name: ch.name, status: ch.status, observed: ch.priority, default: def, desired: ch.priority, reason: null };
    const key = String(ch.id);
    const remembered = memory.demoted[key];
    const pend = input.memory.pending[key];
    // A restore of an earlier cycle still to finish: redone alone while OneAPI shows what it showed when planned.
    const retry = pend !== undefined && ch.priority === pend.from && ch.priority !== pend.to ? pend : undefined;
    const restore = (to: number, cause: PendingWrite['cause'], why: string) => {
      plan.desired = to;
      plan.reason = why;
      memory.pending[key] = { to, from: ch.priority, cause, at: nowSec, reason: why, tries: 0 };
    };
    if (exhausted.length > 0 || due.length > 0) {
      const why = exhausted.length > 0 ? exhaustedReason(exhausted[0], config) : projectedReason(due[0], config, input.routingDelay);
      if (ch.priority > config.demoted) {
        plan.desired = config.demoted;
        plan.reason = why;
      }
      if (plan.desired === config.demoted) memory.demoted[key] = remembered ?? { at: nowSec, reason: why };
    } else if (def !== null && resetting && ch.priority !== def) {
      const held = reset === 'due' && ch.priority === config.demoted ? heldAtReset(mine, remembered) : null;
      if (held) plan.hold = `nightly reset: kept at demoted, ${held}`;
      else {
        restore(def, 'reset', `${reset === 'due' ? 'nightly reset' : 'reset'}: default priority restored` + renewedNote(mine));
        delete memory.demoted[key];
      }
    } else if (def !== null && resetting) {
      delete memory.demoted[key];
    } else if (retry) {
      plan.desired = retry.to;
      plan.reason = `${retry.reason} (again: ${retry.tries} earlier write${retry.tries === 1 ? '' : 's'} not shown by OneAPI)`;
      memory.pending[key] = retry;
    } else if (def !== null && ch.priority === config.demoted && ch.priority !== def && mine.length > 0) {
      const why = restoreCause(mine, input.memory, remembered, reset);
      if (why) {
        restore(def, 'renewed', `free quota renewed${renewedNote(mine, ': ')} (${why})`);
        delete memory.demoted[key];
      }
    } else if (remembered) {
      // Changed by hand since we demoted it: no longer ours to restore.
      delete memory.demoted[key];
    }
    if (ch.status === 3) Object.assign(plan, reenablePlan(ch, mine, input.memory.stopped, config));
    plans.push(plan);
  }

  const warnings: BudgetStatus[] = [];
  const keys = new Set(budgets.map((b) => b.budget.key));
  for (const k of Object.keys(memory.warned)) if (!keys.has(k)) delete memory.warned[k];
  for (const b of budgets) {
    // A budget the provider stopped has its own alert (budget-stopped): "reached 40% of its free tokens" would mislead.
    if ((b.state !== 'warning' && b.state !== 'exhausted') || b.stopped) continue;
    if (memory.warned[b.budget.key] === b.window.start) continue;
    memory.warned[b.budget.key] = b.window.start;
    warnings.push(b);
  }
  for (const b of budgets) memory.windows[b.budget.key] = b.window.start;
  const stranded = strandedChannels(config, resolution, channels, memory.refs);
  return { budgets, channels: plans, warnings, reset, memory, stranded, nextCheckAt: nextCheck(budgets, plans, config, nowMs) };
}

/**
 * Why the scheduled reset leaves a channel at `demoted`; null to restore it. A budget that quota-pilot demoted in
 * its current window (exhausted, or projected to run out) is not renewed by the clock striking 02:20: only its own
 * window's renewal (rule 3) brings it back. Without that memory (lost state, a demotion by hand) the reset restores.
 */
function heldAtReset(mine: BudgetStatus[], remembered: Memory['demoted'][string] | undefined): string | null {
  if (!remembered) return null;
  const b = mine.find((x) => x.window.start <= remembered.at && remembered.at < x.window.end);
  return b ? `${b.budget.key} was demoted in its current ${b.budget.window} window, which has not renewed (${usageSummary(b)})` : null;
}

/**
 * Channels a config name resolved to before, which it no longer resolves to (renamed, or its name now repeated),
 * found at `demoted`: nobody restores them until the config names them again.
 */
function strandedChannels(config: Config, resolution: Resolution, channels: Channel[], refs: Record<string, number>): Stranded[] {
  const byId = new Map(channels.map((c) => [c.id, c]));
  const out: Stranded[] = [];
  for (const p of resolution.problems) {
    const id = typeof p.ref === 'string' ? refs[p.ref] : undefined;
    const ch = id === undefined ? undefined : byId.get(id);
    if (!ch || ch.priority !== config.demoted || [...resolution.ids.values()].includes(ch.id)) continue;
    out.push({ id: ch.id, name: ch.name, priority: ch.priority, ref: p.ref, budgets: config.budgets.filter((b) => b.channel === p.ref).map((b) => b.key) });
  }
  return out;
}

/**
 * Why a channel found at `demoted`, none of whose budgets is exhausted, gets its default back now; null to leave
 * it. Judged from what is observed plus the windows: the memory of a demotion helps but is not needed.
 */
function restoreCause(mine: BudgetStatus[], memory: Memory, remembered: Memory['demoted'][string] | undefined, reset: ResetMode): string | null {
  if (reset === 'first-run') return 'no state: found at the demoted priority with quota available';
  const renewed = mine.find((b) => memory.windows[b.budget.key] !== undefined && b.window.start > memory.windows[b.budget.key]);
  if (renewed) return `its ${renewed.budget.window} window renewed`;
  if (remembered && mine.some((b) => b.window.start > remembered.at)) return 'renewed since quota-pilot demoted it';
  return null;
}

/** "budget projected to run out: projected to reach 1,900,000 at 22:53:10 (at 1,234 tokens/s); routing delay 60 s; …" */
function projectedReason(b: BudgetStatus, config: Config, delay: DelayInUse | undefined): string {
  const p = b.projection!;
  const at = DateTime.fromSeconds(p.reachesAt!, { zone: config.timezone }).toFormat('HH:mm:ss');
  const rate = `${num(Math.round(p.rate))} tokens/s${p.latest > p.steady ? ', recent burst' : ''}`;
  const lasting = p.elapsedSec >= 1 ? `; requests last ${Math.round(p.elapsedSec)} s` : '';
  const routing = delay?.source === 'measured' ? `${delay.sec} s, ${delay.text}` : `${delay?.sec ?? config.routingDelaySec} s`;
  return `budget projected to run out: projected to reach ${num(b.budget.freeTokens)} at ${at} (at ${rate}); routing delay ${routing}${lasting}; ${usageSummary(b)}`;
}

/** The earliest look a budget on a channel still routed to needs, not sooner than MIN_CHECK_SEC from now. */
function nextCheck(budgets: BudgetStatus[], plans: ChannelPlan[], config: Config, nowMs: number): number | null {
  const routed = new Set(plans.filter((p) => p.desired > config.demoted).map((p) => p.id));
  const looks = budgets.flatMap((b) => {
    const at = lookAt(b.projection?.demoteBy ?? null, nowMs / 1000);
    return at !== null && b.channelId !== null && routed.has(b.channelId) ? [at] : [];
  });
  if (looks.length === 0) return null;
  return Math.max(Math.min(...looks), nowMs / 1000 + MIN_CHECK_SEC);
}

function renewedNote(mine: BudgetStatus[], lead = '; '): string {
  if (mine.length === 0) return '';
  return lead + mine.map((b) => `${b.budget.key} at ${usageSummary(b)}`).join('; ');
}
