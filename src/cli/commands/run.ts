import { loadConfig } from '../../config/load.js';
import { formatIssue } from '../../config/types.js';
import { flavorOf } from '../../platform/env.js';
import { systemClock } from '../../platform/clock.js';
import { Daemon } from '../../schedule/daemon.js';
import { configOrThrow, connect, context, type GlobalOptions } from '../context.js';

/** The daemon: a cycle every interval plus the nightly reset, until SIGTERM or SIGINT. Resolves with the exit code. */
export async function runCommand(opts: GlobalOptions & { interval: number; dryRun?: boolean }): Promise<number> {
  const ctx = context(opts, 1);
  const { log } = ctx;
  const { config, warnings } = await configOrThrow(ctx);
  for (const w of warnings) log.warn({ issue: formatIssue(w) }, 'config warning');
  const { connection, client, store } = connect(ctx);
  const daemon = new Daemon({
    client,
    store,
    log,
    clock: systemClock,
    config,
    reloadConfig: () => loadConfig(ctx.configDir, { flavor: flavorOf(ctx.env) }),
    intervalSec: opts.interval,
    dryRun: !!opts.dryRun,
  });
  log.info(
    { flavor: connection.flavor, baseUrl: connection.baseUrl, intervalSec: opts.interval, dryRun: !!opts.dryRun, configDir: ctx.configDir, stateDir: ctx.stateDir, maxRequestsPerMinute: connection.maxRequestsPerMinute },
    'quota-pilot started',
  );
  daemon.start();
  return new Promise<number>((resolve, reject) => {
    // A bug must not leave a half-dead daemon: log it and exit non-zero so systemd restarts us (Restart=on-failure).
    const crash = (err: unknown) => {
      log.fatal({ err }, 'unexpected error, exiting');
      reject(err);
    };
    process.on('uncaughtException', crash);
    process.on('unhandledRejection', crash);
    const shutdown = (signal: string) => {
      log.info({ signal }, 'stopping: finishing the cycle in flight');
      process.removeAllListeners('SIGTERM');
      process.removeAllListeners('SIGINT');
      daemon.stop().then(
        () => {
          log.info({}, 'quota-pilot stopped');
          resolve(0);
        },
        (err) => {
          log.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => {
      log.info({}, 'SIGHUP: reloading config');
      void daemon.reload();
    });
  });
}
