import type { Channel } from '../oneapi/types.js';
import { num } from '../platform/format.js';
import type { KnownFree } from './known-free.js';
import type { WindowKind } from './types.js';

/** One budget `init` is to write: a channel, optionally one of its models, and its allowance. */
export interface Pick {
  channel: Channel;
  model?: string;
  freeTokens: number;
  window: WindowKind;
  /** Where the figure came from, when it is a provider's public one. */
  known?: KnownFree;
}

/** The two files' text, and what the operator should know about them. */
export interface Starter {
  channels: string;
  priorities: string;
  notes: string[];
}

const RESERVED = new Set(['true', 'false', 'null', 'yes', 'no', 'on', 'off', 'y', 'n', '~']);

/** A channel name as YAML: plain when that reads back as the same string, else double-quoted (JSON is YAML). */
export function yamlString(s: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s) && !RESERVED.has(s.toLowerCase()) ? s : JSON.stringify(s);
}

/** 1900000 -> "1.9M", 500000 -> "500k"; other figures as 1_234_567. */
export function tokensText(n: number): string {
  for (const [unit, f] of [['M', 1e6], ['k', 1e3]] as const) {
    const v = n / f;
    if (v >= 1 && Math.round(v * 10) === v * 10) return `${v}${unit}`;
  }
  return num(n).replaceAll(',', '_');
}

/**
 * Starter channels.yaml and priorities.yaml from OneAPI's channels and the budgets picked. Pure. Defaults are the
 * priorities OneAPI has now, except that a free channel not above its paid fallbacks is raised above them (else
 * OneAPI would send its traffic to the paid channel); `demoted` is below every fallback of a budgeted model and every
 * free default, so a demotion moves the traffic. Channels are named by name where the name is unique, else by id.
 */
export function starterConfig(channels: Channel[], picks: Pick[], opts: { timezone: string; resetAt: string; today: string }): Starter {
  const notes: string[] = [];
  const counts = new Map<string, number>();
  for (const c of channels) counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
  const ref = (c: Channel) => (counts.get(c.name) === 1 ? yamlString(c.name) : String(c.id));
  const budgeted = new Set(picks.map((p) => p.channel.id));
  const fallbacksOf = (p: Pick) => {
    const models = p.model !== undefined ? [p.model] : p.channel.models;
    return channels.filter((c) => c.status === 1 && !budgeted.has(c.id) && c.models.some((m) => models.includes(m)));
  };
  const fallbacks = new Map<number, { channel: Channel; models: Set<string> }>();
  const defaults = new Map<number, { priority: number; why: string }>();
  for (const p of picks) {
    const fb = fallbacksOf(p);
    const models = p.model !== undefined ? [p.model] : p.channel.models;
    for (const f of fb) {
      const entry = fallbacks.get(f.id) ?? fallbacks.set(f.id, { channel: f, models: new Set() }).get(f.id)!;
      for (const m of f.models) if (models.includes(m)) entry.models.add(m);
    }
    const top = Math.max(-Infinity, ...fb.map((f) => f.priority));
    const had = defaults.get(p.channel.id)?.priority ?? p.channel.priority;
    if (fb.length === 0) notes.push(`no other enabled channel serves ${models.join(', ') || 'the models of'} ${p.channel.name} (#${p.channel.id}): demoting it moves no traffic; add a paid channel for it in OneAPI`);
    if (fb.length > 0 && had <= top) {
      defaults.set(p.channel.id, { priority: top + 10, why: `raised from ${p.channel.priority}, so OneAPI prefers it to its paid fallbacks (at most ${top})` });
      notes.push(`${p.channel.name} (#${p.channel.id}) is at priority ${p.channel.priority}, not above its paid fallbacks: its default is ${top + 10}; \`quota-pilot reset\` sets it now`);
    } else if (!defaults.has(p.channel.id)) defaults.set(p.channel.id, { priority: had, why: 'free: its priority in OneAPI now' });
  }
  const lowest = Math.min(...[...fallbacks.values()].map((f) => f.channel.priority), ...[...defaults.values()].map((d) => d.priority));
  const demoted = Math.min(10, lowest - 1);

  const budgets = picks.map((p) => {
    const lines = [`  - channel: ${ref(p.channel)}${ref(p.channel) === String(p.channel.id) ? `   # "${p.channel.name}": the name is not unique in OneAPI` : `   # #${p.channel.id}`}`];
    if (p.model !== undefined) lines.push(`    model: ${yamlString(p.model)}`);
    lines.push(`    free_tokens: ${tokensText(p.freeTokens)}${p.known ? `   # ${p.known.provider}'s public figure: check your account` : ''}`);
    lines.push(`    window: ${p.window}`);
    return lines.join('\n');
  });
  const channelsYaml = [
    `# channels.yaml, written by \`quota-pilot init\` on ${opts.today} from OneAPI's channels. Check each figure against`,
    '# your provider account, then `quota-pilot validate`. Keys: see the configuration reference in the README.',
    `timezone: ${opts.timezone}`,
    '',
    'channels:',
    ...budgets,
    '',
  ].join('\n');

  const rows = [
    ...picks.filter((p, i) => picks.findIndex((q) => q.channel.id === p.channel.id) === i).map((p) => [ref(p.channel), defaults.get(p.channel.id)!.priority, defaults.get(p.channel.id)!.why] as const),
    ...[...fallbacks.values()].map((f) => [ref(f.channel), f.channel.priority, `fallback (no budget) for ${[...f.models].join(', ')}`] as const),
  ];
  const prioritiesYaml = [
    `# priorities.yaml, written by \`quota-pilot init\` on ${opts.today}.`,
    'reset:',
    `  at: "${opts.resetAt}"`,
    `  timezone: ${opts.timezone}`,
    'defaults:',
    ...rows.map(([r, prio, why]) => `  ${r}: ${prio}   # ${why}`),
    `demoted: ${demoted}   # below every paid fallback and free default: a demoted free channel gets no traffic while a fallback is up`,
    '',
  ].join('\n');
  if (picks.length === 0) notes.push('no budget picked: channels.yaml has none; add one per free channel');
  return { channels: channelsYaml, priorities: prioritiesYaml, notes };
}
