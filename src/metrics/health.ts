/** What the health check needs to know about the daemon; all times in ms since the epoch. */
export interface HealthInput {
  lastCycle: { at: number; ok: boolean; error?: string } | null;
  consecutiveFailures: number;
  lastSuccessAt: number | null;
  startedAt: number;
  nowMs: number;
  /** Failed cycles in a row that make the daemon unhealthy (N, 3 by default in the daemon). */
  failThreshold: number;
}

export type HealthStatus = 'starting' | 'ok' | 'failing';

/** The default number of failed cycles in a row after which /healthz answers 503. */
export const DEFAULT_FAIL_THRESHOLD = 3;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Pure health verdict for /healthz: ok before the first cycle (starting) and while cycles succeed; not ok once the
 * last `failThreshold` cycles have all failed. A single failed cycle (OneAPI restarting) is not worth a page.
 */
export function healthOf(s: HealthInput): { ok: boolean; body: Record<string, unknown> } {
  const threshold = Math.max(1, s.failThreshold);
  const status: HealthStatus = s.lastCycle === null ? 'starting' : s.consecutiveFailures >= threshold ? 'failing' : 'ok';
  const body: Record<string, unknown> = {
    status,
    uptimeSeconds: Math.max(0, Math.floor((s.nowMs - s.startedAt) / 1000)),
    lastCycleAt: iso(s.lastCycle?.at ?? null),
    lastCycleOk: s.lastCycle?.ok ?? null,
    lastSuccessAt: iso(s.lastSuccessAt),
    consecutiveFailures: s.consecutiveFailures,
    failThreshold: threshold,
    lastError: s.lastCycle && !s.lastCycle.ok ? (s.lastCycle.error ?? 'unknown error') : null,
  };
  return { ok: status !== 'failing', body };
}
