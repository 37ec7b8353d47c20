import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { unmovedDemotions } from '../../src/events/unmoved.js';
import { emptyAlertMemory } from '../../src/events/memory.js';
import { decide } from '../../src/policy/decide.js';
import { silentBudgets } from '../../src/policy/defeats.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import type { Channel } from '../../src/oneapi/types.js';
import { aBudget, aChannel, aConfig, aDefault, aMemory, aTrack } from '../helpers/builders.js';

const DS = 'DeepSeek-V3';
const free = (over: Partial<Channel> = {}) => aChannel({ id: 1, name: 'volc-deepseek', priority: 100, models: [DS], ...over });
const paid = (over: Partial<Channel> = {}) => aChannel({ id: 2, name: 'paid-deepseek', priority: 50, models: [DS], ...over });
const config = aConfig({
  budgets: [aBudget({ channel: 'volc-deepseek', model: DS, freeTokens: 1_000_000, source: { file: 'channels.yaml', line: 7, col: 14 } })],
  defaults: [aDefault('volc-deepseek', 100)],
});

describe('unmovedDemotions', () => {
  const TZ = 'Asia/Shanghai';
  const W = DateTime.fromISO('2026-11-24T02:20', { zone: TZ }).toSeconds();
  const Td = W + 36_000;
  const cfg = { ...config, routingDelaySec: 60 };
  const channels = [free({ priority: 10 }), paid()];
  const decision = decide({ config: cfg, resolution: resolveRefs(cfg, channels), channels, buckets: [], nowMs: (Td + 600) * 1000, memory: aMemory({ lastResetAt: W, demoted: { '1': { at: Td, reason: 'x' } }, windows: { [`volc-deepseek/${DS}`]: W } }) });
  const key = `volc-deepseek/${DS}`;
  const sample = (dt: number, used: number) => [Td + dt, used] as const;

  it.each([
    ['traffic stopped after the routing delay', [sample(0, 990_000), sample(200, 995_000), sample(260, 995_000), sample(320, 995_000)], 0],
    ['still growing 3 to 5 minutes after', [sample(0, 990_000), sample(200, 995_000), sample(260, 1_000_000), sample(320, 1_010_000)], 1],
    ['only in-flight rows within the grace time', [sample(0, 990_000), sample(60, 1_000_000), sample(170, 1_010_000)], 0],
  ] as const)('%s', (_n, samples, n) => {
    const r = unmovedDemotions({ config: cfg, decision, pace: { [key]: aTrack(W, samples) }, memory: emptyAlertMemory(), at: Td + 600 });
    expect(r.events).toHaveLength(n);
    if (n) {
      expect(r.events[0]).toMatchObject({ kind: 'demotion-unmoved', severity: 'critical', title: 'volc-deepseek (#1) still gets traffic 5 min after its demotion' });
      expect(r.events[0].text).toMatch(/grew by 15,000 tokens between 200 s and 320 s after the demotion to 10 \(routing delay 60 s\)\. Likely causes: new-api channel affinity/);
      // once per demotion
      expect(unmovedDemotions({ config: cfg, decision, pace: { [key]: aTrack(W, samples) }, memory: { ...emptyAlertMemory(), unmoved: r.unmoved }, at: Td + 660 }).events).toEqual([]);
    }
  });
});

describe('silentBudgets', () => {
  const W = 1_764_000_000;
  const cfg = { ...config, routingDelaySec: 0 };
  const channels = [free({ models: [DS, 'DeepSeek-R1'] }), paid()];
  const bucket = (model: string, requests: number) => ({ channel: 1, model, day: '2026-11-24', start: W + 60, tokens: requests * 100, requests });
  const at = (buckets: ReturnType<typeof bucket>[]) => {
    const nowMs = (W + 3600) * 1000;
    const d = decide({ config: cfg, resolution: resolveRefs(cfg, channels), channels, buckets, nowMs, memory: aMemory({ lastResetAt: W }) });
    return silentBudgets(d.budgets.map((b) => ({ ...b, window: { ...b.window, start: W, end: W + 86_400 } })), buckets, channels).map((p) => p.message);
  };
  it.each([
    ['its model has logs', [bucket(DS, 1), bucket('DeepSeek-R1', 50)], []],
    ['a quiet channel', [bucket('DeepSeek-R1', 5)], []],
    ['no logs for its model while the channel serves another', [bucket('deepseek-v3', 50)], ['no consume logs for model "DeepSeek-V3" on volc-deepseek (#1) this window, while it served other models (deepseek-v3); is "DeepSeek-V3" the name OneAPI logs?']],
  ] as const)('%s', (_n, buckets, want) => {
    expect(at([...buckets])).toEqual(want);
  });
});
