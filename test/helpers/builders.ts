import type { Budget, Config, DefaultPriority } from '../../src/config/types.js';
import type { Channel, ConsumeLog } from '../../src/oneapi/types.js';
import type { Memory } from '../../src/state/store.js';

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
    timezone: 'Asia/Shanghai',
    budgets: [aBudget()],
    reset: { at: '02:20', timezone: 'Asia/Shanghai' },
    defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)],
    demoted: 10,
    ...c,
  };
}

export function aChannel(c: Partial<Channel> & { id: number }): Channel {
  return { name: `ch-${c.id}`, priority: 0, status: 1, models: [], ...c };
}

let nextId = 1;
export function aLog(l: Partial<ConsumeLog> & { createdAt: number }): ConsumeLog {
  return { id: nextId++, channelId: 1, modelName: 'm', promptTokens: 100, completionTokens: 50, ...l };
}

export function aMemory(m: Partial<Memory> = {}): Memory {
  return { lastResetAt: null, warned: {}, demoted: {}, ...m };
}

/** Unix seconds of a local ISO time in a zone, e.g. at('2026-11-24T02:20', 'Asia/Shanghai'). */
export { DateTime } from 'luxon';
