import type { Flavor } from '../oneapi/types.js';

/** How a config file names a channel: a number is an id, a string is a name. */
export type ChannelRef = number | string;

export type WindowKind = 'daily' | 'weekly' | 'monthly' | 'total';

/** Where a value came from, for messages that point at file:line. */
export interface Source {
  file: string;
  line: number;
  col: number;
}

/** One free-quota budget from channels.yaml, with defaults applied. */
export interface Budget {
  /** Stable identity used in state and output: `<channel>` or `<channel>/<model>`. */
  key: string;
  channel: ChannelRef;
  /** Count only logs whose model_name equals this. */
  model?: string;
  freeTokens: number;
  window: WindowKind;
  /** "HH:MM" local time at which the window renews. */
  resetAt: string;
  /** "YYYY-MM-DD", the start of a `total` window. */
  since?: string;
  warnAt: number;
  demoteAt: number;
  /** Enable the channel again at this window's renewal when OneAPI auto-disabled it (status 3) in an earlier one. */
  reenableAtRenewal?: boolean;
  source: Source;
  /** Where `model` was written, for messages about it. */
  modelSource?: Source;
}

export interface DefaultPriority {
  channel: ChannelRef;
  priority: number;
  source: Source;
}

/** The validated, normalised contents of channels.yaml and priorities.yaml. */
export interface Config {
  /** The OneAPI flavor the config was read for (ONEAPI_FLAVOR): it decides which model names are errors. */
  flavor: Flavor;
  /** IANA zone for budget windows. */
  timezone: string;
  budgets: Budget[];
  reset: { at: string; timezone: string };
  defaults: DefaultPriority[];
  demoted: number;
  /** Where `demoted` is set in priorities.yaml, for the problems it causes. */
  demotedSource: Source;
  /**
   * Seconds from a priority write until OneAPI routes by it (its channel cache): the number in the config, else the
   * flavor's default (DEFAULT_ROUTING_DELAY). A demotion is sent this long before the budget is projected to run out.
   */
  routingDelaySec: number;
  /**
   * routing_delay: auto (the default): the delay is measured from the rows after each demotion, and
   * routingDelaySec is only where it starts (see policy/routing-delay.ts). Absent: false (a number was set).
   */
  routingDelayAuto?: boolean;
  /** Where usage is read: OneAPI's admin API (default), or its database (ONEAPI_DB_URL). */
  usageSource?: UsageSource;
}

export const USAGE_SOURCES = ['api', 'database'] as const;
export type UsageSource = (typeof USAGE_SOURCES)[number];

/**
 * one-api: with its memory cache (on with Redis or MEMORY_CACHE_ENABLED) routing follows the DB every
 * SYNC_FREQUENCY, 600 s by default. new-api and one-hub route a change at once on the node that took the write
 * (other nodes: 60 s / 600 s; set routing_delay then).
 */
export const DEFAULT_ROUTING_DELAY: Record<'one-api' | 'new-api' | 'one-hub', number> = { 'one-api': 600, 'new-api': 0, 'one-hub': 0 };

export interface ConfigIssue {
  severity: 'error' | 'warning';
  file: string;
  line: number;
  col: number;
  /** Dotted path of the key, e.g. `channels[0].free_tokens`. */
  key: string;
  message: string;
}

/** Renders an issue as `file:line:col key: message`. */
export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col} ${i.key}: ${i.message}`;
}

/** Invalid configuration; carries every issue found. Exit code 78 (EX_CONFIG). */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}
