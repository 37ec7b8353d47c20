import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import type { Flavor, OneApiClient } from '../../src/oneapi/types.js';
import { BucketClock, layoutFor } from '../../src/usage/buckets.js';
import { nextIdState, steppedBack } from '../../src/usage/clock-step.js';
import { Fold } from '../../src/usage/fold.js';
import { DEFAULT_INGEST, emptyUsage, ingest, type ApiCursor, type UsageState } from '../../src/usage/ingest.js';
import { aBudget, aConfig, aDefault, aRow } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const cursor = (c: Partial<ApiCursor>): ApiCursor => ({ readTo: 1000, channels: {}, recent: [], sweptAt: 0, rates: { all: null, named: null }, skewSec: 0, ...c });
const seen = (maxId: number | null, f: { positions?: boolean; wentBack?: boolean } = {}) => ({ maxId, idsArePositions: f.positions, idsWentBack: !!f.wentBack });

describe('steppedBack', () => {
  it.each([
    [1000, 1060, 0],
    [1000, 1000, 0],
    [1000, 998, 0], // the jitter of a Date header in whole seconds
    [1000, 997, 3],
    [4600, 1000, 3600],
  ])('last read end %i, read end now %i: %i s back', (readTo, end, back) => expect(steppedBack(readTo, end)).toBe(back));
});

describe('nextIdState: the id part of the cursor', () => {
  const step = { backSec: 0, byIds: false, readTo: 1060, spanSec: 120 };
  it.each<[string, ApiCursor | null, ReturnType<typeof seen>, typeof step, unknown]>([
    ['first read: the highest id seen', null, seen(50), step, { maxId: 50, idsArePositions: undefined, idFloor: null }],
    ['no row this cycle: the old one kept', cursor({ maxId: 50 }), seen(null), step, { maxId: 50, idsArePositions: undefined, idFloor: null }],
    ['ids rise', cursor({ maxId: 50 }), seen(70), step, { maxId: 70, idsArePositions: undefined, idFloor: null }],
    ['page positions (ClickHouse): ids dropped for good', cursor({ maxId: 50 }), seen(3, { positions: true }), step, { maxId: null, idsArePositions: true, idFloor: null }],
    ['new-api pages with falling ids: an SQL store, ids usable', cursor({ maxId: 50 }), seen(70, { positions: false }), step, { maxId: 70, idsArePositions: false, idFloor: null }],
    ['SQL stays known', cursor({ maxId: 50, idsArePositions: false }), seen(70), step, { maxId: 70, idsArePositions: false, idFloor: null }],
    ['positions stay known', cursor({ idsArePositions: true }), seen(7), step, { maxId: null, idsArePositions: true, idFloor: null }],
    ['ids went back (clean-up, reuse): restart from this cycle, floor dropped', cursor({ maxId: 500, idFloor: { id: 400, until: 990 } }), seen(12, { wentBack: true }), step, { maxId: 12, idsArePositions: undefined, idFloor: null }],
    [
      'a step read by ids: the floor is the old highest id and the old read end',
      cursor({ maxId: 50, readTo: 4600 }),
      seen(60),
      { backSec: 3600, byIds: true, readTo: 1000, spanSec: 120 },
      { maxId: 60, idsArePositions: undefined, idFloor: { id: 50, until: 4600 } },
    ],
    [
      'a second step while the first floor holds: the floor widens',
      cursor({ maxId: 80, readTo: 2000, idFloor: { id: 50, until: 4600 } }),
      seen(90),
      { backSec: 1000, byIds: true, readTo: 1000, spanSec: 120 },
      { maxId: 90, idsArePositions: undefined, idFloor: { id: 80, until: 4600 } },
    ],
    ['a step recounted by time: no floor', cursor({ maxId: null, readTo: 4600 }), seen(60), { backSec: 3600, byIds: false, readTo: 1000, spanSec: 120 }, { maxId: 60, idsArePositions: undefined, idFloor: null }],
    ['the floor kept while a read reaches it', cursor({ maxId: 90, idFloor: { id: 50, until: 4600 } }), seen(95), { ...step, readTo: 4700 }, { maxId: 95, idsArePositions: undefined, idFloor: { id: 50, until: 4600 } }],
    ['the floor dropped once no read reaches it', cursor({ maxId: 90, idFloor: { id: 50, until: 4600 } }), seen(95), { ...step, readTo: 4721 }, { maxId: 95, idsArePositions: undefined, idFloor: null }],
  ])('%s', (_name, c, fold, how, want) => expect(nextIdState(c, fold, how)).toEqual(want));
});

