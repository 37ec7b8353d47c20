import { stat } from 'node:fs/promises';
import { DateTime } from 'luxon';
import type { State } from '../reconcile/state.js';
import { reportFromState } from '../report/from-state.js';
import type { DailyReport } from '../report/daily.js';
import type { StateStore } from '../state/store.js';
import { dashboardReport, type DashboardDeps } from './routes.js';

/** Which file is at `path` now: inode, size and mtime; null when there is none. */
async function fileVersion(path: string): Promise<string | null> {
  const s = await stat(path, { bigint: true }).catch(() => null);
  return s && `${s.ino}:${s.size}:${s.mtimeNs}`;
}

/**
 * The daemon's daily totals for /metrics (the dashboard's 7-day report), made when a scrape asks for them and kept
 * while the state file, the config and the local day stay the same: a daemon that nobody scrapes never makes them,
 * and one scraped more often than it polls makes them once per cycle. They were made after every cycle, by reading
 * and checking the whole state file a second time: with 2,000 budgets that cost as much CPU as the cycle's own read.
 * Now the state a cycle saved is used as it is, as long as the file is still the one that save wrote; a file written
 * since (an operator's `once` or `reset`) is read as the page reads it.
 */
export class ScrapedDays {
  private saved: { state: State; version: string } | null = null;
  private made: { key: string; config: object; until: number; report: DailyReport } | null = null;

  constructor(
    private readonly board: DashboardDeps,
    private readonly days = 7,
  ) {}

  /**
   * The store for the cycles: the same store, remembering each state it saves with the file's version right after
   * (the cycle still holds the state lock then, so no other writer can come between).
   */
  tap(store: StateStore<State>): StateStore<State> {
    return {
      ...store,
      save: async (state) => {
        this.saved = null;
        await store.save(state);
        const version = await fileVersion(store.path);
        // The report reads the buckets and the channel names; the pace, most of the state, is not kept alive.
        if (version) this.saved = { state: { ...state, pace: {} }, version };
      },
    };
  }

  /** The report, made again only when the state file, the channels listed, the config or the local day changed. */
  async report(): Promise<DailyReport> {
    const { board } = this;
    const config = board.config();
    const nowMs = board.now();
    const version = await fileVersion(board.store.path);
    const key = `${version}|${board.watch.listings}`;
    // A reload replaces the config object, so the same object is the same config.
    const made = this.made;
    if (made && made.key === key && made.config === config && nowMs < made.until) return made.report;
    const saved = this.saved && this.saved.version === version ? this.saved.state : null;
    const report = saved ? reportFromState(config, saved, board.watch.listed(), nowMs, this.days) : await dashboardReport(board, this.days);
    const until = DateTime.fromMillis(nowMs, { zone: config.timezone }).startOf('day').plus({ days: 1 }).toMillis();
    this.made = { key, config, until, report };
    return report;
  }
}
