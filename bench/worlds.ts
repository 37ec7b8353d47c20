import { DateTime } from 'luxon';
import type { SimChannel, SimLog } from '../src/sim/simulator.js';

export const TZ = 'Asia/Shanghai';

/** The model each demo channel serves (demoChannels(), the shipped example config). */
export const DEMO_MODELS: Record<number, string> = {
  1: 'DeepSeek-V3-2-251201',
  2: 'Doubao-Seed-Code-Preview-251028',
  3: 'GLM-4-7-251222',
  4: 'Kimi-K2-Thinking-251104',
  5: 'DeepSeek-V3-2-251201',
  6: 'gpt-4o',
};

/** Start of the daily window that holds `nowMs` (02:20 Asia/Shanghai), unix seconds. */
export function windowStart(nowMs: number): number {
  const now = DateTime.fromMillis(nowMs, { zone: TZ });
  let start = now.startOf('day').set({ hour: 2, minute: 20 });
  if (start > now) start = start.minus({ days: 1 });
  return Math.floor(start.toSeconds());
}

/** `n` consume logs spread evenly over [from, to] (unix seconds), round-robin over `channels`. */
export function* spread(n: number, from: number, to: number, channels: number[], modelOf: (channel: number, i: number) => string): Generator<SimLog> {
  for (let i = 0; i < n; i++) {
    const channel = channels[i % channels.length];
    yield {
      created_at: Math.floor(from + ((to - from) * i) / Math.max(1, n)),
      channel,
      model_name: modelOf(channel, i),
      prompt_tokens: 120 + (i % 50),
      completion_tokens: 40 + (i % 30),
    };
  }
}

/**
 * A simulated clock for steady cycles. The CLI reads logs up to OneAPI's clock (the Date header) minus a lag,
 * so instead of sleeping the bench moves this clock, a minute per cycle. It starts 2 minutes behind the real
 * clock (but inside today's window), so over three cycles it stays within about a minute of the CLI's own clock:
 * the steady measures are about requests, not skew.
 */
export class SimClock {
  ms: number;
  constructor(realNowMs: number) {
    this.ms = Math.max(realNowMs - 120_000, (windowStart(realNowMs) + 120) * 1000);
  }
  get sec(): number {
    return Math.floor(this.ms / 1000);
  }
  readonly now = () => this.ms;
}

const pad = (i: number) => String(i).padStart(3, '0');

/** The many-budget world: `n` channels serving 4 models each, one budget per (channel, model), and 4 paid fallbacks. */
export function manyBudgets(n: number): { channels: SimChannel[]; channelsYaml: string; prioritiesYaml: string; models: string[] } {
  const models = ['bench-model-a', 'bench-model-b', 'bench-model-c', 'bench-model-d'];
  const channels: SimChannel[] = Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    name: `bench-${pad(i + 1)}`,
    priority: 100,
    status: 1,
    models: models.join(','),
  }));
  models.forEach((m, j) => channels.push({ id: n + j + 1, name: `bench-paid-${j}`, priority: 50, status: 1, models: m }));
  const budgets = channels
    .slice(0, n)
    .flatMap((c) => models.map((m) => `  - channel: ${c.name}\n    model: ${m}\n    free_tokens: 50M\n    window: daily\n`));
  return {
    channels,
    models,
    channelsYaml: `timezone: ${TZ}\nchannels:\n${budgets.join('')}`,
    prioritiesYaml: priorities(channels.slice(0, n).map((c) => c.name)),
  };
}

/** The sustained-traffic world: `n` channels of one model, the first `budgeted` of them with a budget. */
export function someBudgeted(n: number, budgeted: number): { channels: SimChannel[]; channelsYaml: string; prioritiesYaml: string; model: string } {
  const model = 'sustain-model';
  const channels: SimChannel[] = Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    name: `sustain-${pad(i + 1)}`,
    priority: i < budgeted ? 100 : 50,
    status: 1,
    models: model,
  }));
  const budgets = channels
    .slice(0, budgeted)
    .map((c) => `  - channel: ${c.name}\n    model: ${model}\n    free_tokens: 500M\n    window: daily\n`);
  return {
    channels,
    model,
    channelsYaml: `timezone: ${TZ}\nchannels:\n${budgets.join('')}`,
    prioritiesYaml: priorities(channels.slice(0, budgeted).map((c) => c.name)),
  };
}

function priorities(names: string[]): string {
  return `reset:\n  at: "02:20"\n  timezone: ${TZ}\ndefaults:\n${names.map((n) => `  ${n}: 100\n`).join('')}demoted: 10\n`;
}
