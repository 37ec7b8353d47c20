import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { formatIssue, type Config } from '../config/types.js';
import { OutageTracker } from '../events/outage.js';
import type { AlertEvent } from '../events/types.js';
import type { LoadedConfig } from '../config/load.js';
import type { Flavor, OneApiClient } from '../oneapi/types.js';
import type { Clock } from '../platform/clock.js';
import { formatRefProblem } from '../policy/resolve.js';
import { runCycle, type CycleResult } from '../reconcile/cycle.js';
import type { Memory } from '../policy/memory.js';
import type { State } from '../reconcile/state.js';
import { StateLockedError, type LockOwner } from '../state/lock.js';
import type { StateStore } from '../state/store.js';
import { describeHolder, LockEpisode, type LockBlocked } from './lock-episode.js';
import type { LogDb } from '../usage/db/connect.js';
import { nextOccurrence, formatLocal } from '../usage/windows.js';

export interface DaemonDeps {
  client: OneApiClient;
  flavor: Flavor;
  store: StateStore<State>;
  log: Logger;
  clock: Clock;
  config: Config;
  /** Re-reads the YAML files (SIGHUP). */
  reloadConfig: () => Promise<LoadedConfig>;
  intervalSec: number;
  dryRun: boolean;
  onCycle?: (r: CycleResult) => void;
  /** Where alert events go (a webhook notifier); events are produced once each. */
  notify?: (e: AlertEvent) => void;
  /** Minutes of failing cycles before OneAPI is announced unreachable. */
  unreachableMinutes?: number;
  /** OneAPI's log database, for usage.source: database (see CycleDeps). */
  logDb?: () => Promise<LogDb>;
}

/** The daemon's own view of how it is doing, for /healthz. Times in ms. */
export interface DaemonHealth {
  lastCycle: { at: number; ok: boolean; error?: string } | null;
  consecutiveFailures: number;
  lastSuccessAt: number | null;
  /** Set while the daemon has waited longer than its poll interval for the state lock. */
  stateLock: LockBlocked | null;
  /** Budgets not enforced at the last cycle that read the channels: their channel name does not resolve. */
  unresolved: string[];
}

/** Back-off after consecutive failed cycles: 5 s, 10 s, 20 s … up to 5 minutes. */
export function backoffSec(failures: number, intervalSec: number): number {
  if (failures === 0) return intervalSec;
  return Math.min(5 * 2 ** (failures - 1), 300);
}

/**
 * Ms until the next cycle: the poll interval (or the back-off), or sooner when the policy asked to look again
 * before then (a projected demotion falls due between polls). A failing cycle keeps its back-off.
 */
export function nextCycleDelayMs(failures: number, intervalSec: number, nextCheckAt: number | null, nowMs: number): number {
  const poll = backoffSec(failures, intervalSec) * 1000;
  if (failures > 0 || nextCheckAt === null) return poll;
  return Math.max(0, Math.min(poll, Math.ceil(nextCheckAt * 1000 - nowMs)));
}

/**
 * The poll loop and the nightly reset. One cycle at a time: a trigger that arrives while a cycle runs is queued
 * once. The reset itself is decided inside the cycle from the last reset time, so a missed cron run is caught up.
 */
export class Daemon {
  private timer: NodeJS.Timeout | null = null;
  private task: ScheduledTask | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private failures = 0;
  private nextCheckAt: number | null = null;
  private problems = '';
  private dryRunMemory: Memory | undefined;
  private outage: OutageTracker;
  private lockEpisode: LockEpisode;
  // Cancels a wait for the state lock on stop (another process may hold it for minutes).
  private abort = new AbortController();
  private last: Omit<DaemonHealth, 'stateLock'> = { lastCycle: null, consecutiveFailures: 0, lastSuccessAt: null, unresolved: [] };

  constructor(private deps: DaemonDeps) {
    this.outage = new OutageTracker(deps.unreachableMinutes ?? 5);
    this.lockEpisode = new LockEpisode(deps.intervalSec * 1000);
  }

  health(): DaemonHealth {
    return { ...this.last, consecutiveFailures: this.failures, stateLock: this.lockEpisode.current(this.deps.clock.now()) };
  }

