import type { Logger } from 'pino';
import type { ChannelPlan } from '../policy/decide.js';
import type { OneApiClient } from '../oneapi/types.js';

import type { Change } from '../policy/change.js';

export type { Change } from '../policy/change.js';

/** The writes a plan needs: only channels whose desired priority differs from the observed one. */
export function diff(plans: ChannelPlan[]): Change[] {
  return plans
    .filter((p) => p.desired !== p.observed)
    .map((p) => ({ id: p.id, name: p.name, from: p.observed, to: p.desired, reason: p.reason ?? 'policy' }));
}

/** A channel to enable again (status 1): one that OneAPI auto-disabled, under reenable_at_renewal. */
export interface Enable {
  id: number;
  name: string;
  reason: string;
}

/** The enables a plan needs: auto-disabled channels whose budgets renewed (see reenablePlan in policy/decide.ts). */
export function enablesOf(plans: ChannelPlan[]): Enable[] {
  return plans.filter((p) => p.enable !== undefined && p.status === 3).map((p) => ({ id: p.id, name: p.name, reason: p.enable! }));
}

/** Enables each channel, then reads it back to confirm status 1; a failure is logged and reported, the rest go on. */
export async function applyEnables(client: OneApiClient, enables: Enable[], log: Logger): Promise<{ applied: Enable[]; failed: Array<{ enable: Enable; error: Error }> }> {
  const result = { applied: [] as Enable[], failed: [] as Array<{ enable: Enable; error: Error }> };
  for (const e of enables) {
    const fields = { channel: e.id, name: e.name, reason: e.reason };
    try {
      await client.enableChannel(e.id);
      const back = await client.getChannel(e.id);
      if (back.status !== 1) throw new Error(`OneAPI accepted the write but channel ${e.id} reads back status ${back.status}`);
      log.info(fields, 'channel enabled');
      result.applied.push(e);
    } catch (err) {
      log.error({ ...fields, err }, 'channel enable failed');
      result.failed.push({ enable: e, error: err as Error });
    }
  }
  return result;
}

export interface ApplyResult {
  applied: Change[];
  failed: Array<{ change: Change; error: Error }>;
}

/**
 * The only write path: PUTs each change as {id, priority}, then reads the channel back to confirm it.
 * A failed change is logged and reported; the others still go ahead.
 */
export async function applyChanges(client: OneApiClient, changes: Change[], log: Logger): Promise<ApplyResult> {
  const result: ApplyResult = { applied: [], failed: [] };
  for (const change of changes) {
    const fields = { channel: change.id, name: change.name, from: change.from, to: change.to, reason: change.reason };
    try {
      await client.setPriority(change.id, change.to);
      const back = await client.getChannel(change.id);
      if (back.priority !== change.to)
        throw new Error(`OneAPI accepted the write but channel ${change.id} reads back priority ${back.priority}`);
      log.info(fields, 'priority changed');
      result.applied.push(change);
    } catch (err) {
      log.error({ ...fields, err }, 'priority change failed');
      result.failed.push({ change, error: err as Error });
    }
  }
  return result;
}