describe('Fold: ids around a clock step', () => {
  const clock = new BucketClock(layoutFor(aConfig()));
  const q = { start: 0, end: 10_000 };
  const ch = new Set([1]);
  const row = (id: number, at: number) => aRow({ id, created_at: at, channel: 1 });
  it.each<[string, Flavor, Array<Record<string, unknown>>, { idAbove?: number; floor?: { id: number; until: number }; recounted?: number[] }, { counted: number; maxId: number | null; positions: boolean | undefined }]>([
    ['counts every row, and knows the highest id', 'one-api', [row(12, 500), row(11, 600), row(10, 400)], {}, { counted: 3, maxId: 12, positions: undefined }],
    ['a read around a step counts only ids above the highest counted', 'one-api', [row(12, 500), row(11, 600), row(10, 400)], { idAbove: 10 }, { counted: 2, maxId: 12, positions: undefined }],
    ['under the floor: counted before the step', 'one-api', [row(9, 900), row(12, 900), row(8, 1100)], { floor: { id: 10, until: 1000 } }, { counted: 2, maxId: 12, positions: undefined }],
    ['a recounted channel counts everything', 'one-api', [row(9, 900), row(12, 900)], { floor: { id: 10, until: 1000 }, recounted: [1] }, { counted: 2, maxId: 12, positions: undefined }],
    ['new-api ClickHouse: ids rising by one along a page are positions', 'new-api', [row(1, 900), row(2, 800), row(3, 700)].map((r, i) => ({ ...r, request_id: `r${i}` })), {}, { counted: 3, maxId: 3, positions: true }],
    ['new-api SQL: ids fall along a page', 'new-api', [row(30, 900), row(29, 800), row(28, 700)], {}, { counted: 3, maxId: 30, positions: false }],
    ['new-api, two rows: too few to tell', 'new-api', [row(1, 900), row(2, 800)], {}, { counted: 2, maxId: 2, positions: undefined }],
  ])('%s', (_name, flavor, rows, o, want) => {
    const fold = new Fold(flavor, clock, new Set(), 0, 0, new Set(o.recounted ?? []), o.floor ?? null);
    fold.page(rows, q, ch, o.idAbove);
    expect({ counted: fold.stats.counted, maxId: fold.maxId, positions: fold.idsArePositions }).toEqual(want);
  });

  it('a row stamped after the last read with an id at or below the highest counted: ids went back', () => {
    const fold = new Fold('one-api', clock, new Set(), 0, 0, new Set(), null, { after: 1000, maxId: 500 });
    fold.page([row(600, 1001), row(400, 990)], q, ch);
    expect(fold.idsWentBack).toBe(false);
    fold.page([row(3, 1005)], q, ch);
    expect(fold.idsWentBack).toBe(true);
  });
});

