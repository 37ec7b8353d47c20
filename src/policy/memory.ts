import { z } from '../platform/zod.js';
import { isInt, isNum, recordOf } from '../platform/checks.js';

/**
 * A restore recorded before its write (write-ahead, like a journal): the state is saved with it before the PUT, and
 * it is dropped only once OneAPI shows `to` (or someone else changed the channel meanwhile). A crash between the
 * save and the write, or a write that fails, leaves it here for the next cycle to finish, alone.
 */
const pendingSchema = z.object({
  /** The priority the write sets. */
  to: z.number().int(),
  /** The priority OneAPI showed when the write was planned: anything else later means a person changed it. */
  from: z.number().int(),
  /** 'reset': the nightly reset (or `reset`); 'renewed': rule 3, the quota renewed. */
  cause: z.enum(['reset', 'renewed']),
  /** When it was planned (unix seconds). */
  at: z.number().int(),
  reason: z.string(),
  /** Write attempts that did not land yet. */
  tries: z.number().int(),
});

/** What the policy remembers between cycles; the policy alone interprets it. Every part is a hint, safe to lose. */
export const memorySchema = z.object({
  /** When the nightly reset last began (unix seconds); null before the first cycle. */
  lastResetAt: z.number().int().nullable(),
  /** Budget key -> start of the window in which its warning was given. */
  warned: recordOf<number>(isInt, 'an integer'),
  /** Channel id -> when quota-pilot demoted it, so it can be restored when the quota renews. */
  demoted: z.record(z.string(), z.object({ at: z.number().int(), reason: z.string() })),
  /** Budget key -> start of the window the last cycle measured, so a renewal is seen as one. */
  windows: recordOf<number>(isNum, 'a number'),
  /** Channel id -> a restore not yet shown by OneAPI (see pendingSchema). */
  pending: z.record(z.string(), pendingSchema).default({}),
  /** Channel name in config -> the id it last resolved to, so a name that OneAPI later repeats keeps its channel. */
  refs: recordOf<number>(isInt, 'an integer').default({}),
  /**
   * Budget key -> when the provider stopped it: OneAPI auto-disabled its channel (status 3) before the budget was
   * spent by the logs. The budget counts as spent for the rest of that window; kept past it only while the channel
   * stays auto-disabled (for reenable_at_renewal).
   */
  stopped: z.record(z.string(), z.object({ window: z.number(), used: z.number(), at: z.number().int() })).default({}),
});

export type Memory = z.infer<typeof memorySchema>;
export type PendingWrite = z.infer<typeof pendingSchema>;

export const emptyMemory = (): Memory => ({ lastResetAt: null, warned: {}, demoted: {}, windows: {}, pending: {}, refs: {}, stopped: {} });

/**
 * The memory once this cycle's writes are known: a restore whose write OneAPI confirmed (read back) is done; one
 * that failed counts a try and stays for the next cycle. Pure.
 */
export function settleWrites(memory: Memory, applied: Array<{ id: number; to: number }>, failed: Array<{ id: number; to: number }>): Memory {
  const pending = { ...memory.pending };
  for (const c of applied) if (pending[c.id]?.to === c.to) delete pending[c.id];
  for (const c of failed) {
    const p = pending[c.id];
    if (p?.to === c.to) pending[c.id] = { ...p, tries: p.tries + 1 };
  }
  return { ...memory, pending };
}

/** Restores of the nightly reset still waiting for OneAPI to show them. */
export const pendingResets = (m: Memory): number => Object.values(m.pending).filter((p) => p.cause === 'reset').length;

/**
 * Where the nightly reset stands after a cycle's writes: begun this cycle or earlier, and how many of its restores
 * OneAPI has yet to show. A reset is done when OneAPI shows it, not when it was attempted.
 */
export interface ResetProgress {
  /** The reset began this cycle ('due' or 'forced'). */
  began: boolean;
  /** Restores of the reset waiting before this cycle, and still waiting after its writes. */
  before: number;
  left: number;
}
