import { basename } from 'node:path';
import { isScalar, isSeq } from 'yaml';
import type { Node } from 'yaml';
import type { Flavor } from '../oneapi/types.js';
import { describe, entries, isUnreadable, join, readYaml, scalar, type Entry, type FileText, type YamlFile } from './parse.js';
import * as r from './rules.js';
import { BUDGET_SCHEMA, CHANNELS_SCHEMA, keysOf, PRIORITIES_SCHEMA } from './schema.js';
import type { BudgetDraft, Draft } from './rules.js';
import { DEFAULT_ROUTING_DELAY, USAGE_SOURCES, type Budget, type Config, type ConfigIssue, type DefaultPriority, type UsageSource } from './types.js';

export interface ConfigFiles {
  channels: { path: string; text: string | null /* null = file missing */ };
  priorities: { path: string; text: string | null };
}

export interface LoadedConfig {
  config?: Config;
  /** Errors and warnings; `config` is undefined iff any is an error. */
  issues: ConfigIssue[];
}

// Keys, required keys and defaults come from the JSON Schema the editors use (schema.ts): one source of truth.
const B = BUDGET_SCHEMA.properties;
const DEFAULT_ZONE = CHANNELS_SCHEMA.properties.timezone.default;
const DEFAULT_RESET = PRIORITIES_SCHEMA.properties.reset.properties.at.default;
const BUDGET_KEYS = keysOf(BUDGET_SCHEMA);
const REQUIRED: Record<string, string> = { channel: 'the OneAPI channel name or id', free_tokens: 'the free tokens per window' };
const HINT = 'quota-pilot reads channels.yaml and priorities.yaml from its config directory (see the shipped examples)';

const rootEntry = (y: YamlFile): Entry => ({ path: '', keyNode: y.root, value: y.root });

function readBudget(y: YamlFile, e: Entry): BudgetDraft | undefined {
  const m = entries(y, e, BUDGET_KEYS)?.map;
  if (!m) return undefined;
  const b: BudgetDraft = { path: e.path, sinceGiven: m.has('since'), window: B.window.default, warnAt: B.warn_at.default, demoteAt: B.demote_at.default, at: {} };
  b.at.entry = y.pos(y.deref(e.value));
  for (const [k, v] of m) b.at[k] = y.at(v);
  const get = <T>(k: string, read: (v: Entry) => T | undefined): T | undefined => {
    const v = m.get(k);
    return v ? read(v) : undefined;
  };
  b.channel = get('channel', (v) => r.readChannelRef(y, v));
  b.model = get('model', (v) => r.readName(y, v));
  b.freeTokens = get('free_tokens', (v) => r.readTokens(y, v));
  b.resetAt = get('reset_at', (v) => r.readTime(y, v, 'reset_at'));
  b.since = get('since', (v) => r.readDate(y, v));
  if (m.has('window')) b.window = get('window', (v) => r.readWindow(y, v));
  if (m.has('warn_at')) b.warnAt = get('warn_at', (v) => r.readFraction(y, v));
  if (m.has('demote_at')) b.demoteAt = get('demote_at', (v) => r.readFraction(y, v));
  if (m.has('reenable_at_renewal')) b.reenableAtRenewal = get('reenable_at_renewal', (v) => r.readBool(y, v));
  for (const k of BUDGET_SCHEMA.required) {
    if (!m.has(k)) y.error(b.at.entry, join(e.path, k), `required: ${REQUIRED[k] ?? k}`);
  }
  return b;
}

/** `usage: {source: api | database}`; absent means api. */
function readUsage(y: YamlFile, e: Entry): UsageSource | undefined {
  const source = entries(y, e, ['source'])?.map.get('source');
  if (!source) return undefined;
  const v = scalar(y, source.value);
  const ok = USAGE_SOURCES.find((s) => s === v);
  if (!ok) y.error(y.at(source), source.path, `must be one of ${USAGE_SOURCES.join(', ')} (got ${describe(y.deref(source.value))}); database also needs ONEAPI_DB_URL`);
  return ok;
}

function readChannelsFile(y: YamlFile, d: Draft): string | undefined {
  const m = entries(y, rootEntry(y), keysOf(CHANNELS_SCHEMA))?.map;
  if (!m) return undefined;
  const usage = m.get('usage');
  if (usage) d.usageSource = readUsage(y, usage);
  const tz = m.get('timezone');
  const timezone = tz ? r.readZone(y, tz) : DEFAULT_ZONE;
  const list = m.get('channels');
  if (!list) {
    y.error(y.pos(y.root), 'channels', 'required: a list of budgets (write channels: [] for none)');
    return timezone;
  }
  const node = y.deref(list.value);
  d.channelsValue = y.at(list);
  if (isScalar(node) && node.value === null) d.budgets = [];
  else if (isSeq(node)) {
    const items = node.items as Node[];
    d.budgets = items.flatMap((item, i) => readBudget(y, { path: `channels[${i}]`, keyNode: item, value: item }) ?? []);
  } else {
    y.error(y.at(list), 'channels', 'must be a list of budgets, each starting with "- channel:"');
  }
  return timezone;
}

