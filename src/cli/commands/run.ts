import { createNotifier } from '../../alerts/notifier.js';
import { ScrapedDays } from '../../dashboard/days.js';
import { dashboardRoutes, type DashboardDeps } from '../../dashboard/routes.js';
import { CycleWatch } from '../../dashboard/watch.js';
import { loadConfig } from '../../config/load.js';
import { ConfigError, formatIssue, type Config } from '../../config/types.js';
import type { OneApiClient } from '../../oneapi/types.js';
import { checkChannels, toIssue } from '../../policy/checks.js';
import { resolveRefs } from '../../policy/resolve.js';
import type { Logger } from 'pino';
import { healthOf, staleAfterMs } from '../../metrics/health.js';
import { createMetrics } from '../../metrics/metrics.js';
import { listenAccess, type Access } from '../../metrics/access.js';
import { parseListen, startHttpServer, type HttpServer } from '../../metrics/server.js';
import { systemClock } from '../../platform/clock.js';
import { EnvError, flavorOf, redactUrl } from '../../platform/env.js';
import { Daemon } from '../../schedule/daemon.js';
import { alertTargets, configOrThrow, connect, context, logDbFor, type GlobalOptions } from '../context.js';

export interface RunOptions extends GlobalOptions {
  interval: number;
  dryRun?: boolean;
  /** host:port for /metrics and /healthz, or "off". */
  listen: string;
  /** Serve a non-loopback --listen without QP_LISTEN_TOKEN (an explicit choice; warned at start). */
  listenWithoutToken?: boolean;
  /** Failed cycles in a row after which /healthz answers 503. */
  unhealthyAfter: number;
}

/**
 * The config checked against OneAPI's channels as `validate` checks it (policy/checks.ts): an error, a setting that
 * defeats every demotion, is a config error at start (exit 78, file:line), not something to find out tonight;
 * warnings are logged. Unresolved channel names are left to the cycles, which report them and enforce the rest.
 * OneAPI being down at start is not fatal: the daemon retries, and each cycle reports the same errors.
 */
async function checkAtStart(client: OneApiClient, config: Config, log: Logger, refs: () => Promise<Record<string, number>>): Promise<void> {
  let channels;
  try {
    channels = await client.listChannels();
  } catch (err) {
    log.warn({ error: (err as Error).message }, 'channels not checked at start: OneAPI unreachable; each cycle checks them');
    return;
  }
  // With the ids names resolved to before, as each cycle has them: a name OneAPI now repeats is still checked.
  const issues = checkChannels(config, channels, resolveRefs(config, channels, await refs())).map(toIssue);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length) throw new ConfigError(errors);
  for (const w of issues) log.warn({ issue: formatIssue(w) }, 'config warning');
}

/** The daemon: a cycle every interval plus the nightly reset, until SIGTERM or SIGINT. Resolves with the exit code. */
export async function runCommand(opts: RunOptions): Promise<number> {
  const ctx = context(opts, 1);
  const { log } = ctx;
  const { config, warnings } = await configOrThrow(ctx, !opts.dryRun);
  for (const w of warnings) log.warn({ issue: formatIssue(w) }, 'config warning');
  let listen: { host: string; port: number } | null = null;
  let access: Access | undefined;
  try {
    listen = opts.listen === 'off' ? null : parseListen(opts.listen);
    if (listen) access = listenAccess(listen.host, ctx.env.QP_LISTEN_TOKEN, !!opts.listenWithoutToken);
  } catch (err) {
    throw new EnvError([`--listen: ${(err as Error).message}`]);
  }
  const targets = alertTargets(ctx);
  const unreachableMinutes = Number(ctx.env.ALERT_UNREACHABLE_MINUTES || 5);
  if (!Number.isFinite(unreachableMinutes) || unreachableMinutes <= 0)
    throw new EnvError([`ALERT_UNREACHABLE_MINUTES must be a positive number (got "${ctx.env.ALERT_UNREACHABLE_MINUTES}")`]);
  const metrics = createMetrics();
  const { connection, client: oneapi, store } = connect(ctx, false, (endpoint, result) => metrics.recordRequest(endpoint, result));
  await checkAtStart(oneapi, config, log, () => store.peek().then((s) => s.memory.refs, () => ({})));
  const notifier = createNotifier({ targets, log: log.child({ component: 'alerts' }) });
  const logDb = logDbFor(ctx, config);
  // The dashboard shows what the cycles saw, so a page view sends no request to OneAPI.
  const watch = new CycleWatch();
  const client = watch.wrap(oneapi);
  const startedAt = systemClock.now();
  const health = () =>
    healthOf({ ...daemon.health(), startedAt, nowMs: systemClock.now(), failThreshold: opts.unhealthyAfter, staleAfterMs: staleAfterMs(opts.interval) });
  const board: DashboardDeps = { config: () => daemon.config, flavor: connection.flavor, store, watch, health, now: () => systemClock.now(), startedAt };
  // The daily totals on /metrics: made when scraped, from the state the cycles save (see ScrapedDays).
  const days = new ScrapedDays(board);
  metrics.daysFrom(
    () => days.report(),
    (err) => log.error({ err }, 'daily totals failed'),
  );
  const daemon: Daemon = new Daemon({
    logDb: () => logDb.get(),
    client,
    flavor: connection.flavor,
    store: days.tap(store),
    log,
    clock: systemClock,
    config,
    reloadConfig: () => loadConfig(ctx.configDir, { flavor: flavorOf(ctx.env) }),
    intervalSec: opts.interval,
    dryRun: !!opts.dryRun,
    onCycle: (r) => {
      metrics.recordCycle(r, systemClock.now());
      watch.onCycle(r, systemClock.now(), !!opts.dryRun);
    },
    notify: (e) => {
      notifier.send(e);
      watch.onAlert(e);
    },
    unreachableMinutes,
  });
  let server: HttpServer | null = null;
  if (listen) server = await startHttpServer({ ...listen, metrics, log, health, access, routes: dashboardRoutes(board) });
  if (access?.warning) log.warn({ listen: server?.url, token: !!access.token }, access.warning);
  return new Promise<number>((resolve, reject) => {
    // A bug must not leave a half-dead daemon: log it and exit non-zero so systemd restarts us (Restart=on-failure).
    const crash = (err: unknown) => {
      log.fatal({ err }, 'unexpected error, exiting');
      reject(err);
    };
    process.on('uncaughtException', crash);
    process.on('unhandledRejection', crash);
    const shutdown = (signal: string) => {
      log.info({ signal }, 'stopping: cancelling reads in flight');
      process.removeAllListeners('SIGTERM');
      process.removeAllListeners('SIGINT');
      daemon
        .stop()
        .then(() => logDb.close())
        .then(() => notifier.flush(5000))
        .then(() => server?.close())
        .then(
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
    // Only now, with the handlers in place: a SIGTERM sent on seeing this line would otherwise kill the process
    // (no handler yet means the default action) instead of stopping it cleanly.
    log.info(
      { flavor: connection.flavor, baseUrl: redactUrl(connection.baseUrl), usageSource: config.usageSource ?? 'api', intervalSec: opts.interval, dryRun: !!opts.dryRun, configDir: ctx.configDir, stateDir: ctx.stateDir, maxRequestsPerMinute: connection.maxRequestsPerMinute, listen: server?.url ?? 'off', listenToken: !!access?.token, alertTargets: targets.map((t) => t.name) },
      'quota-pilot started',
    );
    daemon.start();
  });
}