  get config(): Config {
    return this.deps.config;
  }

  start(): void {
    this.stopped = false;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.scheduleReset();
    this.trigger();
  }

  /**
   * Stops timers, cancels the cycle's reads in flight (a long backfill must not hold up systemd's stop: nothing is
   * written on a partial read, and the next start goes on from the saved cursor) and a wait for the state lock, and
   * waits for the cycle to save.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort('daemon stopping');
    this.deps.client.close();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.task?.destroy();
    this.task = null;
    await this.running;
  }

  /** Re-reads the config; a bad edit is logged and the running config is kept. */
  async reload(): Promise<boolean> {
    const { log } = this.deps;
    const loaded = await this.deps.reloadConfig();
    const errors = loaded.issues.filter((i) => i.severity === 'error');
    if (!loaded.config || errors.length) {
      log.error({ issues: errors.map(formatIssue), action: 'keeping the running config' }, 'config reload failed');
      return false;
    }
    for (const w of loaded.issues) log.warn({ issue: formatIssue(w) }, 'config warning');
    this.deps.config = loaded.config;
    this.problems = '';
    this.scheduleReset();
    log.info({ budgets: loaded.config.budgets.length, defaults: loaded.config.defaults.length }, 'config reloaded');
    this.trigger();
    return true;
  }

  /** Runs a cycle now, or right after the one in flight. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.cycle().finally(() => {
      this.running = null;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.trigger();
        return;
      }
      this.timer = setTimeout(() => this.trigger(), nextCycleDelayMs(this.failures, this.deps.intervalSec, this.nextCheckAt, this.deps.clock.now()));
    });
  }

  private async cycle(): Promise<void> {
    const { log, clock } = this.deps;
    let result: CycleResult;
    try {
      // Waits for an operator's `once`/`reset` in flight rather than skipping the poll.
      result = await runCycle({ ...this.deps, store: this.lockingStore() }, { nowMs: clock.now(), dryRun: this.deps.dryRun, memory: this.dryRunMemory, lock: { command: 'run', waitMs: 10 * 60_000 } });
    } catch (err) {
      if (err instanceof StateLockedError && err.cancelled) {
        log.info({ holder: err.owner }, 'cycle cancelled while waiting for the state lock: stopping');
        return;
      }
      // runCycle reports OneAPI failures in its result; anything else thrown here is a bug or a disk error.
      if (err instanceof StateLockedError) log.error({ holder: err.owner, error: err.message }, 'state dir locked: cycle skipped');
      else log.error({ err }, 'cycle crashed');
      this.failures++;
      this.last.lastCycle = { at: clock.now(), ok: false, error: (err as Error).message };
      return;
    }
    const nowSec = Math.floor(clock.now() / 1000);
    this.nextCheckAt = result.decision?.nextCheckAt ?? null;
    this.last.lastCycle = { at: clock.now(), ok: result.ok, error: result.error?.message };
    if (result.ok) this.last.lastSuccessAt = clock.now();
    // Kept from the last cycle that read the channels: an outage says nothing new about names.
    if (result.decision) this.last.unresolved = result.decision.budgets.filter((b) => b.state === 'unresolved').map((b) => b.budget.key);
    if (this.deps.dryRun) this.dryRunMemory = result.memory;
    const problems = [...result.problems, ...result.notes].map(formatRefProblem).join('\n');
    if (problems !== this.problems) {
      for (const p of result.problems) log.error({ channel: p.ref, problem: formatRefProblem(p) }, 'channel reference problem');
      for (const p of result.notes) log.warn({ channel: p.ref, problem: formatRefProblem(p) }, 'channel reference kept on its remembered id');
      this.problems = problems;
    }
    if (this.stopped && (result.error as { kind?: string } | undefined)?.kind === 'cancelled') {
      log.info({ durationMs: result.durationMs }, 'cycle cancelled: stopping');
      return;
    }
    const events = [...result.events];
    this.reportSlow(result);
    if (result.ok) {
      events.push(...this.outage.succeeded(nowSec));
      if (this.failures > 0) log.info({ after: this.failures }, 'cycle recovered');
      this.failures = 0;
      log.info(
        { changes: result.changes.length, fetched: result.fetched, requests: result.requests, durationMs: result.durationMs, reset: result.decision?.reset, dryRun: this.deps.dryRun || undefined },
        'cycle done',
      );
    } else {
      this.failures++;
      const e = result.error as (Error & { kind?: string; endpoint?: string; status?: number }) | undefined;
      // A cycle that read everything but could not write every change is not an outage.
      if (!result.decision) events.push(...this.outage.failed({ kind: e?.kind, message: e?.message ?? 'unknown error' }, nowSec));
      log.error(
        { error: e?.message, kind: e?.kind, endpoint: e?.endpoint, status: e?.status, failures: this.failures, retryInSec: backoffSec(this.failures, this.deps.intervalSec) },
        'cycle failed',
      );
    }
    this.deps.onCycle?.(result);
    if (!this.deps.dryRun) for (const ev of events) this.deps.notify?.(ev);
  }

  /** The store the cycles use: its lock waits are cancelled by stop() and followed for /healthz and the alert. */
  private lockingStore(): StateStore<State> {
    const { store, log, clock } = this.deps;
    const blocked = (holder: LockOwner | null) => {
      const event = this.lockEpisode.blocked(holder, clock.now());
      if (!event) return;
      log.error({ holder, waitedSeconds: event.fields.waitedSeconds, who: describeHolder(holder) }, 'state dir locked longer than the poll interval');
      this.deps.notify?.(event);
    };
    return {
      ...store,
      lock: async (command, waitMs) => {
        const release = await store.lock(command, waitMs, { signal: this.abort.signal, onBlocked: blocked });
        const episode = this.lockEpisode.obtained(clock.now());
        if (episode) log.info({ waitedMs: episode.waitedMs, holder: episode.holder }, 'state lock obtained again');
        return release;
      },
    };
  }

