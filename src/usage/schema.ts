import { z } from '../platform/zod.js';
import { badRow, isInt, isNum, isStr, nonNeg, recordOf, rowsOf, type Fields } from '../platform/checks.js';

const int = z.number().int();

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
});

const PACE_SAMPLE: Fields = [
  ['at', isNum, 'a number'],
  ['used', isNum, 'a number'],
  ['windowStart', isNum, 'a number'],
];

/**
 * Recent samples of each budget's use (see PaceLog in burn.ts): an object of sample arrays, checked with plain
 * loops like the buckets (tens of thousands of samples with many budgets).
 */
export const paceLogSchema = z.any().superRefine((log, ctx) => {
  if (typeof log !== 'object' || log === null || Array.isArray(log)) return void ctx.addIssue({ code: 'custom', message: 'expected an object of sample lists' });
  for (const key in log) {
    const bad = badRow((log as Record<string, unknown>)[key], PACE_SAMPLE);
    if (bad) return void ctx.addIssue({ code: 'custom', path: [key, ...bad.path], message: bad.message });
  }
}) as unknown as z.ZodType<Record<string, Array<{ at: number; used: number; windowStart: number }>>>;
