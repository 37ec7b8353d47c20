import { DateTime, IANAZone } from 'luxon';
import type { Flavor } from '../oneapi/types.js';
import { describe, scalar, type Entry, type YamlFile } from './parse.js';
import { TIME_PATTERN, WINDOW_KINDS } from './schema.js';
import type { ChannelRef, ConfigIssue, DefaultPriority, Source, WindowKind } from './types.js';

// ---- value rules: read one value, or report what is allowed and return undefined ----

const WINDOWS: readonly WindowKind[] = WINDOW_KINDS;
const TIME = new RegExp(TIME_PATTERN);
const TOKENS = /^(\d+(?:\.\d*)?|\.\d+)\s*([km]?)$/i;

function check<T>(y: YamlFile, e: Entry, v: T | undefined, allowed: string): T | undefined {
  if (v === undefined) y.error(y.at(e), e.path, `${allowed} (got ${describe(y.deref(e.value))})`);
  return v;
}

export function readWindow(y: YamlFile, e: Entry): WindowKind | undefined {
  const v = scalar(y, e.value);
  const ok = WINDOWS.find((w) => w === v);
  return check(y, e, ok, `must be one of ${WINDOWS.join(', ')}`);
}

export function readZone(y: YamlFile, e: Entry): string | undefined {
  const v = scalar(y, e.value);
  const ok = typeof v === 'string' && IANAZone.isValidZone(v) ? v : undefined;
  return check(y, e, ok, 'must be an IANA time zone such as Asia/Shanghai or UTC');
}

/** A token count: a YAML number, or a string such as "1_900_000", "1,900,000", "1.9M", "500k". */
export function readTokens(y: YamlFile, e: Entry): number | undefined {
  return check(y, e, parseTokens(scalar(y, e.value)), TOKENS_HINT);
}

export const TOKENS_HINT = 'must be a positive whole number of tokens, e.g. 1900000, 1_900_000, "1.9M" or "500k"';

