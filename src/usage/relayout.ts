import type { Logger } from 'pino';
import type { ChannelRef, Config } from '../config/types.js';
import type { OneApiClient } from '../oneapi/types.js';
import { resolveRefs } from '../policy/resolve.js';
import { layoutFor, layoutSignature } from './buckets.js';
import { localDay, windowsFor } from './windows.js';

/**
 * What a change of bucket layout (a reload that adds or removes a `reset_at`, or changes the time zone) needs
 * recounted. Days are always cut at local midnight, so old buckets keep exact daily totals under any layout of the
 * same zone, and a removed boundary only leaves buckets finer than needed. Only a NEW boundary makes an old bucket
 * straddle a window's start: the channels of the budgets renewing there are recounted, from the local midnight
 * before their window's start (a boundary of every layout, so no old bucket straddles it). A zone change moves
 * every midnight: everything is recounted.
 */
export type RelayoutPlan =
  | { kind: 'same' }
  | { kind: 'all'; reason: string }
  /** LOCAL unix seconds to recount each channel ref from; `added` are the new boundaries, for the log. */
  | { kind: 'some'; from: Map<ChannelRef, number>; added: string[] };

/** Compares the layout the buckets were cut with (its signature) to the one `config` needs (pure). */
export function planRelayout(oldSignature: string, config: Config, nowMs: number): RelayoutPlan {
  const layout = layoutFor(config);
  if (oldSignature === layoutSignature(layout)) return { kind: 'same' };
  const bar = oldSignature.indexOf('|');
  const oldZone = bar < 0 ? '' : oldSignature.slice(0, bar);
  if (oldZone !== layout.timezone) return { kind: 'all', reason: oldZone === '' ? 'no layout recorded' : 'time zone changed' };
  const old = new Set(oldSignature.slice(bar + 1).split(','));
  const added = layout.boundaries.filter((b) => !old.has(b));
  const from = new Map<ChannelRef, number>();
  if (added.length === 0) return { kind: 'some', from, added };
  const windows = windowsFor(config.budgets, config.timezone, nowMs);
  for (const b of config.budgets) {
    if (!added.includes(b.resetAt)) continue;
    const day = localDay(config.timezone, windows.get(b.key)!.start).start;
    from.set(b.channel, Math.min(from.get(b.channel) ?? day, day));
  }
  return { kind: 'some', from, added };
}

/** Config refs to channel ids: numbers are ids; names need one channel list, asked for once and only when needed. */
export function lazyIds(config: Config, client: OneApiClient): () => Promise<ReadonlyMap<ChannelRef, number>> {
  let ids: Promise<ReadonlyMap<ChannelRef, number>> | undefined;
  const numeric = () => new Map(config.budgets.filter((b) => typeof b.channel === 'number').map((b) => [b.channel, b.channel as number]));
  return () =>
    (ids ??= config.budgets.some((b) => typeof b.channel === 'string')
      ? client.listChannels().then((list) => resolveRefs(config, list).ids)
      : Promise.resolve(numeric()));
}

/**
 * Each channel's earliest LOCAL instant needed: the start of its budgets' current windows, and today's start (for
 * reports). Undefined when a budget's channel name does not resolve: then every channel needs what any budget needs.
 */
export function neededByChannel(config: Config, ids: ReadonlyMap<ChannelRef, number>, channels: number[], nowMs: number): Map<number, number> | undefined {
  const today = localDay(config.timezone, nowMs / 1000).start;
  const windows = windowsFor(config.budgets, config.timezone, nowMs);
  const out = new Map(channels.map((c) => [c, today]));
  for (const b of config.budgets) {
    const id = ids.get(b.channel);
    if (id === undefined) return undefined;
    if (out.has(id)) out.set(id, Math.min(out.get(id)!, windows.get(b.key)!.start));
  }
  return out;
}

/**
 * The channel ids a plan recounts, each with the LOCAL instant to recount from; null when everything is recounted.
 * A channel is never recounted from before its first counted instant (`firstCounted`, the cursor's): nothing of it
 * was counted earlier, so the report's older days stay as they were. Logs one line saying what is recounted and why.
 */
export async function recountFor(
  plan: RelayoutPlan,
  io: { ids: () => Promise<ReadonlyMap<ChannelRef, number>>; channels: number[]; firstCounted: Record<string, number> | undefined; log?: Logger; hadBuckets: boolean },
): Promise<Map<number, number> | null> {
  if (plan.kind === 'same') return new Map();
  if (plan.kind === 'all') {
    if (io.hadBuckets) io.log?.info({ channels: io.channels, reason: plan.reason }, 'usage recounted for a new bucket layout');
    return null;
  }
  const ids = plan.from.size > 0 ? await io.ids() : new Map<ChannelRef, number>();
  const out = new Map<number, number>();
  for (const [ref, from] of plan.from) {
    const id = ids.get(ref);
    const first = id === undefined ? undefined : io.firstCounted?.[id];
    // A channel not counted yet is read from scratch anyway (it is "cold").
    if (id === undefined || first === undefined || !io.channels.includes(id)) continue;
    out.set(id, Math.max(from, first));
  }
  if (out.size > 0)
    io.log?.info(
      { channels: [...out.keys()], reason: `reset_at ${plan.added.join(', ')} added` },
      'usage recounted for a new bucket layout',
    );
  return out;
}

/**
 * What each channel needs counted from (LOCAL s): its own budgets' windows and today. Resolving names costs a
 * channel list, so it is asked for only when some channel was first counted after what the whole config needs
 * (after a config change); otherwise, and when a name does not resolve, every channel needs `fromLocal`.
 */
export async function neededFor(
  input: { config: Config; channels: number[]; nowMs: number },
  firstCounted: Record<string, number> | undefined,
  fromLocal: number,
  ids: () => Promise<ReadonlyMap<ChannelRef, number>>,
): Promise<(channel: number) => number> {
  if (!firstCounted || !input.channels.some((c) => (firstCounted[c] ?? -Infinity) > fromLocal)) return () => fromLocal;
  const by = neededByChannel(input.config, await ids(), input.channels, input.nowMs);
  return (c) => by?.get(c) ?? fromLocal;
}
