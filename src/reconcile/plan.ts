import type { Config } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import { decide, type Decision } from '../policy/decide.js';
import type { Memory } from '../policy/memory.js';
import { checkChannels } from '../policy/checks.js';
import { silentBudgets } from '../policy/defeats.js';
import { resolveRefs, type RefProblem, type Resolution } from '../policy/resolve.js';
import type { Bucket } from '../usage/buckets.js';
import type { PaceLog } from '../usage/burn.js';
import type { Timeline } from '../usage/timeline.js';
import type { DelayInUse } from '../policy/routing-delay.js';
import { diff, enablesOf, type Change, type Enable } from './apply.js';

/** Everything the plan is computed from: what OneAPI shows, the counted usage, the config, the time. */
export interface PlanInput {
  config: Config;
  channels: Channel[];
  buckets: Bucket[];
  /** Recent use of each budget, for burn rates. */
  pace: PaceLog;
  /** The usage's recent minutes, for burn rates (API source). */
  timeline?: Timeline;
  /** The routing delay in use (measured, configured or the flavor's). */
  routingDelay?: DelayInUse;
  /** Unix seconds up to which `buckets` count use (null: nothing read yet). */
  usageAsOf: number | null;
  memory: Memory;
  nowMs: number;
  forceReset?: boolean;
  /** resolveRefs(config, channels), when the caller already has it. */
  resolution?: Resolution;
}

/** What a cycle will do, and why: printed by --dry-run, carried out by applyChanges (the only writer). */
export interface Plan {
  /**
   * Config references OneAPI cannot satisfy, the errors of the config checked against the channels (policy/checks.ts;
   * its warnings are for validate and the start), and budgets whose model OneAPI does not log (policy/defeats.ts).
   */
  problems: RefProblem[];
  decision: Decision;
  /** The priority writes, each with its reason. */
  changes: Change[];
  /** Auto-disabled channels to enable again (reenable_at_renewal), each with its reason. */
  enables: Enable[];
}

/** The plan as a value: no I/O, no clock. */
export function makePlan(input: PlanInput): Plan {
  const resolution = input.resolution ?? resolveRefs(input.config, input.channels);
  const decision = decide({ ...input, resolution });
  const errors = checkChannels(input.config, input.channels, resolution).filter((c) => c.severity === 'error');
  const problems = [...resolution.problems, ...errors.map(({ severity: _, ...p }) => p), ...silentBudgets(decision.budgets, input.buckets, input.channels)];
  return { problems, decision, changes: diff(decision.channels), enables: enablesOf(decision.channels) };
}
