import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { detectEvents } from '../events/detect.js';
import type { AlertEvent } from '../events/types.js';
import type { Flavor, OneApiClient } from '../oneapi/types.js';
import { decide, usageSummary, type Decision } from '../policy/decide.js';
import { resolveRefs, type RefProblem } from '../policy/resolve.js';
import type { Memory, State, StateStore } from '../state/store.js';
import { recordPace } from '../usage/burn.js';
import { ingest, type IngestStats } from '../usage/ingest.js';
import { formatLocal } from '../usage/windows.js';
import { applyChanges, diff, type ApplyResult, type Change } from './apply.js';

export interface CycleDeps {
  client: OneApiClient;
  flavor: Flavor;
  config: Config;
  store: StateStore;
  log: Logger;
}

export interface CycleOptions {
  nowMs: number;
  /** Plan and report, write nothing to OneAPI, remember nothing of the plan. */
  dryRun?: boolean;
  /** Run the nightly reset now. */
  forceReset?: boolean;
  /** Use this memory instead of the stored one (a dry-run daemon keeps its own). */
  memory?: Memory;
}

export interface CycleResult {
  ok: boolean;
  error?: Error;
  decision?: Decision;
  problems: RefProblem[];
  changes: Change[];
  applied: Change[];
  failed: ApplyResult['failed'];
  /** Log rows counted this cycle. */
  fetched: number;
  /** How the usage read went (absent when the cycle failed before or during it). */
  ingest?: IngestStats;
  /** ms spent waiting for the rate limiter this cycle. */
  throttledMs: number;
  /** HTTP requests this cycle. */
  requests: number;
  durationMs: number;
  /** The memory after this cycle (for a dry-run daemon, the memory it would have). */
  memory: Memory;
  /** What to alert about (never in a dry run). */
  events: AlertEvent[];
}

/**
 * One level-triggered pass: read every channel and the new logs, decide from scratch, write only differences.
 * Nothing is written unless every read succeeded.
 */
export async function runCycle(deps: CycleDeps, opts: CycleOptions): Promise<CycleResult> {
  const { client, config, store, log } = deps;
  const started = Date.now();
  const requestsBefore = client.requestCount;
  const throttledBefore = client.throttledMs;
  const state = await store.load();
  const memory = opts.memory ?? state.memory;
  const result: CycleResult = { ok: false, problems: [], changes: [], applied: [], failed: [], fetched: 0, requests: 0, throttledMs: 0, durationMs: 0, memory, events: [] };
  try {
    const channels = await client.listChannels();
    state.channelNames = Object.fromEntries(channels.map((c) => [c.id, c.name]));
    const resolution = resolveRefs(config, channels);
    result.problems = resolution.problems;
    const named = [...new Set(resolution.ids.values())].sort((a, b) => a - b);
    const read = await ingest(state.usage, { client, flavor: deps.flavor, config, channels: named, nowMs: opts.nowMs, log });
    state.usage = read.usage;
    result.fetched = read.stats.counted;
    result.ingest = read.stats;
    const { rejected, coldChannels, ...readStats } = read.stats;
    log.debug({ ...readStats, rejected: Object.keys(rejected).length ? rejected : undefined, coldChannels: coldChannels.length ? coldChannels : undefined, watermark: read.usage.watermark }, 'usage read');

    const decision = decide({ config, resolution, channels, buckets: read.usage.buckets, nowMs: opts.nowMs, memory, forceReset: opts.forceReset });
    result.decision = decision;
    state.pace = recordPace(state.pace, decision.budgets, opts.nowMs);
    for (const b of decision.warnings)
      log.warn({ budget: b.budget.key, channel: b.channelId, used: b.used, free: b.budget.freeTokens, ratio: round(b.ratio), state: b.state, reason: usageSummary(b) }, 'budget warning');
    result.changes = diff(decision.channels);

    if (opts.dryRun) {
      for (const c of result.changes) log.info({ channel: c.id, name: c.name, from: c.from, to: c.to, reason: c.reason, dryRun: true }, 'priority change planned');
      result.memory = decision.memory;
      result.ok = true;
    } else {
      const applied = await applyChanges(client, result.changes, log);
      result.applied = applied.applied;
      result.failed = applied.failed;
      result.ok = applied.failed.length === 0;
      // A reset that did not fully land is retried next cycle: keep the old reset time.
      state.memory = result.ok ? decision.memory : { ...decision.memory, lastResetAt: memory.lastResetAt };
      result.memory = state.memory;
      if (result.ok) logReset(log, config, decision, result.applied);
      const detected = detectEvents({ config, decision, applied: result.applied, nowMs: opts.nowMs, memory: state.alerts, pace: state.pace });
      result.events = detected.events;
      state.alerts = detected.memory;
      if (!result.ok) result.error = new Error(`${applied.failed.length} of ${result.changes.length} priority changes failed`);
    }
  } catch (err) {
    result.error = err as Error;
  }
  result.requests = client.requestCount - requestsBefore;
  result.throttledMs = client.throttledMs - throttledBefore;
  result.durationMs = Date.now() - started;
  const nowSec = Math.floor(opts.nowMs / 1000);
  state.lastCycle = { at: nowSec, ok: result.ok, durationMs: result.durationMs, changes: result.applied.length, error: result.error?.message };
  if (result.ok) state.lastSuccessAt = nowSec;
  await saveQuietly(store, state, log);
  return result;
}

function logReset(log: Logger, config: Config, d: Decision, applied: Change[]): void {
  if (d.reset === 'first-run')
    log.info({ lastResetAt: d.memory.lastResetAt, at: config.reset.at, timezone: config.reset.timezone }, 'first run: counting the last nightly reset as done');
  if (d.reset !== 'due' && d.reset !== 'forced') return;
  const stillDemoted = d.channels.filter((c) => c.desired === config.demoted && c.default !== config.demoted).map((c) => c.id);
  log.info(
    { restored: applied.filter((c) => c.to !== config.demoted).map((c) => c.id), stillDemoted, scheduled: d.reset === 'due', at: formatLocal(d.memory.lastResetAt!, config.reset.timezone) },
    'nightly reset done',
  );
}

async function saveQuietly(store: StateStore, state: State, log: Logger): Promise<void> {
  try {
    await store.save(state);
  } catch (err) {
    log.error({ err, path: store.path }, 'state save failed');
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
