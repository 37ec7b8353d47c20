import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import type { Budget } from '../../src/config/types.js';
import type { Channel, OneApiClient } from '../../src/oneapi/types.js';
import { layoutFor, layoutSignature } from '../../src/usage/buckets.js';
import { lazyIds, planRelayout, recountFor } from '../../src/usage/relayout.js';
import { aBudget, aConfig } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => Math.floor(DateTime.fromISO(iso, { zone: TZ }).toSeconds());
const NOW = DateTime.fromISO('2026-11-24T12:00', { zone: TZ }).toMillis();
const sigOf = (budgets: Budget[], timezone = TZ) => layoutSignature(layoutFor(aConfig({ budgets, timezone })));

describe('planRelayout: what a new bucket layout needs recounted', () => {
  const before = [aBudget({ channel: 1 }), aBudget({ channel: 2, resetAt: '08:00' })];
  it.each<[string, string, Budget[], unknown]>([
    ['the same layout', sigOf(before), before, { kind: 'same' }],
    ['no layout recorded (first read)', '', before, { kind: 'all', reason: 'no layout recorded' }],
    ['another time zone', sigOf(before, 'Europe/Berlin'), before, { kind: 'all', reason: 'time zone changed' }],
    ['a boundary removed: old buckets are only finer', sigOf(before), [aBudget({ channel: 1 })], { kind: 'some', from: new Map(), added: [] }],
    [
      'a budget renewing at a new time (20:00, window since yesterday 20:00): its channel, from yesterday midnight',
      sigOf(before),
      [...before, aBudget({ channel: 3, resetAt: '20:00' })],
      { kind: 'some', from: new Map([[3, sec('2026-11-23T00:00')]]), added: ['20:00'] },
    ],
    [
      'a budget moved to a new time of day that has passed (09:00): from today midnight',
      sigOf(before),
      [aBudget({ channel: 1 }), aBudget({ channel: 2, resetAt: '09:00' })],
      { kind: 'some', from: new Map([[2, sec('2026-11-24T00:00')]]), added: ['09:00'] },
    ],
    [
      'two budgets of one channel at new times: the earlier midnight',
      sigOf(before),
      [...before, aBudget({ channel: 'x', resetAt: '09:00' }), aBudget({ channel: 'x', model: 'k', resetAt: '20:00' })],
      { kind: 'some', from: new Map([['x', sec('2026-11-23T00:00')]]), added: ['09:00', '20:00'] },
    ],
  ])('%s', (_name, old, budgets, want) => {
    expect(planRelayout(old, aConfig({ budgets }), NOW)).toEqual(want);
  });
});

describe('recountFor', () => {
  const client = (channels: Array<{ id: number; name: string }>) =>
    ({ listChannels: async () => channels.map((c) => ({ ...c, priority: 0, status: 1, models: [] }) as unknown as Channel) }) as unknown as OneApiClient;
  const plan = { kind: 'some' as const, from: new Map<number | string, number>([['x', 1000], [2, 1000], [9, 1000], [3, 1000]]), added: ['20:00'] };
  const config = aConfig({ budgets: [aBudget({ channel: 'x' }), aBudget({ channel: 2 }), aBudget({ channel: 9 }), aBudget({ channel: 3 })] });

  it('resolves names with one channel list, never reads from before a channel was first counted, and leaves new channels to the cold read', async () => {
    const out = await recountFor(plan, { ids: lazyIds(config, client([{ id: 7, name: 'x' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }])), channels: [2, 3, 7], firstCounted: { 7: 500, 2: 1500 }, hadBuckets: true });
    // 3 has no first instant yet (read from scratch anyway); 9 is not among the channels read.
    expect(out).toEqual(new Map([[7, 1000], [2, 1500]]));
  });

  it('everything (null) for a plan that recounts all; nothing for the same layout', async () => {
    expect(await recountFor({ kind: 'all', reason: 'time zone changed' }, { ids: lazyIds(config, client([])), channels: [2], firstCounted: {}, hadBuckets: true })).toBeNull();
    expect(await recountFor({ kind: 'same' }, { ids: lazyIds(config, client([])), channels: [2], firstCounted: {}, hadBuckets: true })).toEqual(new Map());
  });
});