  /** A cycle longer than the interval means usage is read late: say so, with what the time went on. */
  private reportSlow(r: CycleResult): void {
    const intervalMs = this.deps.intervalSec * 1000;
    if (r.durationMs <= intervalMs) return;
    const pages = r.ingest?.pages ?? 0;
    const dbMs = r.ingest?.dbMs;
    const cause =
      dbMs !== undefined && dbMs > r.durationMs / 2
        ? `the database's reads took ${dbMs} ms (${pages} queries, ${r.fetched} rows counted)`
        : r.throttledMs > r.durationMs / 2
        ? `waited ${Math.round(r.throttledMs / 1000)} s for the rate cap (ONEAPI_RATE_LIMIT) or OneAPI's 429 back-off`
        : pages > 0 && r.requests > 0
          ? `read ${pages} log pages (${r.fetched} rows counted, ${r.ingest?.mode} mode); OneAPI took ${Math.round(r.durationMs / r.requests)} ms a request`
          : 'OneAPI answered slowly';
    this.deps.log.warn(
      { durationMs: r.durationMs, intervalSec: this.deps.intervalSec, requests: r.requests, pages, throttledMs: r.throttledMs, coldChannels: r.ingest?.coldChannels.length || undefined, cause },
      'cycle slower than the interval',
    );
  }

  private scheduleReset(): void {
    const { log, config, clock } = this.deps;
    void this.task?.destroy();
    const [hour, minute] = config.reset.at.split(':').map(Number);
    const cronLog = {
      info: (m: string) => log.debug({ component: 'cron' }, m),
      warn: (m: string) => log.warn({ component: 'cron', detail: m }, 'scheduler warning'),
      error: (m: string | Error) => log.error({ component: 'cron', detail: String(m) }, 'scheduler error'),
      debug: (m: string | Error) => log.debug({ component: 'cron', detail: String(m) }, 'scheduler debug'),
    };
    this.task = cron.schedule(`${minute} ${hour} * * *`, () => this.trigger(), { timezone: config.reset.timezone, name: 'nightly-reset', logger: cronLog });
    const next = nextOccurrence(config.reset.at, config.reset.timezone, clock.now());
    log.info({ at: config.reset.at, timezone: config.reset.timezone, next: formatLocal(next, config.reset.timezone) }, 'nightly reset scheduled');
  }
}
