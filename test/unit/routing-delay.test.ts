import { describe, expect, it } from '@jest/globals';
import { cutOver, delayDisagreement, delayInUse, disagrees, lastStartAfter, measureDelays, type DelayLog } from '../../src/policy/routing-delay.js';
import type { Series, Timeline } from '../../src/usage/timeline.js';
import { aConfig, aMemory } from '../helpers/builders.js';

const T = 1_764_000_000; // the demotion's write
/** A series whose two latest request starts are `starts` (seconds after T), newest first. */
const starts = (...xs: number[]): Series => ({ from: T - 60, tokens: [1], starts: xs.map((x) => T + x) });
const timeline = (series: Record<string, Series>): Timeline => ({ from: T - 1200, series });

describe('lastStartAfter', () => {
  it.each([
    ['the last start after the write', [12, 11.5], 12],
    ['one straggler long after the cut-over is ignored', [300, 12], 12],
    ['two close together late: not a straggler', [300, 299], 300],
    ['a start 20 s after the one before, 40 s in: not a straggler (within half the cut-over)', [60, 40], 60],
    ['one start only', [9], 9],
    ['none after the write', [-5, -9], null],
  ] as const)('%s', (_n, xs, want) => {
    expect(lastStartAfter(starts(...xs), T)).toBe(want === null ? null : T + want);
  });
});

describe('cutOver', () => {
  // The demoted channel 1 and the fallback channel 5 serve model m; readEnd in seconds after T.
  it.each([
    ['routing moved 12 s after the write, settled', { '1:m': starts(12, 11.5), '5:m': starts(95, 94) }, 100, 12],
    ['not settled yet: requests that started before may still be running', { '1:m': starts(12, 11.5), '5:m': starts(60, 59) }, 60, null],
    ['a straggler on the demoted channel', { '1:m': starts(90, 12), '5:m': starts(95, 94) }, 200, 12],
    ['no request started on it after the write: routed at once', { '1:m': starts(-3, -8), '5:m': starts(95, 94) }, 100, 0],
    ['never moved: requests keep starting on it', { '1:m': starts(598, 597), '5:m': starts(599, 598) }, 600, null],
    ['the traffic stopped: nothing to tell by', { '1:m': starts(5, 4) }, 600, null],
    ['the model of another channel is no evidence', { '1:m': starts(12, 11), '5:other': starts(95, 94) }, 600, null],
    ['long requests settle later: twice the median duration', { '1:m': { ...starts(12, 11), elapsed: [100] }, '5:m': starts(150, 149) }, 150, null],
  ] as const)('%s', (_n, series, readEnd, want) => {
    expect(cutOver(timeline(series as Record<string, Series>), 1, T, T + readEnd)).toBe(want);
  });
});

describe('measureDelays', () => {
  const demoted = aMemory({ demoted: { '1': { at: T, reason: 'r' } } });
  const moved = (sec: number) => timeline({ '1:m': starts(sec, sec - 0.5), '5:m': starts(sec + 80, sec + 79) });

  it('measures each demotion once, per OneAPI instance: two nodes with different delays keep their own', () => {
    let log: DelayLog = { instances: {} };
    log = measureDelays(log, { baseUrl: 'http://a', memory: demoted, timeline: moved(12), readEnd: T + 100 });
    log = measureDelays(log, { baseUrl: 'http://a', memory: demoted, timeline: moved(12), readEnd: T + 110 }); // again: not twice
    log = measureDelays(log, { baseUrl: 'http://b', memory: demoted, timeline: moved(60), readEnd: T + 200 });
    expect(log).toEqual({
      baseUrl: 'http://b',
      instances: { 'http://a': { samples: [[T, 12]], done: { '1': T } }, 'http://b': { samples: [[T, 60]], done: { '1': T } } },
    });
    const config = aConfig({ routingDelayAuto: true, routingDelaySec: 600 });
    expect(delayInUse(config, log.instances['http://a'], 'one-api')).toEqual({ sec: 12, source: 'measured', measured: { sec: 12, demotions: 1 }, text: 'measured 12 s over 1 demotion' });
    expect(delayInUse(config, log.instances['http://b'], 'one-api').sec).toBe(60);
  });

  it('a demotion that never moves is given up after an hour, unmeasured', () => {
    const never = (end: number) => timeline({ '1:m': starts(end - 2, end - 3), '5:m': starts(end - 1, end - 2) });
    const waiting = measureDelays({ instances: {} }, { baseUrl: 'u', memory: demoted, timeline: never(3000), readEnd: T + 3000 });
    expect(waiting.instances.u).toEqual({ samples: [], done: {} });
    const given = measureDelays(waiting, { baseUrl: 'u', memory: demoted, timeline: never(3700), readEnd: T + 3700 });
    expect(given.instances.u).toEqual({ samples: [], done: { '1': T } });
  });

  it('keeps the last 10; the delay used is their 90th percentile, rounded up', () => {
    const rec = { samples: [5, 7, 6, 40, 8, 6, 7, 9, 12.2, 11].map((s, i): [number, number] => [T + i, s]), done: {} };
    expect(delayInUse(aConfig({ routingDelayAuto: true }), rec, 'new-api')).toMatchObject({ sec: 13, text: 'measured 13 s over 10 demotions' });
  });
});

