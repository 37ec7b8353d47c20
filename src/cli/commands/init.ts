import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { DateTime } from 'luxon';
import { knownFree, KNOWN_FREE } from '../../config/known-free.js';
import { parseConfig } from '../../config/parse-config.js';
import { parseTokens } from '../../config/rules.js';
import { starterConfig, tokensText, type Pick } from '../../config/starter.js';
import { formatIssue } from '../../config/types.js';
import { createClient } from '../../oneapi/client.js';
import type { Channel } from '../../oneapi/types.js';
import { flavorOf, readConnection } from '../../platform/env.js';
import { writeFileDurable } from '../../platform/files.js';
import { CommandError, UsageError } from '../errors.js';
import { context, type GlobalOptions } from '../context.js';
import { table } from '../render.js';

export interface InitOptions extends GlobalOptions {
  /** `<channel>` or `<channel>=<tokens>`, repeatable. */
  budget?: string[];
  force?: boolean;
  dryRun?: boolean;
  timezone: string;
}

/** Asks one question, returns the answer (trimmed). */
export type Ask = (question: string) => Promise<string>;

const show = (c: Channel) => `${c.name} (#${c.id})`;

function findChannel(channels: Channel[], ref: string): Channel {
  const byId = /^\d+$/.test(ref) ? channels.find((c) => c.id === Number(ref)) : undefined;
  const byName = channels.filter((c) => c.name === ref);
  if (byId) return byId;
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) throw new UsageError(`"${ref}" names ${byName.length} OneAPI channels (ids ${byName.map((c) => c.id).join(', ')}): give the id`);
  throw new UsageError(`OneAPI has no channel ${/^\d+$/.test(ref) ? 'with id' : 'named'} ${ref} (see the list above, or \`quota-pilot init\` on a terminal)`);
}

/** The budgets of one channel: with a figure, one for all its models; without, one per model of known allowance. */
function picksFor(ch: Channel, tokens: string | undefined): Pick[] {
  if (tokens !== undefined) {
    const n = parseTokens(tokens);
    if (n === undefined) throw new UsageError(`--budget ${ch.name}=${tokens}: free tokens must be a positive whole number, e.g. 1900000, 1.9M or 500k`);
    const only = ch.models.length === 1 ? ch.models[0] : undefined;
    return [{ channel: ch, ...(only && { model: only }), freeTokens: n, window: 'daily' }];
  }
  const known = ch.models.map(knownFree).filter((k) => k !== undefined);
  if (known.length === 0) throw new UsageError(`--budget ${ch.name}: none of its models (${ch.models.join(', ') || 'none listed'}) has a known free allowance: give it, e.g. --budget ${ch.name}=1.9M`);
  return known.map((k) => ({ channel: ch, model: k.model, freeTokens: k.freeTokens, window: k.window, known: k }));
}

/** The budgets named by --budget flags. */
export function picksFromFlags(channels: Channel[], flags: string[]): Pick[] {
  return flags.flatMap((f) => {
    const eq = f.lastIndexOf('=');
    const [ref, tokens] = eq > 0 ? [f.slice(0, eq), f.slice(eq + 1)] : [f, undefined];
    return picksFor(findChannel(channels, ref.trim()), tokens?.trim());
  });
}

/** On a terminal: each channel serving a model of known allowance is offered, then any other channel by name or id. */
export async function picksFromQuestions(channels: Channel[], ask: Ask, say: (s: string) => void): Promise<Pick[]> {
  const picks: Pick[] = [];
  for (const ch of channels.filter((c) => c.status !== 2)) {
    for (const k of ch.models.map(knownFree).filter((x) => x !== undefined)) {
      const a = (await ask(`Budget ${show(ch)} for ${k.model}: ${k.provider} gives ${tokensText(k.freeTokens)} a day for free (check your account). Free tokens [Enter: ${tokensText(k.freeTokens)}, n: not a free channel]: `)).trim();
      if (/^n(o)?$/i.test(a)) continue;
      const n = a === '' ? k.freeTokens : parseTokens(a);
      if (n === undefined) say(`  "${a}" is not a number of tokens; ${show(ch)} skipped (run init again, or edit channels.yaml)`);
      else picks.push({ channel: ch, model: k.model, freeTokens: n, window: k.window, ...(n === k.freeTokens && { known: k }) });
    }
  }
  const more = (await ask('Other free channels to budget (names or ids, comma-separated; Enter for none): ')).trim();
  for (const ref of more ? more.split(',').map((s) => s.trim()).filter(Boolean) : []) {
    const ch = findChannel(channels, ref);
    const a = (await ask(`Free tokens a day for ${show(ch)} (e.g. 1.9M): `)).trim();
    picks.push(...picksFor(ch, a));
  }
  return picks;
}

