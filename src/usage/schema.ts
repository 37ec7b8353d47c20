import { z } from 'zod';

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
      channels: z.record(z.string(), int),
      recent: z.array(z.tuple([z.union([z.number(), z.string()]), z.number()])),
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
  buckets: z.array(
    z.object({ channel: int, model: z.string(), day: z.string(), start: int, tokens: z.number().nonnegative(), requests: int.nonnegative() }),
  ),
});

/** Recent samples of each budget's use (see PaceLog in burn.ts). */
export const paceLogSchema = z.record(z.string(), z.array(z.object({ at: z.number(), used: z.number(), windowStart: z.number() })));
