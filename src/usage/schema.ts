import { z } from 'zod';

const int = z.number().int();

type Check = (v: unknown) => boolean;
const isInt: Check = (v) => Number.isSafeInteger(v);
const isNum: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isStr: Check = (v) => typeof v === 'string';
const nonNeg = (c: Check): Check => (v) => c(v) && (v as number) >= 0;

/**
 * An array of many small records (buckets, recent keys), checked with a plain loop: zod per element cost ~0.1 s a
 * cycle on a state with 2,000 budgets. The issue names the first bad element and field.
 */
function rowsOf<T>(fields: Array<[string | number, Check, string]>): z.ZodType<T[]> {
  return z.array(z.any()).superRefine((rows, ctx) => {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Record<string | number, unknown> | null;
      if (typeof row !== 'object' || row === null) return void ctx.addIssue({ code: 'custom', path: [i], message: 'expected a record' });
      for (const [key, ok, what] of fields) {
        if (!ok(row[key])) return void ctx.addIssue({ code: 'custom', path: [i, key], message: `expected ${what}, got ${JSON.stringify(row[key])}` });
      }
    }
  }) as unknown as z.ZodType<T[]>;
}

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
      channels: z.record(z.string(), int),
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

/** Recent samples of each budget's use (see PaceLog in burn.ts). */
export const paceLogSchema = z.record(z.string(), z.array(z.object({ at: z.number(), used: z.number(), windowStart: z.number() })));