function readPrioritiesFile(y: YamlFile, d: Draft): { at?: string; timezone?: string } {
  const reset: { at?: string; timezone?: string } = { at: DEFAULT_RESET };
  const m = entries(y, rootEntry(y), keysOf(PRIORITIES_SCHEMA))?.map;
  if (!m) return reset;
  const delay = m.get('routing_delay');
  if (delay) d.routingDelay = r.readRoutingDelay(y, delay);
  const resetEntry = m.get('reset');
  const rm = resetEntry ? entries(y, resetEntry, keysOf(PRIORITIES_SCHEMA.properties.reset))?.map : undefined;
  const at = rm?.get('at');
  const tz = rm?.get('timezone');
  if (at) reset.at = r.readTime(y, at, 'at');
  if (tz) reset.timezone = r.readZone(y, tz);

  const defaults = m.get('defaults');
  if (!defaults) y.error(y.pos(y.root), 'defaults', 'required: the priority of each channel to restore at the reset');
  const dm = defaults ? entries(y, defaults, null) : undefined;
  if (dm) {
    const seen: DefaultPriority[] = [];
    for (const pair of dm.pairs) {
      const k = scalar(y, pair.key as Node);
      const e: Entry = { path: join('defaults', String(k)), keyNode: pair.key as Node, value: pair.value as Node };
      const channel = r.readChannelRef(y, { ...e, value: pair.key as Node }, k);
      const priority = r.readInt(y, e);
      // A repeated key is already an error; keep the first so the rules see one entry.
      if (channel === undefined || priority === undefined || seen.some((p) => p.channel === channel)) continue;
      seen.push({ channel, priority, source: y.pos(pair.key as Node) });
    }
    d.defaults = seen;
  }

  const demoted = m.get('demoted');
  if (!demoted) y.error(y.pos(y.root), 'demoted', 'required: the priority of a channel whose free quota is used up');
  const value = demoted ? r.readInt(y, demoted) : undefined;
  if (demoted && value !== undefined) d.demoted = { value, at: y.at(demoted) };
  return reset;
}

/**
 * A budget's key, which names it in the state, metrics labels and alert memory: `<name>[/<model>][:<window>]`, and
 * for a channel given by id `#<id>…`, so channel 7 and a channel named "7" never share one. Names keep the form
 * they always had (the keys already stored stay valid).
 */
export function budgetKey(channel: number | string, model: string | undefined, window: string): string {
  return `${typeof channel === 'number' ? `#${channel}` : channel}${model ? `/${model}` : ''}${window !== 'daily' ? `:${window}` : ''}`;
}

/**
 * Two budgets whose keys are the same text would share their memory; a name can still make one (a name "#7", or a
 * name with a "/" next to a model), so it is an error at the later budget, not a silent merge.
 */
function keyCollisions(budgets: Budget[]): ConfigIssue[] {
  const seen = new Map<string, Budget>();
  const issues: ConfigIssue[] = [];
  budgets.forEach((b, i) => {
    const first = seen.get(b.key);
    if (!first) return void seen.set(b.key, b);
    issues.push({
      severity: 'error',
      ...b.source,
      key: `channels[${i}].channel`,
      message: `this budget's key "${b.key}" is also the key of the budget on line ${first.source.line}; they would share their state: give the channel by id or rename it in OneAPI`,
    });
  });
  return issues;
}

function toBudget(b: BudgetDraft, resetAt: string): Budget {
  const window = b.window!;
  return {
    key: budgetKey(b.channel!, b.model, window),
    channel: b.channel!,
    ...(b.model !== undefined && { model: b.model }),
    freeTokens: b.freeTokens!,
    window,
    resetAt: b.resetAt ?? resetAt,
    ...(window === 'total' && { since: b.since }),
    warnAt: b.warnAt!,
    demoteAt: b.demoteAt!,
    ...(b.reenableAtRenewal && { reenableAtRenewal: true }),
    source: b.at.channel,
    ...(b.at.model && { modelSource: b.at.model }),
  };
}

/** Reads both files' text into a validated Config, or every issue that prevents one. Pure. */
export function parseConfig(files: ConfigFiles, opts?: { flavor?: Flavor }): LoadedConfig {
  return parseTexts(files.channels.path, files.channels.text, files.priorities.path, files.priorities.text, opts);
}

export function parseTexts(
  cPath: string,
  cText: FileText,
  pPath: string,
  pText: FileText,
  opts?: { flavor?: Flavor },
): LoadedConfig {
  const d: Draft = { flavor: opts?.flavor ?? 'one-api', prioritiesName: basename(pPath) };
  const cy = readYaml(cPath, cText, HINT);
  const py = readYaml(pPath, pText, HINT);
  const timezone = isUnreadable(cy) ? undefined : readChannelsFile(cy, d);
  const reset = isUnreadable(py) ? undefined : readPrioritiesFile(py, d);
  const order = [cPath, pPath];
  const issues = [...cy.issues, ...py.issues, ...r.RULES.flatMap((rule) => rule(d))].sort(
    (a, b) => order.indexOf(a.file) - order.indexOf(b.file) || a.line - b.line || a.col - b.col,
  );
  if (issues.some((i) => i.severity === 'error') || !timezone || !reset?.at) return { issues };
  const budgets = d.budgets!.map((b) => toBudget(b, reset.at!));
  const collisions = keyCollisions(budgets);
  if (collisions.length) return { issues: [...issues, ...collisions] };
  const config: Config = {
    flavor: d.flavor,
    timezone,
    budgets,
    reset: { at: reset.at, timezone: reset.timezone ?? timezone },
    defaults: d.defaults!,
    demoted: d.demoted!.value,
    demotedSource: d.demoted!.at,
    routingDelaySec: typeof d.routingDelay === 'number' ? d.routingDelay : DEFAULT_ROUTING_DELAY[d.flavor],
    routingDelayAuto: typeof d.routingDelay !== 'number',
    ...(d.usageSource && { usageSource: d.usageSource }),
  };
  return { config, issues };
}

