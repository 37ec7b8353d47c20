import { createNotifier } from '../../alerts/notifier.js';
import { systemClock } from '../../platform/clock.js';
import { runCycle } from '../../reconcile/cycle.js';
import { StateSaveError } from '../../reconcile/errors.js';
import { OneApiError } from '../../oneapi/types.js';
import { alertTargets, configOrThrow, connect, context, logDbFor, type GlobalOptions } from '../context.js';
import { cycleSummary } from '../render.js';

/** `once` and `reset`: one cycle, then an exit code that says whether it completed. */
export async function onceCommand(opts: GlobalOptions & { dryRun?: boolean; lockWait: number }, forceReset: boolean): Promise<number> {
  const ctx = context(opts, 2);
  const { config, warnings } = await configOrThrow(ctx, !opts.dryRun);
  for (const w of warnings) ctx.log.warn({ issue: `${w.file}:${w.line}:${w.col} ${w.key}: ${w.message}` }, 'config warning');
  const notifier = createNotifier({ targets: alertTargets(ctx), log: ctx.log.child({ component: 'alerts' }) });
  const { client, store, connection } = connect(ctx);
  // SIGTERM or SIGINT during the wait for another writer's lock ends the wait (exit 75, as when it times out);
  // once the lock is held, a signal ends the process as it always did.
  const waitable: typeof store = {
    ...store,
    lock: async (command, waitMs) => {
      const ac = new AbortController();
      const cancel = (signal: NodeJS.Signals) => ac.abort(signal);
      process.once('SIGTERM', cancel).once('SIGINT', cancel);
      try {
        return await store.lock(command, waitMs, { signal: ac.signal });
      } finally {
        process.off('SIGTERM', cancel).off('SIGINT', cancel);
      }
    },
  };
  const logDb = logDbFor(ctx, config);
  const result = await runCycle(
    { client, flavor: connection.flavor, config, store: waitable, log: ctx.log, logDb: () => logDb.get() },
    { nowMs: systemClock.now(), dryRun: opts.dryRun, forceReset, lock: { command: forceReset ? 'reset' : 'once', waitMs: opts.lockWait * 1000 } },
  ).finally(() => logDb.close());
  // A cycle that failed before it could decide is said once, as `error: …` on stderr (and one log line); its
  // summary would only say it a third time.
  const thrown = !result.decision && (result.error instanceof OneApiError || result.error instanceof StateSaveError);
  if (!thrown) process.stdout.write(cycleSummary(forceReset ? 'reset' : 'once', result, !!opts.dryRun) + '\n');
  for (const e of result.events) notifier.send(e);
  await notifier.flush(10_000);
  // The cycle enforced everything else, but a budget whose channel does not resolve is not enforced: not a success.
  const unresolved = result.decision?.budgets.filter((b) => b.state === 'unresolved') ?? [];
  if (result.ok && unresolved.length > 0) {
    process.stderr.write(`error: ${unresolved.length} budget${unresolved.length === 1 ? ' is' : 's are'} not enforced, their channel does not resolve in OneAPI: ${unresolved.map((b) => b.budget.key).join(', ')}\n`);
    return 78;
  }
  if (result.ok) return 0;
  if (result.error instanceof StateSaveError) throw result.error;
  if (result.error instanceof OneApiError) {
    ctx.log.error({ error: result.error.message, kind: result.error.kind, endpoint: result.error.endpoint, status: result.error.status }, 'cycle failed');
    throw result.error;
  }
  return 1;
}
