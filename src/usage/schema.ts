import { z } from '../platform/zod.js';
import { isInt, isNum, isStr, nonNeg, recordOf, rowsOf, type Problem } from '../platform/checks.js';
import type { PaceLog } from './burn.js';
import type { Timeline } from './timeline.js';

const int = z.number().int();

/** What is wrong with one series of the usage timeline (see Series in timeline.ts), if anything. */
function badSeries(t: unknown): Problem | undefined {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return { path: [], message: 'expected a record of from and tokens' };
  const { from, tokens, elapsed, starts } = t as Record<string, unknown>;
  if (!isInt(from)) return { path: ['from'], message: `expected an integer, got ${JSON.stringify(from)}` };
  if (!Array.isArray(tokens)) return { path: ['tokens'], message: 'expected an array' };
  if (elapsed !== undefined && (!Array.isArray(elapsed) || elapsed.length !== tokens.length)) return { path: ['elapsed'], message: `expected an array as long as tokens (${tokens.length})` };
  for (const [name, xs] of [['tokens', tokens], ['elapsed', elapsed ?? []]] as const)
    for (let i = 0; i < (xs as unknown[]).length; i++) {
      const x = (xs as unknown[])[i];
      if (!isNum(x) || (x as number) < 0) return { path: [name, i], message: `expected a number ≥ 0, got ${JSON.stringify(x)}` };
    }
  if (starts !== undefined && (!Array.isArray(starts) || !starts.every(isNum))) return { path: ['starts'], message: 'expected an array of numbers' };
  return undefined;
}

/** The usage timeline (see Timeline in timeline.ts); absent in older states and under the database source. */
const timelineSchema = z.any().superRefine((t, ctx) => {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return void ctx.addIssue({ code: 'custom', message: 'expected a record of from and series' });
  const { from, series } = t as Record<string, unknown>;
  if (!isNum(from)) return void ctx.addIssue({ code: 'custom', path: ['from'], message: `expected a number, got ${JSON.stringify(from)}` });
  if (typeof series !== 'object' || series === null || Array.isArray(series)) return void ctx.addIssue({ code: 'custom', path: ['series'], message: 'expected an object of series' });
  for (const key in series) {
    const bad = badSeries((series as Record<string, unknown>)[key]);
    if (bad) return void ctx.addIssue({ code: 'custom', path: ['series', key, ...bad.path], message: bad.message });
  }
}) as unknown as z.ZodType<Timeline>;

/**
 * The usage part of the state file (see UsageState in ingest.ts, which this must match). Loose objects: a field
 * added by ingest is kept, not stripped; the fields a cycle computes with must be there and be numbers.
 */
export const usageStateSchema = z.looseObject({
  signature: z.string(),
  watermark: z.number().nullable(),
  cursor: z
    .looseObject({
      readTo: int,
      channels: recordOf<number>(isInt, 'an integer'),
      recent: rowsOf<[number | string, number]>([
        [0, (v) => isNum(v) || isStr(v), 'a number or string key'],
        [1, isNum, 'a number'],
      ]),
      sweptAt: z.number(),
      rates: z.object({ all: z.number().nullable(), named: z.number().nullable() }),
      skewSec: z.number(),
      // Added for clock steps (issue 16); absent in older states, which read on by time until a cycle fills them.
      maxId: int.nullable().optional(),
      idsArePositions: z.boolean().optional(),
      idFloor: z.object({ id: int, until: int }).nullable().optional(),
    })
    .nullable(),
  /** The database source's cursor (see DbCursor in db/ingest-db.ts); absent or null under the API source. */
  dbCursor: z
    .looseObject({
      db: z.string(),
      settledTo: int,
      readTo: int,
      channels: z.record(z.string(), int),
      tail: z.array(z.tuple([int, z.string(), int, z.number().nonnegative(), int.nonnegative()])),
      skewSec: z.number(),
      // Added for clock steps (issue 16); absent in older states.
      maxId: int.nullable().optional(),
      clockAt: int.optional(),
    })
    .nullable()
    .optional(),
  buckets: rowsOf<{ channel: number; model: string; day: string; start: number; tokens: number; requests: number }>([
    ['channel', isInt, 'an integer'],
    ['model', isStr, 'a string'],
    ['day', isStr, 'a string'],
    ['start', isInt, 'an integer'],
    ['tokens', nonNeg(isNum), 'a number ≥ 0'],
    ['requests', nonNeg(isInt), 'an integer ≥ 0'],
  ]),
  timeline: timelineSchema.optional(),
});

/** What is wrong with one budget's pace track (see PaceTrack in burn.ts), if anything. */
function badTrack(t: unknown): Problem | undefined {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return { path: [], message: 'expected a record of windowStart, at and used' };
  const { windowStart, at, used } = t as Record<string, unknown>;
  if (!isNum(windowStart)) return { path: ['windowStart'], message: `expected a number, got ${JSON.stringify(windowStart)}` };
  if (!Array.isArray(at)) return { path: ['at'], message: 'expected an array' };
  if (!Array.isArray(used) || used.length !== at.length) return { path: ['used'], message: `expected an array as long as at (${at.length})` };
  for (let i = 0; i < at.length; i++) {
    if (!isNum(at[i]) || (i > 0 && at[i] <= at[i - 1])) return { path: ['at', i], message: `expected a number above the one before, got ${JSON.stringify(at[i])}` };
    if (!isNum(used[i])) return { path: ['used', i], message: `expected a number, got ${JSON.stringify(used[i])}` };
  }
  return undefined;
}

/**
 * Recent samples of each budget's use (see PaceLog in burn.ts): a track of parallel arrays per budget, checked with
 * plain loops like the buckets (tens of thousands of samples with many budgets).
 */
export const paceLogSchema = z.any().superRefine((log, ctx) => {
  if (typeof log !== 'object' || log === null || Array.isArray(log)) return void ctx.addIssue({ code: 'custom', message: 'expected an object of pace tracks' });
  for (const key in log) {
    const bad = badTrack((log as Record<string, unknown>)[key]);
    if (bad) return void ctx.addIssue({ code: 'custom', path: [key, ...bad.path], message: bad.message });
  }
}) as unknown as z.ZodType<PaceLog>;