/** 1900000, "1_900_000", "1,900,000", "1.9M", "500k" -> a positive whole number of tokens; undefined otherwise. */
export function parseTokens(v: unknown): number | undefined {
  let n: number | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = v;
  if (typeof v === 'string') {
    const m = TOKENS.exec(v.trim().replace(/[_,]/g, ''));
    if (m) n = Math.round(Number(m[1]) * { '': 1, k: 1e3, m: 1e6 }[m[2].toLowerCase() as '' | 'k' | 'm']);
  }
  return n !== undefined && n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

/** "HH:MM" local time, zero-padded ("2:20" becomes "02:20"). */
export function readTime(y: YamlFile, e: Entry, yamlKey: string): string | undefined {
  const v = scalar(y, e.value);
  const m = typeof v === 'string' ? TIME.exec(v.trim()) : null;
  if (m) return `${m[1].padStart(2, '0')}:${m[2]}`;
  if (typeof v === 'number') {
    // YAML 1.1 reads 02:20 as the sexagesimal number 140; 0220 is a number in any version.
    const advice = `YAML read it as the number ${v}: quote it, e.g. ${yamlKey}: "02:20"`;
    y.error(y.at(e), e.path, `must be a time "HH:MM" between 00:00 and 23:59; ${advice}`);
    return undefined;
  }
  return check(y, e, undefined, 'must be a time "HH:MM" between 00:00 and 23:59');
}

/** A real calendar date "YYYY-MM-DD". */
export function readDate(y: YamlFile, e: Entry): string | undefined {
  const v = scalar(y, e.value);
  // A YAML 1.1 document gives a timestamp as a Date at UTC midnight.
  const s = v instanceof Date ? v.toISOString().slice(0, 10) : v;
  const ok =
    typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && DateTime.fromISO(s, { zone: 'utc' }).isValid
      ? s
      : undefined;
  return check(y, e, ok, 'must be a calendar date YYYY-MM-DD');
}

/** A share of the budget in (0, 1]. */
export function readFraction(y: YamlFile, e: Entry): number | undefined {
  const v = scalar(y, e.value);
  const ok = typeof v === 'number' && v > 0 && v <= 1 ? v : undefined;
  return check(y, e, ok, 'must be a fraction above 0 and at most 1, e.g. 0.8');
}

/** true or false (YAML 1.2: not yes/no). */
export function readBool(y: YamlFile, e: Entry): boolean | undefined {
  const v = scalar(y, e.value);
  return check(y, e, typeof v === 'boolean' ? v : undefined, 'must be true or false');
}

/** A whole number of seconds from 0 to 3600. */
export function readSeconds(y: YamlFile, e: Entry): number | undefined {
  const v = scalar(y, e.value);
  const ok = typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 3600 ? v : undefined;
  return check(y, e, ok, 'must be a whole number of seconds from 0 to 3600, e.g. 600 for one-api with its memory cache');
}

/** routing_delay: `auto` (measured from the rows) or a number of seconds. */
export function readRoutingDelay(y: YamlFile, e: Entry): number | 'auto' | undefined {
  const v = scalar(y, e.value);
  if (v === 'auto') return 'auto';
  const ok = typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 3600 ? v : undefined;
  return check(y, e, ok, 'must be auto (the default: measured from the rows after each demotion) or a whole number of seconds from 0 to 3600');
}

export function readInt(y: YamlFile, e: Entry): number | undefined {
  const v = scalar(y, e.value);
  const ok = typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
  return check(y, e, ok, 'must be a whole number');
}

/** A YAML number is a channel id; a string is a channel name (names may be all digits). */
export function readChannelRef(y: YamlFile, e: Entry, v: unknown = scalar(y, e.value)): ChannelRef | undefined {
  const ok =
    (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) || (typeof v === 'string' && v.trim() !== '')
      ? v
      : undefined;
  return check(y, e, ok, 'must be a channel name or a channel id (a positive whole number)');
}

export function readName(y: YamlFile, e: Entry): string | undefined {
  const v = scalar(y, e.value);
  return check(y, e, typeof v === 'string' && v.trim() !== '' ? v : undefined, 'must be a non-empty model name');
}

// ---- cross-field rules: each looks at the whole draft and returns its issues ----

/** A budget as read, before the priorities file fills in its reset time. */
export interface BudgetDraft {
  path: string;
  channel?: ChannelRef;
  model?: string;
  freeTokens?: number;
  /** undefined when given but invalid; 'daily' when absent. */
  window?: WindowKind;
  resetAt?: string;
  since?: string;
  sinceGiven: boolean;
  warnAt?: number;
  demoteAt?: number;
  reenableAtRenewal?: boolean;
  /** Positions of values, by YAML key; `entry` is the list item. */
  at: Record<string, Source>;
}

export interface Draft {
  flavor: Flavor;
  /** How to name priorities.yaml in messages. */
  prioritiesName: string;
  budgets?: BudgetDraft[];
  channelsValue?: Source;
  defaults?: DefaultPriority[];
  demoted?: { value: number; at: Source };
  routingDelay?: number | 'auto';
  usageSource?: 'api' | 'database';
}

export type Rule = (d: Draft) => ConfigIssue[];

const issue = (severity: ConfigIssue['severity'], at: Source, key: string, message: string): ConfigIssue => ({
  severity,
  ...at,
  key,
  message,
});
const sameRef = (a: ChannelRef | undefined, b: ChannelRef | undefined) => a !== undefined && a === b;
const show = (r: ChannelRef) => (typeof r === 'number' ? `channel ${r}` : r);

export const sinceMatchesWindow: Rule = (d) =>
  (d.budgets ?? []).flatMap((b) => {
    if (b.window === 'total' && !b.sinceGiven) {
      const message = 'required for window: total (the date counting starts, YYYY-MM-DD)';
      return [issue('error', b.at.window, `${b.path}.since`, message)];
    }
    if (b.window && b.window !== 'total' && b.sinceGiven) {
      const message = `ignored: since only applies to window: total (this window is ${b.window})`;
      return [issue('warning', b.at.since, `${b.path}.since`, message)];
    }
    return [];
  });

export const warnAtNotAboveDemoteAt: Rule = (d) =>
  (d.budgets ?? []).flatMap((b) => {
    if (b.warnAt === undefined || b.demoteAt === undefined || b.warnAt <= b.demoteAt) return [];
    return b.at.warn_at
      ? [
          issue('error', b.at.warn_at, `${b.path}.warn_at`,
            `must not be above demote_at (${b.warnAt} > ${b.demoteAt}${b.at.demote_at ? '' : ', the default'})`),
        ]
      : [
          issue('error', b.at.demote_at, `${b.path}.demote_at`,
            `must not be below warn_at (${b.demoteAt} < ${b.warnAt}, the default)`),
        ];
  });

export const noDuplicateBudgets: Rule = (d) => {
  // A map, not a scan per budget: configs with thousands of budgets exist.
  const seen = new Map<string, BudgetDraft>();
  return (d.budgets ?? []).flatMap((b) => {
    if (b.channel === undefined || b.window === undefined) return [];
    // Names and ids never match each other (7 is an id, "7" a name), so the key keeps the type.
    const key = `${typeof b.channel}:${b.channel}\u0000${b.model ?? ''}\u0000${b.window}`;
    const first = seen.get(key);
    if (!first) seen.set(key, b);
    if (!first) return [];
    const what = `${show(b.channel)}${b.model ? ` model ${b.model}` : ''} (${b.window})`;
    const message = `duplicate budget: ${first.path} (line ${first.at.channel.line}) already budgets ${what}`;
    return [issue('error', b.at.channel, `${b.path}.channel`, message)];
  });
};

export const budgetsHaveDefaults: Rule = (d) => {
  if (!d.defaults) return [];
  const defaults = d.defaults;
  return (d.budgets ?? []).flatMap((b) => {
    const ref = b.channel;
    if (ref === undefined || defaults.some((p) => sameRef(p.channel, ref))) return [];
    // Names and ids never match each other: 7 is an id, "7" is a name.
    const twin = defaults.find((p) => String(p.channel) === String(ref));
    const hint = !twin
      ? ''
      : typeof ref === 'number'
        ? ` (defaults has "${ref}" as a name; write it unquoted to mean the id)`
        : ` (defaults has ${ref} as an id; quote it in both files or neither)`;
    const message = `${ref} has a budget but no default priority in ${d.prioritiesName} defaults${hint}`;
    return [issue('error', b.at.channel, `${b.path}.channel`, message)];
  });
};

export const demotedBelowDefaults: Rule = (d) => {
  if (!d.demoted || !d.defaults || !d.budgets) return [];
  const demoted = d.demoted.value;
  const budgeted = d.defaults.filter((p) => d.budgets!.some((b) => sameRef(b.channel, p.channel)));
  const high = budgeted.filter((p) => p.priority <= demoted);
  if (high.length === 0) return [];
  const list = high.map((p) => `${show(p.channel)} (${p.priority})`).join(', ');
  const message = `${demoted} is not below the default priority of ${list}; demoting would not move traffic away`;
  return [issue('warning', d.demoted.at, 'demoted', message)];
};

const RANDOM_ROUTING =
  'on one-api a top priority ≤ 0 makes routing pick at random across all priorities; keep demoted > 0';

export const demotedPositiveOnOneApi: Rule = (d) =>
  d.demoted && d.flavor === 'one-api' && d.demoted.value <= 0
    ? [issue('warning', d.demoted.at, 'demoted', RANDOM_ROUTING)]
    : [];

export const channelsNotEmpty: Rule = (d) =>
  d.budgets && d.budgets.length === 0 && d.channelsValue
    ? [issue('warning', d.channelsValue, 'channels', 'empty: no budgets, so no channel will ever be demoted')]
    : [];

/** Cross-field rules, run after every value has been read. */
export const RULES: readonly Rule[] = [
  sinceMatchesWindow,
  warnAtNotAboveDemoteAt,
  noDuplicateBudgets,
  budgetsHaveDefaults,
  demotedBelowDefaults,
  demotedPositiveOnOneApi,
  channelsNotEmpty,
];
