import { existsSync } from 'node:fs';
import { systemClock } from '../../platform/clock.js';
import type { Channel } from '../../oneapi/types.js';
import { configOrThrow, connect, context, type GlobalOptions } from '../context.js';
import { renderStatus, statusReport } from '../status-report.js';

/**
 * One row per budget, from the usage counted by the last cycle and the channels as OneAPI has them now.
 * Read-only: it neither writes to OneAPI nor changes the state file. Exit 1 when OneAPI could not be read.
 */
export async function statusCommand(opts: GlobalOptions & { json?: boolean }): Promise<number> {
  const ctx = context(opts, 2);
  const { config } = await configOrThrow(ctx);
  const { client, store, connection } = connect(ctx, true);
  const stateFile = { path: store.path, exists: existsSync(store.path) };
  const state = await store.load();
  let live: { channels: Channel[] } | { error: string };
  try {
    live = { channels: await client.listChannels() };
  } catch (err) {
    live = { error: (err as Error).message };
  }
  const report = statusReport(config, state, live, systemClock.now(), connection.flavor, stateFile);
  process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : renderStatus(report, config, !!process.stdout.isTTY && !process.env.NO_COLOR)) + '\n');
  return report.oneapi.reachable ? 0 : 1;
}
