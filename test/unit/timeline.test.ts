import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { decide } from '../../src/policy/decide.js';
import { projectBudget, type ProjectInput } from '../../src/policy/projection.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import type { Channel, OneApiClient } from '../../src/oneapi/types.js';
import { diff } from '../../src/reconcile/apply.js';
import { emptyUsage, ingest } from '../../src/usage/ingest.js';
import { checkRow } from '../../src/usage/rows.js';
import { mergeTimeline, seriesFor, SLOT_SEC, TimelineDelta, tokensBetween, typicalElapsed, type Series, type Timeline } from '../../src/usage/timeline.js';
import { aBudget, aChannel, aConfig, aDefault, aMemory, aRow } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => DateTime.fromISO(iso, { zone: TZ }).toSeconds();
const W = sec('2026-11-24T02:20');
const END = sec('2026-11-25T02:20');
const NOW = sec('2026-11-24T22:52:00');
const AS_OF = NOW - 10; // 22:51:50
const B = 1_900_000;

/** 30 s slots ending with the one holding AS_OF: `perSlot` tokens each (oldest first), of requests lasting `elapsed` s. */
function aSeries(perSlot: number[], elapsed = 0): Series {
  const last = Math.floor(AS_OF / SLOT_SEC) * SLOT_SEC;
  return { from: last - SLOT_SEC * (perSlot.length - 1), tokens: perSlot, ...(elapsed > 0 && { elapsed: perSlot.map((t) => (t > 0 ? elapsed : 0)) }) };
}
/** 1,000 tokens/s for 12 minutes: the slot holding AS_OF (22:51:30) has run 20 s. */
const steady = (elapsed = 0) => aSeries([...Array(24).fill(30_000), 20_000], elapsed);

const base = (over: Partial<ProjectInput>): ProjectInput => ({ freeTokens: B, used: 1_800_000, asOf: AS_OF, windowStart: W, windowEnd: END, routingDelaySec: 60, timeline: { series: steady(), from: W }, ...over });

describe('projectBudget from the usage timeline', () => {
  // [case, input, steady, latest, elapsed, reachesAt - asOf, demoteBy - asOf] (null: none)
  const rows: Array<[string, Partial<ProjectInput>, number, number, number, number | null, number | null]> = [
    ['a cold start: 1,000 tokens/s in the rows, no pace samples at all', {}, 1000, 1000, 0, 100, 100 - 60 - 5],
    ['idle, then a burst in the last 20 s: the burst brings the demotion forward', { timeline: { series: aSeries([...Array(24).fill(0), 60_000]), from: W } }, 100, 3000, 0, 100_000 / 3000, (100_000 / 3000) * 0.95 - 60],
    ['a burst does not push it back: a quiet last slot keeps the steady rate', { timeline: { series: aSeries([...Array(24).fill(30_000), 0]), from: W } }, 580_000 / 600, 0, 0, 100_000 / (580_000 / 600), (100_000 / (580_000 / 600)) * 0.95 - 60],
    ['a window about to renew: reached after the renewal, so no demotion', { windowEnd: AS_OF + 60 }, 1000, 1000, 0, 100, null],
    ['a window that began 30 s ago: its rate over those 30 s', { windowStart: AS_OF - 30 }, 1000, 1000, 0, 100, 35],
    ['long requests (30 s each): routed away 30 s earlier, as they are billed when they end', { timeline: { series: steady(30), from: W } }, 1000, 1000, 30, 100, 100 - 30 - 60 - 5],
    ['a timeline complete only for 5 minutes (a state from before it): the rate over those', { timeline: { series: aSeries([...Array(15).fill(0), ...Array(9).fill(30_000), 20_000]), from: AS_OF - 290 } }, 1000, 1000, 0, 100, 35],
    ['a timeline complete for 10 s only: too short for a rate', { timeline: { series: steady(), from: AS_OF - 10 } }, 0, 0, 0, null, null],
    ['idle: no rows in the timeline', { timeline: { series: undefined, from: W } }, 0, 0, 0, null, null],
  ];
  it.each(rows)('%s', (_name, over, steadyRate, latest, elapsed, reach, demote) => {
    const p = projectBudget(base(over));
    expect(p.steady).toBeCloseTo(steadyRate, 6);
    expect(p.latest).toBeCloseTo(latest, 6);
    expect(p.elapsedSec).toBe(elapsed);
    expect(p.reachesAt === null ? null : p.reachesAt - AS_OF).toEqual(reach === null ? null : expect.closeTo(reach, 6));
    expect(p.demoteBy === null ? null : p.demoteBy - AS_OF).toEqual(demote === null ? null : expect.closeTo(demote, 6));
  });
});

describe('tokensBetween, typicalElapsed', () => {
  const s: Series = { from: 600, tokens: [60, 120, 30], elapsed: [10, 20, 90] };
  it.each([
    ['whole slots', 600, 660, 180],
    ['half of the first slot', 615, 660, 150],
    ['the slot holding `to` ends at `to`', 630, 675, 150],
    ['nothing before the series', 0, 600, 0],
  ] as const)('%s', (_n, from, to, want) => expect(tokensBetween(s, from, to)).toBeCloseTo(want, 6));
  it('the median of the slots\' durations, robust to one slow slot', () => {
    expect(typicalElapsed(s)).toBe(20);
    expect(typicalElapsed({ from: 600, tokens: [60] })).toBe(0); // rows that gave no duration
    expect(typicalElapsed(undefined)).toBe(0);
  });
});

