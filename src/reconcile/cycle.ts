import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { detectEvents } from '../events/detect.js';
import type { AlertEvent } from '../events/types.js';
import type { Flavor, OneApiClient } from '../oneapi/types.js';
import { usageSummary, type Decision } from '../policy/decide.js';
import { resolveRefs, type RefProblem } from '../policy/resolve.js';
import { delayDisagreement, delayInUse, measureDelays, type DelayInUse } from '../policy/routing-delay.js';
import { pendingResets, settleWrites, type Memory, type ResetProgress } from '../policy/memory.js';
import type { StateStore } from '../state/store.js';
import { recordPace } from '../usage/burn.js';
import type { LogDb } from '../usage/db/connect.js';
import { DEFAULT_INGEST, ingest, type IngestInput, type IngestStats, type UsageState } from '../usage/ingest.js';
import { calendarSnapshot, formatLocal, restoreCalendar } from '../usage/windows.js';
import { applyChanges, applyEnables, type ApplyResult, type Change, type Enable } from './apply.js';
import { StateSaveError } from './errors.js';
import { makePlan } from './plan.js';
import type { State } from './state.js';

export interface CycleDeps {
  client: OneApiClient;
  flavor: Flavor;
  config: Config;
  store: StateStore<State>;
  log: Logger;
  /** OneAPI's log database, for usage.source: database (opened on first use). */
  logDb?: () => Promise<LogDb>;
}

export interface CycleOptions {
  nowMs: number;
  /** Plan and report, write nothing to OneAPI, remember nothing of the plan. */
  dryRun?: boolean;
  /** Run the nightly reset now. */
  forceReset?: boolean;
  /** Use this memory instead of the stored one (a dry-run daemon keeps its own). */
  memory?: Memory;
  /** Who takes the state lock ("run", "once", "reset") and how long to wait for another writer's cycle. */
  lock?: { command: string; waitMs: number };
}

export interface CycleResult {
  ok: boolean;
  error?: Error;
  decision?: Decision;
  problems: RefProblem[];
  /** References resolved with a caveat (a repeated name kept on its remembered channel). */
  notes: RefProblem[];
  changes: Change[];
  applied: Change[];
  failed: ApplyResult['failed'];
  /** Auto-disabled channels planned to be enabled again, and those OneAPI confirmed enabled. */
  enables: Enable[];
  enabled: Enable[];
  enableFailed: Array<{ enable: Enable; error: Error }>;
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
  /** The routing delay this cycle planned with, and where it came from. */
  routingDelay?: DelayInUse;
}

/**
 * One level-triggered pass: read every channel and the new logs, decide from scratch, write only differences.
 * Nothing is written unless every read succeeded and the state was saved first. One writer at a time: the
 * cycle holds the state dir's lock from load to save (a dry run neither locks nor saves: it writes nothing).
 * Throws StateLockedError when another writer holds the lock for longer than `lock.waitMs`.
 */
export async function runCycle(deps: CycleDeps, opts: CycleOptions): Promise<CycleResult> {
  if (opts.dryRun) return cycleLocked(deps, opts);
  let release: () => Promise<void>;
  const waitStarted = Date.now();
  try {
    release = await deps.store.lock(opts.lock?.command ?? 'cycle', opts.lock?.waitMs ?? 60_000);
  } catch (err) {
    if ((err as Error).name === 'StateLockedError') throw err;
    throw new StateSaveError(deps.store.dir, err as Error);
  }
  try {
    // Time spent waiting for another writer's cycle moves "now" on with it.
    return await cycleLocked(deps, { ...opts, nowMs: opts.nowMs + (Date.now() - waitStarted) });
  } finally {
    await release();
  }
}

const nowSecOf = (ms: number) => Math.floor(ms / 1000);

