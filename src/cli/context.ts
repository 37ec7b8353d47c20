import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import { ConfigError, type Config, type ConfigIssue } from '../config/types.js';
import { createClient } from '../oneapi/client.js';
import type { OneApiClient } from '../oneapi/types.js';
import { webhookTargets, type WebhookTarget } from '../alerts/targets.js';
import { EnvError, environment, flavorOf, readConnection, readDbSettings, type Connection } from '../platform/env.js';
import { LogDbHandle } from '../usage/db/connect.js';
import { createLogger } from '../platform/logger.js';
import { stateCodec, type State } from '../reconcile/state.js';
import { openStateStore, type StateStore } from '../state/store.js';

/** Options every command takes. */
export interface GlobalOptions {
  configDir?: string;
  stateDir?: string;
}

export interface Context {
  configDir: string;
  stateDir: string;
  env: Record<string, string | undefined>;
  log: Logger;
}

/** Webhook targets from the environment; a malformed one is a configuration error (exit 78). */
export function alertTargets(ctx: Context): WebhookTarget[] {
  const { targets, problems } = webhookTargets(ctx.env);
  if (problems.length) throw new EnvError(problems);
  return targets;
}

/** The system-wide install the README describes: config here, and the service's state under systemd. */
export const SYSTEM_CONFIG_DIR = '/etc/quota-pilot';
export const SYSTEM_STATE_DIR = '/var/lib/quota-pilot';

const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

/**
 * Where config and state live: the flag, then the environment, then, when /etc/quota-pilot exists (a system-wide
 * install), the service's own directories, so `sudo -u quota-pilot quota-pilot status` works from any directory;
 * otherwise the current directory and ./state.
 */
export function resolveDirs(
  opts: GlobalOptions,
  env: Record<string, string | undefined>,
  exists: (dir: string) => boolean = isDir,
): { configDir: string; stateDir: string } {
  const system = exists(SYSTEM_CONFIG_DIR);
  const configDir = opts.configDir ?? (env.QUOTA_PILOT_CONFIG_DIR || (system ? SYSTEM_CONFIG_DIR : '.'));
  const stateDir = opts.stateDir ?? (env.STATE_DIRECTORY?.split(':')[0] || (system ? SYSTEM_STATE_DIR : './state'));
  return { configDir: resolve(configDir), stateDir: resolve(stateDir) };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function context(opts: GlobalOptions, logFd: 1 | 2): Context {
  const { configDir, stateDir } = resolveDirs(opts, process.env);
  const env = environment(configDir);
  // pino throws on an unknown level; say what is allowed instead (exit 78, which systemd does not restart).
  if (env.LOG_LEVEL && !LOG_LEVELS.includes(env.LOG_LEVEL))
    throw new EnvError([`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`]);
  return { configDir, stateDir, env, log: createLogger({ fd: logFd, level: env.LOG_LEVEL || 'info' }) };
}

/**
 * Loads both YAML files; throws ConfigError (exit 78) on any error, before any request is sent. `cache` keeps the
 * validated config in the state dir (off for a dry run, which writes nothing; 'read' for status and report, which
 * use a cache they find and never write one).
 */
export async function configOrThrow(ctx: Context, cache: boolean | 'read' = true): Promise<{ config: Config; warnings: ConfigIssue[] }> {
  const loaded = await loadConfig(ctx.configDir, { flavor: flavorOf(ctx.env), cacheDir: cache ? ctx.stateDir : undefined, cacheReadOnly: cache === 'read' });
  const errors = loaded.issues.filter((i) => i.severity === 'error');
  if (errors.length || !loaded.config) throw new ConfigError(errors);
  return { config: loaded.config, warnings: loaded.issues.filter((i) => i.severity === 'warning') };
}

/**
 * OneAPI's log database, opened on first use. With usage.source: database a missing or malformed ONEAPI_DB_URL is
 * a configuration error (exit 78) at start, not a failure of the first cycle.
 */
export function logDbFor(ctx: Context, config: Config): LogDbHandle {
  if (config.usageSource === 'database') readDbSettings(ctx.env);
  return new LogDbHandle(() => readDbSettings(ctx.env), ctx.log.child({ component: 'database' }));
}

/** Everything a command that talks to OneAPI needs. */
export interface Connected {
  connection: Connection;
  client: OneApiClient;
  store: StateStore<State>;
}

/**
 * `quick` is for read-only commands that answer a person: one retry, no retry log lines. `onRequest` sees every
 * HTTP attempt (for metrics).
 */
export function connect(ctx: Context, quick = false, onRequest?: (endpoint: string, result: string) => void): Connected {
  const connection = readConnection(ctx.env);
  const client = createClient({ ...connection, ...(quick ? { retries: 1 } : { logger: ctx.log }), onRequest });
  return { connection, client, store: openStateStore(ctx.stateDir, stateCodec, ctx.log) };
}
