import { existsSync } from 'node:fs';
import type { Config } from '../config/types.js';
import type { Flavor } from '../oneapi/types.js';
import { statusReport, type StatusReport } from '../cli/status-report.js';
import { reportFromState } from '../report/from-state.js';
import type { DailyReport } from '../report/daily.js';
import type { State } from '../reconcile/state.js';
import type { StateStore } from '../state/store.js';
import { renderPage } from './page.js';
import type { CycleWatch } from './watch.js';

/** What the dashboard reads: the running config, the state file, what the cycles saw, the health verdict. */
export interface DashboardDeps {
  config: () => Config;
  flavor: Flavor;
  store: StateStore<State>;
  watch: CycleWatch;
  health: () => { ok: boolean; body: Record<string, unknown> };
  now: () => number;
  /** When the daemon started, ms. */
  startedAt: number;
  /** Seconds between the page's own reloads. */
  refreshSec?: number;
}

/** One answer of the HTTP server. */
export interface Reply {
  status: number;
  type: string;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** The same object `status --json` prints, from the state file and the channels the last cycle listed. */
export async function dashboardStatus(d: DashboardDeps): Promise<StatusReport> {
  const exists = existsSync(d.store.path);
  const state = await d.store.peek();
  return statusReport(d.config(), state, d.watch.live(), d.now(), d.flavor, { path: d.store.path, exists });
}

/** The same object `report --json --days N` prints. */
export async function dashboardReport(d: DashboardDeps, days: number): Promise<DailyReport> {
  return reportFromState(d.config(), await d.store.peek(), d.watch.listed(), d.now(), days);
}

/**
 * GET / (the page), /api/status and /api/report?days=N (1 to 40, default 7). Read-only; a page view sends no
 * request to OneAPI. Returns undefined for any other path, for the server's 404.
 */
export function dashboardRoutes(d: DashboardDeps): (url: URL) => Promise<Reply | undefined> {
  return async (url) => {
    if (url.pathname === '/api/status') return json(200, await dashboardStatus(d));
    if (url.pathname === '/api/report') {
      const raw = url.searchParams.get('days') ?? '7';
      const days = Number(raw);
      if (!/^\d+$/.test(raw) || days < 1 || days > 40) return json(400, { error: `days must be a whole number from 1 to 40 (got "${raw}")` });
      return json(200, await dashboardReport(d, days));
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const [status, report] = await Promise.all([dashboardStatus(d), dashboardReport(d, 7)]);
      const body = renderPage({
        status,
        report,
        config: d.config(),
        changes: d.watch.changes(),
        alerts: d.watch.alerts(),
        health: d.health(),
        since: Math.floor(d.startedAt / 1000),
        nowMs: d.now(),
        refreshSec: d.refreshSec ?? 30,
      });
      return { status: 200, type: 'text/html; charset=utf-8', body };
    }
    return undefined;
  };
}

// Indented like `status --json` and `report --json`, so the two can be compared by eye.
const json = (status: number, body: unknown): Reply => ({ status, type: JSON_TYPE, body: JSON.stringify(body, null, 2) + '\n' });
