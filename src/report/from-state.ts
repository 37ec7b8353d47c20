import type { Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import { resolveRefs } from '../policy/resolve.js';
import { rememberedChannels, type State } from '../reconcile/state.js';
import { dailyReport, type DailyReport } from './daily.js';

/**
 * The daily report from the state file's aggregates, with channels named and budgets resolved through `channels`
 * (as OneAPI lists them), or, when those are unknown, through the names the last cycle saw. One function for
 * `report --json` and the dashboard's /api/report, so both give the same JSON.
 */
export function reportFromState(config: Config, state: State, channels: Channel[] | undefined, nowMs: number, days: number): DailyReport {
  const known = channels ?? rememberedChannels(state);
  return dailyReport({
    config,
    buckets: state.usage.buckets,
    channelIds: resolveRefs(config, known).ids,
    channelNames: new Map(known.map((c) => [c.id, c.name])),
    nowMs,
    days,
  });
}