describe('delayInUse', () => {
  const rec = { samples: [[T, 14]] as Array<[number, number]>, done: {} };
  it.each([
    ['auto, nothing measured yet: the flavor default', { routingDelayAuto: true, routingDelaySec: 600 }, undefined, { sec: 600, source: 'flavor default', text: 'flavor default (one-api)' }],
    ['auto, measured', { routingDelayAuto: true, routingDelaySec: 600 }, rec, { sec: 14, source: 'measured', measured: { sec: 14, demotions: 1 }, text: 'measured 14 s over 1 demotion' }],
    ['a number in the config wins', { routingDelayAuto: false, routingDelaySec: 60 }, rec, { sec: 60, source: 'config', measured: { sec: 14, demotions: 1 }, text: 'config (routing_delay: 60); measured 14 s over 1 demotion' }],
  ] as const)('%s', (_n, cfg, r, want) => {
    expect(delayInUse(aConfig(cfg), r, 'one-api')).toEqual(want);
  });

  it.each([
    [60, 14, true], // 4× and 46 s apart
    [20, 14, false], // within 2×
    [10, 35, false], // 3.5× but only 25 s apart
    [600, 0, true],
    [12, 100, true],
  ])('configured %i s against measured %i s: disagrees %s', (configured, measured, want) => {
    expect(disagrees({ sec: configured, source: 'config', measured: { sec: measured, demotions: 3 }, text: '' })).toBe(want);
  });

  it('a disagreement is an alert once per configured value', () => {
    const log: DelayLog = { baseUrl: 'u', instances: { u: { samples: [[T, 14]], done: {} } } };
    const d = delayInUse(aConfig({ routingDelayAuto: false, routingDelaySec: 600 }), log.instances.u, 'one-api');
    const first = delayDisagreement(d, log, T + 5);
    expect(first.events).toEqual([expect.objectContaining({ kind: 'routing-delay-disagrees', severity: 'warning', title: 'routing_delay 600 s, measured 14 s', fields: { baseUrl: 'u', routingDelaySec: 600, measuredSec: 14, demotions: 1 } })]);
    expect(delayDisagreement(d, first.log, T + 10).events).toEqual([]);
    const changed = delayInUse(aConfig({ routingDelayAuto: false, routingDelaySec: 300 }), first.log.instances.u, 'one-api');
    expect(delayDisagreement(changed, first.log, T + 20).events).toHaveLength(1);
  });
});

describe('/metrics', () => {
  it('quota_pilot_routing_delay_seconds carries the delay of the last cycle and its source', async () => {
    const { createMetrics } = await import('../../src/metrics/metrics.js');
    const m = createMetrics();
    const result = { ok: true, problems: [], changes: [], applied: [], failed: [], notes: [], enables: [], enabled: [], enableFailed: [], fetched: 0, requests: 1, throttledMs: 0, durationMs: 5, memory: aMemory(), events: [] };
    m.recordCycle({ ...result, routingDelay: { sec: 600, source: 'flavor default', text: '' } }, T * 1000);
    m.recordCycle({ ...result, routingDelay: { sec: 14, source: 'measured', text: '' } }, T * 1000);
    const text = await m.registry.metrics();
    expect(text.split('\n').filter((l) => l.startsWith('quota_pilot_routing_delay_seconds'))).toEqual(['quota_pilot_routing_delay_seconds{source="measured"} 14']);
  });
});
