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