async function cycleLocked(deps: CycleDeps, opts: CycleOptions): Promise<CycleResult> {
  const { client, config, store, log } = deps;
  const started = Date.now();
  const requestsBefore = client.requestCount;
  const throttledBefore = client.throttledMs;
  const state = await store.load();
  restoreCalendar(state.calendar);
  const memory = opts.memory ?? state.memory;
  const result: CycleResult = { ok: false, problems: [], notes: [], changes: [], applied: [], failed: [], enables: [], enabled: [], enableFailed: [], fetched: 0, requests: 0, throttledMs: 0, durationMs: 0, memory, events: [] };
  try {
    const channels = await client.listChannels();
    state.channelNames = {};
    for (const c of channels) state.channelNames[c.id] = c.name;
    const resolution = resolveRefs(config, channels, memory.refs);
    const named = [...new Set(resolution.ids.values())].sort((a, b) => a - b);
    const input = { client, flavor: deps.flavor, config, channels: named, refIds: resolution.ids, nowMs: opts.nowMs, log };
    const read = config.usageSource === 'database' ? await readDb(state.usage, input, deps) : await ingest(state.usage, input);
    state.usage = read.usage;
    result.fetched = read.stats.counted;
    result.ingest = read.stats;
    const { rejected, coldChannels, ...readStats } = read.stats;
    log.debug({ ...readStats, rejected: Object.keys(rejected).length ? rejected : undefined, coldChannels: coldChannels.length ? coldChannels : undefined, watermark: read.usage.watermark }, 'usage read');

    // The demotions of earlier cycles that the rows now settle are measured before this cycle plans with the delay.
    const baseUrl = client.baseUrl ?? '';
    state.routing = measureDelays(state.routing, { baseUrl, memory, timeline: read.usage.timeline, readEnd: read.usage.watermark });
    const routingDelay = delayInUse(config, state.routing.instances[baseUrl], deps.flavor);
    result.routingDelay = routingDelay;
    const plan = makePlan({ config, channels, resolution, buckets: read.usage.buckets, pace: state.pace, timeline: read.usage.timeline, routingDelay, usageAsOf: read.usage.watermark, nowMs: opts.nowMs, memory, forceReset: opts.forceReset });
    const { decision } = plan;
    result.problems = plan.problems;
    result.notes = resolution.notes ?? [];
    result.decision = decision;
    // Samples are stamped with the instant their use is counted to, so rates are not skewed by the read lag.
    state.pace = recordPace(state.pace, decision.budgets, (read.usage.watermark ?? opts.nowMs / 1000) * 1000);
    for (const c of decision.stranded)
      log.error({ channel: c.id, name: c.name, priority: c.priority, ref: c.ref, budgets: c.budgets }, 'channel left at demoted: its config name no longer resolves, so nothing restores it');
    for (const b of decision.warnings)
      log.warn({ budget: b.budget.key, channel: b.channelId, used: b.used, free: b.budget.freeTokens, ratio: round(b.ratio), state: b.state, reason: usageSummary(b) }, 'budget warning');
    result.changes = plan.changes;
    result.enables = plan.enables;

    if (opts.dryRun) {
      for (const c of result.changes) log.info({ channel: c.id, name: c.name, from: c.from, to: c.to, reason: c.reason, dryRun: true }, 'priority change planned');
      for (const e of result.enables) log.info({ channel: e.id, name: e.name, reason: e.reason, dryRun: true }, 'channel enable planned');
      // A dry run writes nothing, so it has no restore in flight: each is planned (and logged) once, not every cycle.
      result.memory = { ...decision.memory, pending: {} };
      result.ok = true;
    } else {
      // Save before writing (write-ahead): the restores about to be written are recorded as pending, so a crash
      // between here and OneAPI showing them is finished by the next start; and a write whose memory (the reset
      // begun, the demotion) cannot be kept would be repeated every cycle, overriding whatever an operator does
      // meanwhile. With nothing to write, the save at the end is the only one.
      if (result.changes.length > 0 || result.enables.length > 0) {
        try {
          await store.save({ ...state, memory: decision.memory });
        } catch (err) {
          throw new StateSaveError(store.path, err as Error);
        }
      }
      const applied = await applyChanges(client, result.changes, log);
      result.applied = applied.applied;
      result.failed = applied.failed;
      // Priorities first: a channel enabled again comes back at the priority the rules give it.
      const enabled = await applyEnables(client, result.enables, log);
      result.enabled = enabled.applied;
      result.enableFailed = enabled.failed;
      result.ok = applied.failed.length === 0 && enabled.failed.length === 0;
      // What OneAPI confirmed is done; a restore that did not land stays recorded and is redone alone next cycle.
      state.memory = settleWrites(decision.memory, applied.applied, applied.failed.map((f) => f.change));
      result.memory = state.memory;
      const reset = resetProgress(decision, memory, state.memory);
      logReset(log, config, decision, reset, result.applied);
      const detected = detectEvents({ config: { ...config, routingDelaySec: routingDelay.sec }, decision, applied: result.applied, nowMs: opts.nowMs, memory: state.alerts, pace: state.pace, reset, unresolved: resolution.problems, enabled: result.enabled });
      const disagreed = delayDisagreement(routingDelay, state.routing, nowSecOf(opts.nowMs));
      state.routing = disagreed.log;
      result.events = [...detected.events, ...disagreed.events];
      for (const e of disagreed.events) log.warn(e.fields, 'measured routing delay disagrees with routing_delay');
      for (const e of detected.events) if (e.kind === 'demotion-unmoved') log.error({ ...e.fields, detail: e.text }, 'demotion did not move the traffic');
      state.alerts = detected.memory;
      if (applied.failed.length > 0) result.error = new Error(`${applied.failed.length} of ${result.changes.length} priority changes failed`);
      else if (enabled.failed.length > 0) result.error = new Error(`${enabled.failed.length} of ${result.enables.length} channel enables failed`);
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
  if (opts.dryRun) return result;
  state.calendar = calendarSnapshot(nowSec - CALENDAR_KEEP_SEC);
  try {
    await store.save(state);
  } catch (err) {
    const e = result.error instanceof StateSaveError ? result.error : new StateSaveError(store.path, err as Error);
    if (!(result.error instanceof StateSaveError) && result.applied.length > 0)
      e.message = `state cannot be saved to ${store.path} (${(err as Error).message}) after ${result.applied.length} priority write(s); the next cycle re-reads them from OneAPI`;
    log.error({ err, path: store.path }, 'state save failed');
    result.ok = false;
    result.error = e;
  }
  return result;
}

/** The database source, loaded on first use (the query builder and drivers are heavy to load for API users). */
async function readDb(usage: UsageState, input: IngestInput, deps: CycleDeps) {
  if (!deps.logDb) throw new Error('usage.source is database, but this command was started without ONEAPI_DB_URL: restart it');
  const { ingestFromDb } = await import('../usage/db/ingest-db.js');
  return ingestFromDb(usage, { ...input, db: await deps.logDb() });
}

function resetProgress(d: Decision, before: Memory, after: Memory): ResetProgress {
  return { began: d.reset === 'due' || d.reset === 'forced', before: pendingResets(before), left: pendingResets(after) };
}

function logReset(log: Logger, config: Config, d: Decision, reset: ResetProgress, applied: Change[]): void {
  if (d.reset === 'first-run')
    log.info({ lastResetAt: d.memory.lastResetAt, at: config.reset.at, timezone: config.reset.timezone }, 'first run: counting the last nightly reset as done');
  if (!reset.began && (reset.before === 0 || reset.left > 0)) return;
  const stillDemoted = d.channels.filter((c) => c.desired === config.demoted && c.default !== config.demoted).map((c) => c.id);
  const fields = { restored: applied.filter((c) => c.to !== config.demoted).map((c) => c.id), stillDemoted, scheduled: d.reset === 'due' || undefined, at: formatLocal(d.memory.lastResetAt!, config.reset.timezone) };
  if (reset.left > 0) log.warn({ ...fields, pending: reset.left }, 'nightly reset incomplete: restores not shown by OneAPI are retried alone');
  else log.info({ ...fields, retried: !reset.began || undefined }, 'nightly reset done');
}

/** Windows are kept as long as the retention cut-off can ask for them, plus a day. */
const CALENDAR_KEEP_SEC = (DEFAULT_INGEST.retentionDays + 1) * 86_400;
const round = (x: number) => Math.round(x * 1000) / 1000;
