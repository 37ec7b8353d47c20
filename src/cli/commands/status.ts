import { existsSync } from 'node:fs';
import { systemClock } from '../../platform/clock.js';
import { OneApiError, type Channel } from '../../oneapi/types.js';
import { StateFileRefused, type StateStore } from '../../state/store.js';
import type { State } from '../../reconcile/state.js';
import { CommandError } from '../errors.js';
import { configOrThrow, connect, context, type GlobalOptions } from '../context.js';
import { renderStatus, statusReport } from '../status-report.js';

/**
 * One row per budget, from the usage counted by the last cycle and the channels as OneAPI has them now.
 * Read-only: it neither writes to OneAPI nor writes, moves or follows a link in the state dir. Exit 1 when OneAPI
 * could not be read or the state file is a symlink, 77 when OneAPI refused the token (the report is printed first).
 */
export async function statusCommand(opts: GlobalOptions & { json?: boolean }): Promise<number> {
  const ctx = context(opts, 2);
  const { config } = await configOrThrow(ctx, 'read');
  const { client, store, connection } = connect(ctx, true);
  const stateFile = { path: store.path, exists: existsSync(store.path) };
  const state = await peekState(store);
  let live: { channels: Channel[] } | { error: string; refused: boolean };
  let refused = false;
  try {
    live = { channels: await client.listChannels() };
  } catch (err) {
    refused = err instanceof OneApiError && err.kind === 'auth';
    live = { error: (err as Error).message, refused };
  }
  const report = statusReport(config, state, live, systemClock.now(), connection.flavor, stateFile);
  process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : renderStatus(report, config, !!process.stdout.isTTY && !process.env.NO_COLOR)) + '\n');
  // The same codes as every other command: a refused token is 77, OneAPI out of reach 1.
  return report.oneapi.reachable ? 0 : refused ? 77 : 1;
}

/** The state as a reader sees it (store.peek); a symlinked state file is a failure with its message (exit 1). */
export function peekState(store: StateStore<State>): Promise<State> {
  return store.peek().catch((err: unknown) => {
    throw err instanceof StateFileRefused ? new CommandError(err.message) : err;
  });
}
