import type { Config } from '../config/types.js';
import type { AlertEvent } from '../events/types.js';
import { z } from '../platform/zod.js';
import type { Memory } from './memory.js';
import { typicalElapsed, type Series, type Timeline } from '../usage/timeline.js';

/**
 * How long OneAPI takes to route by a priority change, measured from its rows: after quota-pilot demotes a channel,
 * requests keep STARTING on it (created_at − elapsed_time) until OneAPI's routing has moved. The cut-over of one
 * demotion is the last such start after the write, minus the write's time.
 */

/** What is remembered per OneAPI instance (its base URL). */
export interface DelayRecord {
  /** [demoted at (unix s), cut-over (s)] of the recent demotions measured, oldest first. */
  samples: Array<[number, number]>;
  /** Channel id -> the demotion (its `at`) already measured or given up on, so each is measured once. */
  done: Record<string, number>;
  /** The configured delay a disagreeing measurement was last announced for (once per configured value). */
  warnedFor?: number;
}
/** The measurements per OneAPI instance (base URL), and the instance the last cycle spoke to (what `status` shows). */
export interface DelayLog {
  baseUrl?: string;
  instances: Record<string, DelayRecord>;
}

export const emptyDelayLog = (): DelayLog => ({ instances: {} });

/** The routing part of the state file (see DelayLog). */
export const delayLogSchema = z.object({
  baseUrl: z.string().optional(),
  instances: z.record(z.string(), z.object({ samples: z.array(z.tuple([z.number(), z.number()])), done: z.record(z.string(), z.number()), warnedFor: z.number().optional() })),
});

/** The routing delay a cycle uses, and where it came from. */
export interface DelayInUse {
  sec: number;
  source: 'config' | 'measured' | 'flavor default';
  /** The measured delay and over how many demotions (present whenever there are measurements). */
  measured?: { sec: number; demotions: number };
  /** For people: "measured 14 s over 3 demotions", "flavor default (one-api)", "config (routing_delay: 12)". */
  text: string;
}

/** Recent measurements kept per instance; the delay used is a high quantile of them. */
const KEEP = 10;
const QUANTILE = 0.9;
/** A start this much later than the one before it (and than half the cut-over so far) is a straggler. */
const STRAGGLER_SEC = 30;
/** Rows of requests that started before the cut-over are logged when they end: wait this long, or 2 durations. */
const SETTLE_SEC = 60;
/** A demotion whose traffic has not settled by then is not measured (the demotion-unmoved alert covers it). */
const GIVE_UP_SEC = 3600;
/** A measured delay disagrees with the configured one beyond 2× and this many seconds. */
const DISAGREE_SEC = 30;

/** The latest start in `s` after `at`, robust to one straggler; null when none started after `at`. */
export function lastStartAfter(s: Series | undefined, at: number): number | null {
  const [last, prev] = (s?.starts ?? []).filter((x) => x >= at);
  if (last === undefined) return null;
  if (prev === undefined) return last;
  return last - prev > Math.max(STRAGGLER_SEC, 0.5 * (prev - at)) ? prev : last;
}

/** The series of a timeline by channel, and the latest starts of each model on each channel: built once a cycle. */
export class StartIndex {
  readonly byChannel = new Map<number, Array<{ model: string; s: Series }>>();
  private readonly byModel = new Map<string, Array<{ channel: number; latest: number }>>();

  constructor(t: Timeline) {
    for (const key in t.series) {
      const i = key.indexOf(':');
      const channel = Number(key.slice(0, i));
      const model = key.slice(i + 1);
      const s = t.series[key];
      (this.byChannel.get(channel) ?? this.byChannel.set(channel, []).get(channel)!).push({ model, s });
      if (s.starts?.length) (this.byModel.get(model) ?? this.byModel.set(model, []).get(model)!).push({ channel, latest: s.starts[0] });
    }
  }

  /** Whether a channel other than `channel` has a request for `model` that started after `after`. */
  startedElsewhere(model: string, channel: number, after: number): boolean {
    return (this.byModel.get(model) ?? []).some((o) => o.channel !== channel && o.latest > after);
  }
}

/**
 * One demotion's cut-over, once the rows tell it: null while requests may still be starting on the channel (or have
 * not been logged yet), or when no other channel shows the model's traffic since (the traffic may just have stopped).
 * `readEnd` is the LOCAL second up to which rows are read. Pure.
 */
