import type { Budget, Config, DefaultPriority } from '../../src/config/types.js';
import type { Channel } from '../../src/oneapi/types.js';
import { BucketAdder, BucketClock, type Bucket, type BucketLayout } from '../../src/usage/buckets.js';
import type { Memory } from '../../src/policy/memory.js';
import type { PaceTrack } from '../../src/usage/burn.js';

const src = { file: 'channels.yaml', line: 1, col: 1 };

export function aBudget(b: Partial<Budget> = {}): Budget {
  const channel = b.channel ?? 'volc-deepseek';
  return { key: String(channel) + (b.model ? `/${b.model}` : ''), channel, freeTokens: 1_000_000, window: 'daily', resetAt: '02:20', warnAt: 0.8, demoteAt: 0.95, source: src, ...b };
}

export function aDefault(channel: string | number, priority: number): DefaultPriority {
  return { channel, priority, source: { file: 'priorities.yaml', line: 1, col: 1 } };
}

export function aConfig(c: Partial<Config> = {}): Config {
  return {
    flavor: 'one-api',
    timezone: 'Asia/Shanghai',
    budgets: [aBudget()],
    reset: { at: '02:20', timezone: 'Asia/Shanghai' },
    defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)],
    demoted: 10,
    demotedSource: { file: 'priorities.yaml', line: 35, col: 10 },
    routingDelaySec: 0,
    ...c,
  };
}

export function aChannel(c: Partial<Channel> & { id: number }): Channel {
  return { name: `ch-${c.id}`, priority: 0, status: 1, models: [], ...c };
}

/** A counted log, as the tests of buckets and reports think of it. */
export interface TestLog {
  createdAt: number;
  channelId: number;
  modelName: string;
  promptTokens: number;
  completionTokens: number;
}

export function aLog(l: Partial<TestLog> & { createdAt: number }): TestLog {
  return { channelId: 1, modelName: 'm', promptTokens: 100, completionTokens: 50, ...l };
}

/** Adds logs into buckets cut by `layout`, the way the ingest does. */
export function addLogs(buckets: Bucket[], layout: BucketLayout, logs: TestLog[]): void {
  const clock = new BucketClock(layout);
  const adder = new BucketAdder(buckets);
  for (const l of logs) adder.add(l.channelId, l.modelName, clock.locate(l.createdAt), l.promptTokens + l.completionTokens, 1);
}

let nextId = 1;
/** A raw consume-log row as one-api sends it (override any field, or set one to undefined to drop it). */
export function aRow(r: Record<string, unknown> & { created_at: number }): Record<string, unknown> {
  return { id: nextId++, type: 2, channel: 1, model_name: 'm', prompt_tokens: 100, completion_tokens: 50, ...r };
}

export function aMemory(m: Partial<Memory> = {}): Memory {
  return { lastResetAt: null, warned: {}, demoted: {}, windows: {}, pending: {}, refs: {}, stopped: {}, ...m };
}

/** Unix seconds of a local ISO time in a zone, e.g. at('2026-11-24T02:20', 'Asia/Shanghai'). */
export { DateTime } from 'luxon';

/** A budget's pace track in the window starting at `windowStart`, from [unix seconds, used] samples (oldest first). */
export function aTrack(windowStart: number, samples: ReadonlyArray<readonly [number, number]>): PaceTrack {
  return { windowStart, at: samples.map((s) => s[0] - windowStart), used: samples.map((s) => s[1]) };
}