describe('ingest: OneAPI and our clock stepped back an hour together', () => {
  const NOW = DateTime.fromISO('2026-11-24T12:00', { zone: TZ }).toMillis();
  const now = NOW / 1000;
  const lag = DEFAULT_INGEST.lagSec;
  const config = aConfig({ defaults: [aDefault(1, 100)], budgets: [aBudget({ channel: 1 })] });
  const tokens = (u: UsageState) => u.buckets.reduce((s, b) => s + b.tokens, 0);
  const requests = (u: UsageState) => u.buckets.reduce((s, b) => s + b.requests, 0);

  function world(flavor: Flavor) {
    let t = NOW;
    let id = 0;
    const rows: Array<Record<string, unknown>> = [];
    const client = {
      requestCount: 0,
      throttledMs: 0,
      serverClock: () => ({ serverMs: t, localMs: t }),
      listChannels: async () => [],
      async readLogs(q: { start: number; end: number; channel?: number }, onPage: (rows: unknown[]) => void) {
        const match = rows.filter((r) => (r.created_at as number) >= q.start && (r.created_at as number) <= q.end && (q.channel === undefined || r.channel === q.channel));
        // ClickHouse: created_at desc, ids rewritten to positions. SQL (one-api): id desc.
        const sorted = flavor === 'new-api' ? [...match].sort((a, b) => (b.created_at as number) - (a.created_at as number)).map((r, i) => ({ ...r, id: i + 1 })) : [...match].sort((a, b) => (b.id as number) - (a.id as number));
        for (let p = 0; p * 10 < sorted.length || p === 0; p++) onPage(sorted.slice(p * 10, p * 10 + 10));
        return { pages: 1, rows: sorted.length, declined: false };
      },
    } as unknown as OneApiClient;
    const add = (at: number) => rows.push(aRow({ id: ++id, created_at: at, channel: 1, request_id: `req-${id}` }));
    return { client, add, set: (ms: number) => (t = ms), rows };
  }

  it.each<[Flavor]>([['one-api'], ['new-api']])('%s: every row counted exactly once', async (flavor) => {
    const w = world(flavor);
    for (let i = 0; i < 20; i++) w.add(now - 3000 + i * 100); // 11:10 to 11:42
    const first = await ingest(emptyUsage(), { client: w.client, flavor, config, channels: [1], nowMs: NOW });
    expect(requests(first.usage)).toBe(20);
    // Both clocks one hour back; rows are written with the stepped-back created_at (below the last read end).
    const back = NOW - 3_600_000 + 60_000;
    w.set(back);
    for (let i = 0; i < 5; i++) w.add(back / 1000 - 50 + i * 5);
    const second = await ingest(first.usage, { client: w.client, flavor, config, channels: [1], nowMs: back });
    expect(requests(second.usage)).toBe(25);
    expect(second.usage.cursor!.readTo).toBe(back / 1000 - lag);
    // one-api: read around by ids (a floor under what was counted); ClickHouse: no usable ids, recounted by time.
    if (flavor === 'one-api') expect(second.usage.cursor).toMatchObject({ maxId: 25, idFloor: { id: 20, until: now - lag } });
    else expect(second.usage.cursor).toMatchObject({ maxId: null, idsArePositions: true, idFloor: null });
    // Time goes on from the stepped-back clock, through the stretch read before the step.
    for (const minutes of [10, 40, 61, 70]) {
      const at = back + minutes * 60_000;
      w.set(at);
      w.add(at / 1000 - 30);
      const next = await ingest(second.usage, { client: w.client, flavor, config, channels: [1], nowMs: at });
      second.usage = next.usage;
    }
    expect(requests(second.usage)).toBe(29);
    expect(tokens(second.usage)).toBe(29 * 150);
  });
});

describe('the state checker', () => {
  const usage = (c: Partial<ApiCursor> & Record<string, unknown>) => ({ signature: 's', watermark: null, buckets: [], cursor: cursor(c) });
  it.each<[string, Record<string, unknown>, boolean]>([
    ['an older cursor, without the id fields', {}, true],
    ['ids known, a floor after a step', { maxId: 25, idsArePositions: false, idFloor: { id: 20, until: 4600 } }, true],
    ['ClickHouse positions', { maxId: null, idsArePositions: true, idFloor: null }, true],
    ['a fractional id', { maxId: 2.5 }, false],
    ['a floor without its id', { idFloor: { until: 4600 } }, false],
  ])('%s: %s', async (_name, c, ok) => {
    const { usageStateSchema } = await import('../../src/usage/schema.js');
    expect(usageStateSchema.safeParse(usage(c)).success).toBe(ok);
  });
});