export function cutOver(t: Timeline | StartIndex, channel: number, at: number, readEnd: number): number | null {
  const index = t instanceof StartIndex ? t : new StartIndex(t);
  let cut: number | null = null;
  for (const { model, s } of index.byChannel.get(channel) ?? []) {
    const last = lastStartAfter(s, at) ?? at;
    // Moved: another channel serving the model has a request that started after the last one here.
    if (!index.startedElsewhere(model, channel, last)) continue;
    if (readEnd < last + Math.max(SETTLE_SEC, 2 * typicalElapsed(s))) return null;
    cut = Math.max(cut ?? 0, last - at);
  }
  return cut;
}

/**
 * Measures the demotions quota-pilot made (memory.demoted) that the rows now settle, for the OneAPI at `baseUrl`.
 * A demotion is measured once; one that never settles is given up after an hour. Pure.
 */
export function measureDelays(log: DelayLog, p: { baseUrl: string; memory: Memory; timeline: Timeline | undefined; readEnd: number | null }): DelayLog {
  const old = log.instances[p.baseUrl];
  if (!p.timeline || p.readEnd === null) return { ...log, baseUrl: p.baseUrl };
  const rec: DelayRecord = { samples: [...(old?.samples ?? [])], done: {}, ...(old?.warnedFor !== undefined && { warnedFor: old.warnedFor }) };
  let index: StartIndex | undefined;
  for (const [channel, d] of Object.entries(p.memory.demoted)) {
    if (old?.done[channel] === d.at) {
      rec.done[channel] = d.at;
      continue;
    }
    index ??= new StartIndex(p.timeline);
    const cut = cutOver(index, Number(channel), d.at, p.readEnd);
    if (cut !== null) rec.samples.push([d.at, Math.round(cut * 10) / 10]);
    if (cut !== null || p.readEnd > d.at + GIVE_UP_SEC) rec.done[channel] = d.at;
  }
  rec.samples = rec.samples.slice(-KEEP);
  return { baseUrl: p.baseUrl, instances: { ...log.instances, [p.baseUrl]: rec } };
}

/** The delay to use: the config's number, else a high quantile of the measurements, else the flavor default. Pure. */
export function delayInUse(config: Config, rec: DelayRecord | undefined, flavor: string): DelayInUse {
  const xs = (rec?.samples ?? []).map(([, s]) => s).sort((a, b) => a - b);
  const measured = xs.length > 0 ? { sec: Math.ceil(xs[Math.ceil(QUANTILE * xs.length) - 1]), demotions: xs.length } : undefined;
  const over = measured ? `measured ${measured.sec} s over ${measured.demotions} demotion${measured.demotions === 1 ? '' : 's'}` : '';
  if (!config.routingDelayAuto) return { sec: config.routingDelaySec, source: 'config', ...(measured && { measured }), text: `config (routing_delay: ${config.routingDelaySec})${over ? `; ${over}` : ''}` };
  if (measured) return { sec: measured.sec, source: 'measured', measured, text: over };
  return { sec: config.routingDelaySec, source: 'flavor default', text: `flavor default (${flavor})` };
}

/** Whether a measured delay disagrees with the configured one: more than 2× apart and more than 30 s. Pure. */
export function disagrees(d: DelayInUse): boolean {
  if (d.source !== 'config' || !d.measured) return false;
  const [a, b] = [d.sec, d.measured.sec].sort((x, y) => x - y);
  return b - a > DISAGREE_SEC && b > 2 * a;
}

/**
 * The warning and alert, once per configured value, when the measured delay disagrees with routing_delay (see
 * disagrees). Pure.
 */
export function delayDisagreement(d: DelayInUse, log: DelayLog, at: number): { log: DelayLog; events: AlertEvent[] } {
  const rec = log.baseUrl === undefined ? undefined : log.instances[log.baseUrl];
  if (!rec || !d.measured || !disagrees(d) || rec.warnedFor === d.sec) return { log, events: [] };
  const event: AlertEvent = {
    kind: 'routing-delay-disagrees',
    severity: 'warning',
    title: `routing_delay ${d.sec} s, measured ${d.measured.sec} s`,
    text:
      `OneAPI took ${d.measured.sec} s to route by quota-pilot's demotions (a high quantile over ${d.measured.demotions}), but routing_delay is ${d.sec} s: ` +
      (d.measured.sec > d.sec ? 'demotions go out too late and overshoot the free allowance' : 'demotions go out too early and pay for free tokens') +
      '. Set routing_delay to the measured value, or remove it (auto).',
    at,
    fields: { baseUrl: log.baseUrl!, routingDelaySec: d.sec, measuredSec: d.measured.sec, demotions: d.measured.demotions },
  };
  return { log: { ...log, instances: { ...log.instances, [log.baseUrl!]: { ...rec, warnedFor: d.sec } } }, events: [event] };
}