describe('mergeTimeline', () => {
  const delta = (rows: Array<[number, string, number, number, number]>) => {
    const d = new TimelineDelta();
    for (const r of rows) d.add(...r);
    return d;
  };
  const old: Timeline = { from: 0, series: { '1:m': { from: 600, tokens: [10, 20, 30], elapsed: [1, 2, 3], starts: [780, 700] }, '2:m': { from: 600, tokens: [5] } } };

  it('adds the rows per slot, keeps the slots from the horizon on, drops empty series', () => {
    const t = mergeTimeline(old, delta([[1, 'm', 790, 7, 1.25], [1, 'm', 845, 3, 0], [3, 'x', 700, 1, 0]]), { horizon: 660, coveredFrom: 0, dropFrom: new Map() });
    expect(t).toEqual({
      from: 660,
      series: {
        '1:m': { from: 660, tokens: [30, 0, 0, 0, 7, 0, 3], elapsed: [3, 0, 0, 0, 1.3, 0, 0], starts: [845, 788.8] }, // a start is created_at − elapsed
        '3:x': { from: 690, tokens: [1], starts: [700] }, // no duration in its rows: no elapsed
      },
    });
  });

  it('a recounted channel keeps only the slots before its recount, the rest comes from the read', () => {
    const t = mergeTimeline(old, delta([[1, 'm', 720, 100, 0]]), { horizon: 0, coveredFrom: 0, dropFrom: new Map([[1, 660]]) });
    expect(t.series['1:m']).toEqual({ from: 600, tokens: [10, 20, 0, 0, 100], elapsed: [1, 2, 0, 0, 0], starts: [720] });
    expect(t.series['2:m'].tokens).toEqual([5]);
  });

  it('without a stored timeline it is complete from where the read started', () => {
    expect(mergeTimeline(undefined, delta([]), { horizon: 600, coveredFrom: 1000, dropFrom: new Map() }).from).toBe(990);
  });

  it('a budget without a model sums its channel\'s series', () => {
    const t: Timeline = { from: 0, series: { '1:a': { from: 60, tokens: [1, 2] }, '1:b': { from: 120, tokens: [10], elapsed: [4] }, '11:a': { from: 0, tokens: [99] } } };
    expect(seriesFor(t, 1, undefined)).toEqual({ from: 60, tokens: [1, 2, 10], elapsed: [0, 0, 4] });
  });
});

describe('elapsed per flavor', () => {
  it.each([
    ['one-api', { elapsed_time: 2500 }, 2.5],
    ['new-api', { use_time: 3 }, 3],
    ['one-hub', { request_time: 1200, channel_id: 1 }, 1.2],
    ['one-api', { elapsed_time: 'x' }, 0],
  ] as const)('%s %j', (flavor, extra, want) => {
    const r = checkRow(aRow({ created_at: 1000, ...extra }), flavor);
    expect(r.ok && r.row.elapsedSec).toBe(want);
  });
});

describe('a cold start from rows only', () => {
  it('the first cycle, with no state at all, projects from the rows and demotes in time', async () => {
    const nowMs = NOW * 1000;
    // 1,000 tokens/s for the last 15 minutes, on top of 1,000,000 earlier today: 1,890,000 of 1,910,000 by the read
    // end, 10 s ago; 20 s left at that rate, less the 12 s routing delay: due now.
    const rows = [aRow({ created_at: sec('2026-11-24T12:00'), prompt_tokens: 1_000_000, completion_tokens: 0 })];
    for (let t = NOW - 895; t < AS_OF; t += 10) rows.push(aRow({ created_at: t, prompt_tokens: 10_000, completion_tokens: 0 }));
    const client = {
      requestCount: 0,
      throttledMs: 0,
      serverClock: () => ({ serverMs: nowMs, localMs: nowMs }),
      readLogs: async (q: { start: number; end: number; channel?: number }, onPage: (rows: unknown[]) => void) => {
        const match = rows.filter((r) => (r.created_at as number) >= q.start && (r.created_at as number) <= q.end).reverse();
        onPage(match);
        return { pages: 1, rows: match.length, declined: false, total: match.length };
      },
    } as unknown as OneApiClient;
    const config = { ...aConfig({ budgets: [aBudget({ channel: 1, freeTokens: 1_910_000, demoteAt: 1, model: 'm' })], defaults: [aDefault(1, 100)] }), routingDelaySec: 12 };
    const { usage } = await ingest(emptyUsage(), { client, flavor: 'one-api', config, channels: [1], nowMs });
    const channels: Channel[] = [aChannel({ id: 1, name: 'free', priority: 100 })];
    const d = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: usage.buckets, timeline: usage.timeline, usageAsOf: usage.watermark, nowMs, memory: aMemory({ lastResetAt: W }) });
    expect(d.budgets[0].used).toBe(1_000_000 + 89 * 10_000);
    expect(d.budgets[0].projection?.rate).toBeCloseTo(1000, 0);
    expect(diff(d.channels).map((c) => [c.id, c.to])).toEqual([[1, config.demoted]]);
    // The same, as a state from before the timeline would have it: no projection, no demotion.
    const before = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: usage.buckets, usageAsOf: usage.watermark, nowMs, memory: aMemory({ lastResetAt: W }) });
    expect(diff(before.channels)).toEqual([]);
  });
});
