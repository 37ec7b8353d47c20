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

/** Where config and state live: flag, then environment, then the current directory. */
/** Webhook targets from the environment; a malformed one is a configuration error (exit 78). */
export function alertTargets(ctx: Context): WebhookTarget[] {
  const { targets, problems } = webhookTargets(ctx.env);
  if (problems.length) throw new EnvError(problems);
  return targets;
}

export function context(opts: GlobalOptions, logFd: 1 | 2): Context {
  const configDir = resolve(opts.configDir ?? process.env.QUOTA_PILOT_CONFIG_DIR ?? '.');
  const stateDir = resolve(opts.stateDir ?? process.env.STATE_DIRECTORY?.split(':')[0] ?? './state');
  const env = environment(configDir);
  return { configDir, stateDir, env, log: createLogger({ fd: logFd, level: env.LOG_LEVEL }) };
}

/**
 * Loads both YAML files; throws ConfigError (exit 78) on any error, before any request is sent. `cache` keeps the
 * validated config in the state dir (off for a dry run, which writes nothing).
 */
export async function configOrThrow(ctx: Context, cache = true): Promise<{ config: Config; warnings: ConfigIssue[] }> {
  const loaded = await loadConfig(ctx.configDir, { flavor: flavorOf(ctx.env), cacheDir: cache ? ctx.stateDir : undefined });
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
