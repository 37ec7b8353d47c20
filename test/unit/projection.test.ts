import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { decide } from '../../src/policy/decide.js';
import { lookAt, projectBudget, type ProjectInput } from '../../src/policy/projection.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import { nextCycleDelayMs } from '../../src/schedule/daemon.js';
import { diff } from '../../src/reconcile/apply.js';
import type { PaceTrack } from '../../src/usage/burn.js';
import { aBudget, aChannel, aConfig, aDefault, aMemory, aTrack } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => DateTime.fromISO(iso, { zone: TZ }).toSeconds();
const W = sec('2026-11-24T02:20');
const END = sec('2026-11-25T02:20');
const NOW = sec('2026-11-24T22:52:00');
const B = 1_900_000;

/** Samples every `step` s up to `asOf`, at `rate` tokens/s, ending at `used`. */
function steady(rate: number, used: number, asOf: number, step = 60, n = 10): PaceTrack {
  return aTrack(W, Array.from({ length: n }, (_, i) => [asOf - (n - i) * step, used - (n - i) * step * rate] as const));
}

const base = (over: Partial<ProjectInput>): ProjectInput => ({ freeTokens: B, used: 1_800_000, asOf: NOW - 10, windowStart: W, windowEnd: END, routingDelaySec: 60, ...over });

describe('projectBudget', () => {
  // [case, input, rate, reachesAt - asOf, demoteBy - asOf] (null: none)
  const rows: Array<[string, Partial<ProjectInput>, number, number | null, number | null]> = [
    ['steady 1,000 tokens/s, 100,000 left', { track: steady(1000, 1_800_000, NOW - 10) }, 1000, 100, 100 - 60 - 5],
    ['idle: no use in the last 10 minutes', { track: steady(0, 1_800_000, NOW - 10) }, 0, null, null],
    ['no samples yet (first cycle): no projection', {}, 0, null, null],
    ['a window about to renew: reached after the renewal, so no demotion', { track: steady(1000, 1_800_000, NOW - 10), windowEnd: NOW + 60 }, 1000, 100, null],
    ['samples of the previous window are ignored', { track: { ...steady(1000, 1_800_000, NOW - 10), windowStart: W - 86_400 } }, 0, null, null],
    ['routing delay 0: demote just before (margin 5% of the time left)', { track: steady(1000, 1_800_000, NOW - 10), routingDelaySec: 0 }, 1000, 100, 95],
  ];
  it.each(rows)('%s', (_name, over, rate, reach, demote) => {
    const p = projectBudget(base(over));
    const asOf = NOW - 10;
    expect(p.rate).toBeCloseTo(rate, 6);
    expect(p.reachesAt === null ? null : p.reachesAt - asOf).toEqual(reach === null ? null : expect.closeTo(reach, 6));
    expect(p.demoteBy === null ? null : p.demoteBy - asOf).toEqual(demote === null ? null : expect.closeTo(demote, 6));
  });

  it('bursty: a burst in the last 30 s brings the demotion forward (latest rate beats the steady median)', () => {
    const track = steady(1000, 1_740_000, NOW - 40);
    track.at.push(NOW - 40 - W); // times count from the window start
    track.used.push(1_740_000);
    const p = projectBudget(base({ track, used: 1_830_000 })); // +90,000 in 30 s: 3,000 tokens/s
    expect(p.steady).toBeCloseTo(1000, 6);
    expect(p.latest).toBeCloseTo(3000, 6);
    expect(p.rate).toBeCloseTo(3000, 6);
    expect(p.reachesAt! - (NOW - 10)).toBeCloseTo(70_000 / 3000, 6);
  });

  it('one odd interval does not move the steady rate (median)', () => {
    const track = steady(1000, 1_800_000, NOW - 10);
    track.used[3] += 200_000; // a spike that went away again: one interval up, the next one down
    const p = projectBudget(base({ track }));
    expect(p.steady).toBeCloseTo(1000, 6);
  });
});

describe('lookAt', () => {
  it.each([
    ['no demotion projected', null, null],
    ['already due', NOW - 1, null],
    ['due in 100 s: look at a quarter of that', NOW + 100, NOW + 25],
    ['due in 6 s: not closer than 2 s', NOW + 6, NOW + 2],
    ['due in 1 s: at that instant', NOW + 1, NOW + 1],
  ] as const)('%s', (_name, demoteBy, want) => {
    expect(lookAt(demoteBy, NOW)).toBe(want);
  });
});

describe('decide: predictive demotion (rule 1, projection)', () => {
  const config = aConfig({
    budgets: [aBudget({ channel: 'volc-deepseek', freeTokens: B, demoteAt: 1 })],
    defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)],
  });
  const cfg = { ...config, routingDelaySec: 60 };
  const channels = [aChannel({ id: 1, name: 'volc-deepseek', priority: 100 }), aChannel({ id: 2, name: 'paid-deepseek', priority: 50 })];
  const run = (used: number, nowSec: number, asOf: number) =>
    decide({
      config: cfg,
      resolution: resolveRefs(cfg, channels),
      channels,
      buckets: [{ channel: 1, model: 'm', day: '2026-11-24', start: W, tokens: used, requests: 1 }],
      nowMs: nowSec * 1000,
      memory: aMemory({ lastResetAt: W }),
      pace: { 'volc-deepseek': steady(1000, used, asOf) },
      usageAsOf: asOf,
    });

  it('asks to look again when the demotion falls due before the next poll, and demotes then with the projection', () => {
    const early = run(1_800_000, NOW, NOW - 10); // reaches at NOW + 90; demote by NOW + 25
    expect(diff(early.channels)).toEqual([]);
    expect(early.nextCheckAt).toBeCloseTo(NOW + 25 / 4, 6); // a quarter of the time until it falls due
    const due = run(1_830_000, NOW + 30, NOW + 20); // reaches at NOW + 90, demote by NOW + 26.5
    expect(diff(due.channels).map((c) => [c.id, c.from, c.to])).toEqual([[1, 100, 10]]);
    expect(due.channels[0].reason).toBe(
      'budget projected to run out: projected to reach 1,900,000 at 22:53:30 (at 1,000 tokens/s); routing delay 60 s; 1,830,000/1,900,000 tokens (96.3%), daily window since 2026-11-24 02:20 +08:00',
    );
    expect(due.memory.demoted['1']).toEqual({ at: NOW + 30, reason: due.channels[0].reason });
    expect(due.nextCheckAt).toBeNull(); // nothing left to watch once demoted
  });

  it('demote_at stays a hard ceiling even without a projection', () => {
    const d = decide({ config: aConfig({ ...config, budgets: [aBudget({ channel: 'volc-deepseek', freeTokens: B, demoteAt: 0.9 })] }), resolution: resolveRefs(config, channels), channels, buckets: [{ channel: 1, model: 'm', day: '2026-11-24', start: W, tokens: 1_720_000, requests: 1 }], nowMs: NOW * 1000, memory: aMemory({ lastResetAt: W }) });
    expect(d.channels[0].reason).toMatch(/^budget exhausted: 1,720,000\/1,900,000/);
  });
});

describe('nextCycleDelayMs (the daemon timer)', () => {
  it.each([
    ['no look asked: the poll interval', 0, null, 60_000],
    ['a look 12.5 s from now: then', 0, 1_000_012.5, 12_500],
    ['a look after the next poll: the poll', 0, 1_000_090, 60_000],
    ['failing cycles keep their back-off', 2, 1_000_001, 10_000],
  ] as const)('%s', (_n, failures, at, want) => {
    expect(nextCycleDelayMs(failures, 60, at, 1_000_000_000)).toBe(want);
  });
});
