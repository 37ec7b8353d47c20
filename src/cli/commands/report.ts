import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DateTime } from 'luxon';
import type { Config } from '../../config/types.js';
import type { Channel } from '../../oneapi/types.js';
import { systemClock } from '../../platform/clock.js';
import { writeFileDurable } from '../../platform/files.js';
import { stackedBars } from '../../report/chart.js';
import type { DailyReport } from '../../report/daily.js';
import { reportFromState } from '../../report/from-state.js';
import { reportSvg } from '../../report/svg.js';
import { stateCodec, type State } from '../../reconcile/state.js';
import { openStateStore } from '../../state/store.js';
import { layoutFor, layoutSignature } from '../../usage/buckets.js';
import { formatLocal } from '../../usage/windows.js';
import { peekState } from './status.js';
import { configOrThrow, connect, context, type Context, type GlobalOptions } from '../context.js';
import { CommandError, UsageError } from '../errors.js';
import { num, table } from '../render.js';

/**
 * Tokens per local day from the daily aggregates in the state file: by model, split into free / over budget /
 * unbudgeted, and per channel. Read-only; OneAPI is asked for channel names only, and its absence is no error.
 */
export async function reportCommand(opts: GlobalOptions & { days: number; json?: boolean; svg?: string }): Promise<number> {
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 40)
    throw new UsageError(`--days must be a whole number from 1 to 40 (the state keeps 40 days), got ${opts.days}`);
  // Checked before any work, so a typo in the path is a usage error, not a failure after the report was built.
  if (opts.svg) await checkWritable(resolve(opts.svg), '--svg');
  const ctx = context(opts, 2);
  const { config } = await configOrThrow(ctx, 'read');
  const state = await peekState(openStateStore(ctx.stateDir, stateCodec, ctx.log));
  const { channels, source } = await channelsOf(ctx);
  const report = reportFromState(config, state, channels, systemClock.now(), opts.days);

  if (opts.svg) {
    const path = resolve(opts.svg);
    // Through a random exclusive temp file and a rename: a symlink at `path` is replaced, never written through.
    await writeFileDurable(path, reportSvg(report), 0o644).catch((err: Error) => {
      throw new CommandError(`cannot write the SVG to ${path}: ${err.message}`);
    });
    // With --json, stdout stays pure JSON.
    (opts.json ? process.stderr : process.stdout).write(`svg written to ${path}\n`);
  }
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(renderReport(report, { config, state, source, width: terminalWidth(ctx.env) }) + '\n');
  return 0;
}

/** Channels as OneAPI lists them, when it is configured and answers; else undefined (names from the last cycle). */
async function channelsOf(ctx: Context): Promise<{ channels?: Channel[]; source: string }> {
  if (!ctx.env.ONEAPI_BASE_URL) return { source: 'names as of the last cycle (ONEAPI_BASE_URL not set)' };
  try {
    return { channels: await connect(ctx, true).client.listChannels(), source: 'names from OneAPI' };
  } catch (err) {
    return { source: `names as of the last cycle (OneAPI not reachable: ${(err as Error).message.split('\n')[0]})` };
  }
}

/** Throws a UsageError when `path` cannot be created: its directory is missing or not writable. */
async function checkWritable(path: string, flag: string): Promise<void> {
  const dir = dirname(path);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new UsageError(`${flag} ${path}: the directory ${dir} does not exist`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UsageError(`${flag} ${path}: no permission to write in ${dir}`);
  });
}

/** COLUMNS wins; then the terminal's width; 100 when stdout is not a terminal. */
function terminalWidth(env: Record<string, string | undefined>): number {
  const cols = Number(env.COLUMNS);
  if (Number.isInteger(cols) && cols > 0) return cols;
  return process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 100;
}

/** The report for people: charts by model and by free/over/unbudgeted, a per-channel table, totals. */
export function renderReport(r: DailyReport, o: { config: Config; state: State; source: string; width: number }): string {
  const tz = r.timezone;
  const label = (day: string) => DateTime.fromISO(day, { zone: tz }).toFormat('ccc MM-dd');
  const share = (n: number) => (r.totals.tokens ? `${((n / r.totals.tokens) * 100).toFixed(1)}%` : '-');
  const watermark = o.state.usage.watermark;
  const out = [
    `quota-pilot report: ${r.from} to ${r.to}, ${r.days.length} day${r.days.length === 1 ? '' : 's'}, ${tz}`,
    `usage as of: ${watermark ? formatLocal(watermark, tz) : 'never read (no cycle has run yet)'}`,
    `channels:    ${o.source}`,
  ];
  if (watermark && o.state.usage.signature !== layoutSignature(layoutFor(o.config)))
    out.push('note:        the config changed since the last cycle; the free/over split is approximate until the next one');
  // Without OneAPI a budget named by channel name has no id, so its tokens cannot be told from paid ones.
  const paid = r.unresolved.length ? 'unbudgeted or unresolved' : 'unbudgeted (paid)';
  if (r.unresolved.length)
    out.push(`note:        ${r.unresolved.length} budget(s) not resolved to a channel id, their tokens show as ${paid}: ${r.unresolved.join(', ')}`);

  out.push('', 'Tokens per day by model');
  const byModel = r.days.map((d) => ({
    label: label(d.day),
    parts: r.models.map((m) => ({ series: m, value: d.byModel[m]?.tokens ?? 0 })),
  }));
  out.push(stackedBars(byModel, { width: o.width, valueFormat: num }));

  out.push('', 'Free / over budget / unbudgeted per day');
  const split = r.days.map((d) => ({
    label: label(d.day),
    parts: [
      { series: 'free', value: d.split.free },
      { series: 'over budget', value: d.split.overBudget },
      { series: paid, value: d.split.unbudgeted },
    ],
  }));
  out.push(stackedBars(split, { width: o.width, valueFormat: num }));

  out.push('', 'Per channel');
  const budgets = new Map(o.config.budgets.map((b) => [b.key, `${b.window} ${compact(b.freeTokens)}`]));
  const rows = r.channels.map((c) => [
    c.name === null ? `#${c.id}` : `${c.name} (#${c.id})`,
    c.budgets.length ? c.budgets.map((k) => budgets.get(k) ?? k).join(', ') : 'none',
    num(c.tokens),
    num(c.requests),
    num(c.free),
    num(c.overBudget),
    num(c.unbudgeted),
    share(c.tokens),
  ]);
  out.push(rows.length ? table(['CHANNEL', 'FREE BUDGET', 'TOKENS', 'REQUESTS', 'FREE', 'OVER BUDGET', 'UNBUDGETED', 'SHARE'], rows) : '(no channels)');

  const t = r.totals;
  out.push(
    '',
    `total:       ${num(t.tokens)} tokens in ${num(t.requests)} requests`,
    `             free ${num(t.free)} (${share(t.free)}), over budget ${num(t.overBudget)} (${share(t.overBudget)}), unbudgeted ${num(t.unbudgeted)} (${share(t.unbudgeted)})`,
  );
  return out.join('\n');
}

/** 1900000 -> "1.9M", as channels.yaml accepts it. */
function compact(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(2)}k`;
  return String(n);
}