/**
 * `init`: reads OneAPI's channels and writes a starter channels.yaml and priorities.yaml into the config dir (never
 * over existing files without --force). Budgets come from --budget flags, or from questions on a terminal.
 */
export async function initCommand(opts: InitOptions): Promise<number> {
  const ctx = context(opts, 2);
  const say = (s: string) => process.stdout.write(s + '\n');
  const files = { channels: join(ctx.configDir, 'channels.yaml'), priorities: join(ctx.configDir, 'priorities.yaml') };
  const existing = Object.values(files).filter((f) => existsSync(f));
  if (existing.length && !opts.force && !opts.dryRun) throw new CommandError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}: pass --force to overwrite, or --dry-run to print the files`);
  if (!DateTime.now().setZone(opts.timezone).isValid) throw new UsageError(`--timezone: "${opts.timezone}" is not an IANA time zone (e.g. Asia/Shanghai)`);
  const interactive = !opts.budget?.length;
  if (interactive && !(process.stdin.isTTY && process.stdout.isTTY))
    throw new UsageError('init asks which channels are free on a terminal; elsewhere name them: --budget <channel>[=<tokens>] (repeat it)');

  const channels = (await createClient({ ...readConnection(ctx.env), retries: 1 }).listChannels()).sort((a, b) => a.id - b.id);
  say(`OneAPI (${flavorOf(ctx.env)}) has ${channels.length} channel${channels.length === 1 ? '' : 's'}:`);
  say(table(['ID', 'NAME', 'PRIORITY', 'STATUS', 'MODELS'], channels.map((c) => [String(c.id), c.name, String(c.priority), c.status === 1 ? 'enabled' : c.status === 2 ? 'disabled' : 'auto-disabled', c.models.join(', ')])));
  let picks: Pick[];
  if (interactive) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      picks = await picksFromQuestions(channels, (q) => rl.question(q), say);
    } finally {
      rl.close();
    }
  } else picks = picksFromFlags(channels, opts.budget!);
  if (picks.length === 0) throw new UsageError(`no budget picked: nothing to write (known free allowances: ${KNOWN_FREE.map((k) => k.model).join(', ')})`);

  const today = DateTime.now().setZone(opts.timezone).toISODate()!;
  const starter = starterConfig(channels, picks, { timezone: opts.timezone, resetAt: '02:20', today });
  // What init writes must be what validate accepts.
  const check = parseConfig({ channels: { path: files.channels, text: starter.channels }, priorities: { path: files.priorities, text: starter.priorities } }, { flavor: flavorOf(ctx.env) });
  const errors = check.issues.filter((i) => i.severity === 'error');
  if (errors.length || !check.config) throw new CommandError(`the starter config does not validate (a bug in init):\n${errors.map(formatIssue).join('\n')}`);
  if (opts.dryRun) {
    say(`\n--- ${files.channels}\n${starter.channels}\n--- ${files.priorities}\n${starter.priorities}`);
  } else {
    await writeFileDurable(files.channels, starter.channels, 0o644);
    await writeFileDurable(files.priorities, starter.priorities, 0o644);
    say(`\nwrote ${files.channels} (${picks.length} budget${picks.length === 1 ? '' : 's'}) and ${files.priorities} (demoted ${check.config.demoted})`);
  }
  for (const n of starter.notes) say(`note: ${n}`);
  say('next: check each free_tokens against your provider account, then `quota-pilot validate` and `quota-pilot once --dry-run`');
  return 0;
}
