import { z } from '../platform/zod.js';
import { isNum, recordOf } from '../platform/checks.js';

/** What alerting remembers between cycles so that each event goes out once. Kept in the state file. */
export const alertMemorySchema = z.object({
  /** Budget key -> window start in which its projected exhaustion was announced. */
  projected: recordOf<number>(isNum, 'a number'),
  /** Managed channels known to be auto-disabled (status 3) by OneAPI. */
  autoDisabled: z.array(z.number().int()),
  /** Channel id -> when it was demoted but kept receiving traffic, once announced (unix seconds). */
  unmoved: recordOf<number>(isNum, 'a number').default({}),
  /** Config channel references announced as not resolving, until they resolve again. */
  unresolved: z.array(z.string()).default([]),
});

export type AlertMemory = z.infer<typeof alertMemorySchema>;

export const emptyAlertMemory = (): AlertMemory => ({ projected: {}, autoDisabled: [], unmoved: {}, unresolved: [] });
