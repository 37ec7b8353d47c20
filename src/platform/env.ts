import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { DEFAULT_RATE_LIMIT, FLAVORS, type Flavor } from '../oneapi/types.js';
import { parseDbUrl, type DbTarget } from '../usage/db/url.js';

/** How to reach OneAPI, from the environment (a systemd EnvironmentFile or <config-dir>/.env). */
export interface Connection {
  baseUrl: string;
  accessToken: string;
  userId?: number;
  flavor: Flavor;
  /** Cap on quota-pilot's own request rate. */
  maxRequestsPerMinute: number;
  timeoutMs: number;
}

/** A missing or malformed setting; exit code 78 (EX_CONFIG) like a config file error. */
export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'EnvError';
  }
}

/** The process environment over the values of <dir>/.env (the real environment wins). */
export function environment(dir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const path = join(dir, '.env');
  let file: Record<string, string> = {};
  try {
    file = parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Under systemd the same file arrives through EnvironmentFile=, so an unreadable copy only matters by hand.
    if (code === 'EACCES' && !env.ONEAPI_ACCESS_TOKEN)
      throw new EnvError([`cannot read ${path}: permission denied; run as the service user (sudo -u quota-pilot quota-pilot ...)`]);
    if (code !== 'ENOENT' && code !== 'EACCES') throw err;
  }
  return { ...file, ...env };
}

/**
 * `url` with any user:password@ replaced by `***@`, for logs and messages: a password in ONEAPI_BASE_URL (a reverse
 * proxy's basic auth) must not reach the journal. Works on text that is not a valid URL too (an error echoes it).
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  const start = scheme ? scheme[0].length : 0;
  const rest = url.slice(start);
  // The authority ends at the first / ? or #; its userinfo, if any, ends at its last @.
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  return at < 0 ? url : `${url.slice(0, start)}***${rest.slice(at)}`;
}

/** The flavor alone: config validation needs it before any connection is made. */
export function flavorOf(env: Record<string, string | undefined>): Flavor {
  const f = env.ONEAPI_FLAVOR || 'one-api';
  return (FLAVORS as readonly string[]).includes(f) ? (f as Flavor) : 'one-api';
}

/** Reads and checks the connection settings; every problem is listed at once. */
export function readConnection(env: Record<string, string | undefined>): Connection {
  const problems: string[] = [];
  const baseUrl = (env.ONEAPI_BASE_URL ?? '').trim().replace(/\/+$/, '');
  if (!baseUrl) problems.push('ONEAPI_BASE_URL is not set (e.g. http://127.0.0.1:3000)');
  else if (!/^https?:\/\/[^/]+/.test(baseUrl)) problems.push(`ONEAPI_BASE_URL must be an http(s) URL (got "${redactUrl(baseUrl)}")`);
  const accessToken = (env.ONEAPI_ACCESS_TOKEN ?? '').trim();
  if (!accessToken) problems.push("ONEAPI_ACCESS_TOKEN is not set (an admin's access token, from OneAPI's personal settings)");
  const flavor = env.ONEAPI_FLAVOR || 'one-api';
  if (!(FLAVORS as readonly string[]).includes(flavor)) problems.push(`ONEAPI_FLAVOR must be one of ${FLAVORS.join(', ')} (got "${flavor}")`);
  const userId = optionalInt(env, 'ONEAPI_USER_ID', problems);
  if (flavor === 'new-api' && userId === undefined) problems.push("ONEAPI_USER_ID is required for new-api (the token owner's numeric user id)");
  const rpm = optionalInt(env, 'ONEAPI_RATE_LIMIT', problems) ?? DEFAULT_RATE_LIMIT[flavor as Flavor] ?? 120;
  const timeout = optionalInt(env, 'ONEAPI_TIMEOUT', problems) ?? 15;
  if (problems.length) throw new EnvError(problems);
  return { baseUrl, accessToken, userId, flavor: flavor as Flavor, maxRequestsPerMinute: rpm, timeoutMs: timeout * 1000 };
}

function optionalInt(env: Record<string, string | undefined>, name: string, problems: string[]): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  if (!/^[1-9]\d*$/.test(raw)) {
    problems.push(`${name} must be a positive whole number (got "${raw}")`);
    return undefined;
  }
  return Number(raw);
}

/** How to reach OneAPI's database, for `usage.source: database`. */
export interface DbSettings {
  target: DbTarget;
  /** ONEAPI_DB_TIMEOUT: connecting and each read (statement timeout); lock waits get at most 10 s of it. */
  timeoutMs: number;
}

/** ONEAPI_DB_URL, parsed, and ONEAPI_DB_TIMEOUT. EnvError (exit 78) when missing or malformed; never echoes the URL. */
export function readDbSettings(env: Record<string, string | undefined>): DbSettings {
  const problems: string[] = [];
  const timeout = optionalInt(env, 'ONEAPI_DB_TIMEOUT', problems) ?? 30;
  const raw = env.ONEAPI_DB_URL?.trim();
  let target: DbTarget | undefined;
  if (!raw) problems.push('ONEAPI_DB_URL is not set, but channels.yaml says usage.source: database (e.g. mysql://quota_pilot:PASSWORD@127.0.0.1:3306/oneapi)');
  else
    try {
      target = parseDbUrl(raw);
    } catch (err) {
      problems.push((err as Error).message);
    }
  if (problems.length || !target) throw new EnvError(problems);
  return { target, timeoutMs: timeout * 1000 };
}
