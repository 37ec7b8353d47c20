import type { AlertEvent } from '../events/types.js';
import type { LockOwner } from '../state/lock.js';

/** The daemon cannot get the state lock: who holds it and since when it has been waiting (unix ms). */
export interface LockBlocked {
  holder: LockOwner | null;
  waitingSince: number;
}

/** Who holds it, in words: "quota-pilot run (pid 12 on box, since 2026-…)". */
export function describeHolder(holder: LockOwner | null): string {
  if (holder === null) return 'a process whose lock file does not parse';
  return `quota-pilot ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${new Date(holder.since).toISOString()})`;
}

/**
 * Follows the daemon's waits for the state lock across cycles: an episode starts at the first blocked poll and
 * ends when the lock is obtained. Once it has lasted longer than `thresholdMs` (the poll interval: a cycle was
 * missed) it is reported, and alerted once. Pure: time comes in as a value.
 */
export class LockEpisode {
  private since: number | null = null;
  private holder: LockOwner | null = null;
  private alerted = false;

  constructor(private readonly thresholdMs: number) {}

  /** A lock wait is blocked by `holder`. Returns the alert due now, once per episode. */
  blocked(holder: LockOwner | null, nowMs: number): AlertEvent | null {
    this.since ??= nowMs;
    this.holder = holder;
    if (this.alerted || nowMs - this.since <= this.thresholdMs) return null;
    this.alerted = true;
    const waitedSec = Math.round((nowMs - this.since) / 1000);
    return {
      kind: 'state-locked',
      severity: 'critical',
      at: Math.floor(nowMs / 1000),
      title: `State dir locked for ${waitedSec} s`,
      text: `The state lock is held by ${describeHolder(holder)}; no cycle runs and no priority is changed until it is released. If that process is not quota-pilot's, stop it or remove state.lock.`,
      fields: { waitedSeconds: waitedSec, waitingSince: Math.floor(this.since / 1000), pid: holder?.pid ?? null, host: holder?.host ?? null, command: holder?.command ?? null, heldSince: holder ? Math.floor(holder.since / 1000) : null },
    };
  }

  /** The lock was obtained: ends the episode. Returns what to log as its recovery when it had been reported. */
  obtained(nowMs: number): { waitedMs: number; holder: LockOwner | null } | null {
    const reported = this.alerted && this.since !== null ? { waitedMs: nowMs - this.since, holder: this.holder } : null;
    this.since = null;
    this.holder = null;
    this.alerted = false;
    return reported;
  }

  /** For /healthz: the episode, once it has lasted longer than the threshold. */
  current(nowMs: number): LockBlocked | null {
    if (this.since === null || nowMs - this.since <= this.thresholdMs) return null;
    return { holder: this.holder, waitingSince: this.since };
  }
}
