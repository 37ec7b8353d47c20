import type { LockBlocked } from '../schedule/lock-episode.js';

/** What the health check needs to know about the daemon; all times in ms since the epoch. */
export interface HealthInput {
  lastCycle: { at: number; ok: boolean; error?: string } | null;
  consecutiveFailures: number;
  lastSuccessAt: number | null;
  startedAt: number;
  nowMs: number;
  /** Failed cycles in a row that make the daemon unhealthy (N, 3 by default in the daemon). */
  failThreshold: number;
  /** No successful cycle for this long (since start, before the first) is unhealthy too: a cycle stuck or crawling. */
  staleAfterMs: number;
  /** Set while the daemon has waited longer than its poll interval for the state lock. */
  stateLock?: LockBlocked | null;
  /** Budgets whose channel name does not resolve: not enforced. */
  unresolved?: string[];
}

export type HealthStatus = 'starting' | 'ok' | 'degraded' | 'failing' | 'stale' | 'locked';

/** How old the last success may be: a few poll intervals, and never less than 5 minutes (a 429 back-off lasts 3.5). */
export function staleAfterMs(intervalSec: number): number {
  return Math.max(3 * intervalSec, 300) * 1000;
}

/** The default number of failed cycles in a row after which /healthz answers 503. */
export const DEFAULT_FAIL_THRESHOLD = 3;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Pure health verdict for /healthz: ok before the first cycle (starting) and while cycles succeed; not ok once the
 * last `failThreshold` cycles have all failed (a single failed cycle, OneAPI restarting, is not worth a page), or once
 * the last success (or the start) is older than `staleAfterMs`: a daemon whose cycles never finish protects nothing.
 * Waiting longer than the poll interval for the state lock is not ok either (locked), with who holds it: it says
 * why no cycle runs better than failing or stale would. Cycles that run but leave a budget unenforced (its channel
 * name does not resolve) are degraded, not ok: money is at stake, and the body names the budgets.
 */
export function healthOf(s: HealthInput): { ok: boolean; body: Record<string, unknown> } {
  const threshold = Math.max(1, s.failThreshold);
  const stale = s.nowMs - (s.lastSuccessAt ?? s.startedAt) > s.staleAfterMs;
  const lock = s.stateLock ?? null;
  const unresolved = s.unresolved ?? [];
  const status: HealthStatus =
    lock !== null
      ? 'locked'
      : s.lastCycle !== null && s.consecutiveFailures >= threshold
        ? 'failing'
        : stale
          ? 'stale'
          : unresolved.length > 0
            ? 'degraded'
            : s.lastCycle === null
              ? 'starting'
              : 'ok';
  const body: Record<string, unknown> = {
    status,
    uptimeSeconds: Math.max(0, Math.floor((s.nowMs - s.startedAt) / 1000)),
    lastCycleAt: iso(s.lastCycle?.at ?? null),
    lastCycleOk: s.lastCycle?.ok ?? null,
    lastSuccessAt: iso(s.lastSuccessAt),
    consecutiveFailures: s.consecutiveFailures,
    failThreshold: threshold,
    staleAfterSeconds: Math.round(s.staleAfterMs / 1000),
    lastError: s.lastCycle && !s.lastCycle.ok ? (s.lastCycle.error ?? 'unknown error') : null,
  };
  if (unresolved.length > 0) body.unresolved = unresolved;
  if (lock !== null)
    body.stateLock = { holder: lock.holder && { ...lock.holder, since: iso(lock.holder.since) }, waitingSince: iso(lock.waitingSince) };
  return { ok: status === 'ok' || status === 'starting', body };
}
