import { z } from '../platform/zod.js';
import { isInt, isNum, recordOf } from '../platform/checks.js';

/** What the policy remembers between cycles; the policy alone interprets it. */
export const memorySchema = z.object({
  /** When the nightly reset last ran (unix seconds); null before the first cycle. */
  lastResetAt: z.number().int().nullable(),
  /** Budget key -> start of the window in which its warning was given. */
  warned: recordOf<number>(isInt, 'an integer'),
  /** Channel id -> when quota-pilot demoted it, so it can be restored when the quota renews. */
  demoted: z.record(z.string(), z.object({ at: z.number().int(), reason: z.string() })),
  /** Budget key -> start of the window the last cycle measured, so a renewal is seen as one. */
  windows: recordOf<number>(isNum, 'a number'),
});

export type Memory = z.infer<typeof memorySchema>;

export const emptyMemory = (): Memory => ({ lastResetAt: null, warned: {}, demoted: {}, windows: {} });
