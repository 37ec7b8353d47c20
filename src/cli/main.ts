#!/usr/bin/env -S node --max-old-space-size=512 --max-semi-space-size=2 --initial-old-space-size=32
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, formatIssue } from '../config/types.js';
import { parseListen } from '../metrics/server.js';
import { OneApiError } from '../oneapi/types.js';
import { EnvError } from '../platform/env.js';
import { StateSaveError } from '../reconcile/errors.js';
import { StateLockedError } from '../state/lock.js';
import { CommandError, UsageError } from './errors.js';

/** Exit codes (sysexits.h where one fits). */
export const EXIT = { ok: 0, failed: 1, usage: 2, tempFail: 75, noPermission: 77, config: 78 } as const;

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 5) throw new InvalidArgumentError('must be a whole number of seconds, at least 5');
  return n;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number, at least 1');
  return n;
}

/** "off", or an address parseListen accepts; checked while parsing, so a bad one is a usage error (exit 2). */
function listenAddress(v: string): string {
  if (v === 'off') return v;
  try {
    parseListen(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return v;
}

function speed(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of simulated seconds per second, or 0 for no pauses');
  return n;
}

function days(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 40) throw new InvalidArgumentError('must be a whole number from 1 to 40');
  return n;
}

/** Turns an error into a message for people and an exit code. The only place that exits the process. */
function fail(err: unknown): never {
  // commander has already printed its message (and the help) for these; --help and --version are code 0.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT.usage);
  }
  if (err instanceof CommandError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT.failed);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(err.issues.map((i) => `error: ${formatIssue(i)}`).join('\n') + '\n');
    process.exit(EXIT.config);
  }
  if (err instanceof EnvError) {
    process.stderr.write(err.problems.map((p) => `error: ${p}`).join('\n') + '\n');
    process.exit(EXIT.config);
  }
  if (err instanceof StateLockedError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT.tempFail);
  }
  if (err instanceof StateSaveError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(EXIT.failed);
  }
  if (err instanceof OneApiError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(err.kind === 'auth' ? EXIT.noPermission : EXIT.failed);
  }
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(EXIT.failed);
}

const program = new Command('quota-pilot')
  .description('Spend OneAPI free token quotas first: demote exhausted channels, restore them at the nightly reset.')
  .version('0.1.0')
  .showHelpAfterError()
  // Throw instead of exiting, so that `fail` gives usage errors their documented code 2 (commander uses 1).
  .exitOverride();

const globals = (cmd: Command) =>
  cmd
    .option('--config-dir <dir>', 'where channels.yaml, priorities.yaml and .env are (default: $QUOTA_PILOT_CONFIG_DIR, else .)')
    .option('--state-dir <dir>', 'where state.json is kept (default: $STATE_DIRECTORY, else ./state)');

/**
 * Exits once stdout and stderr have been written out: on a pipe (`status --json | jq`) Node writes asynchronously,
 * and process.exit() would cut a large output short.
 */
function exitAfterFlush(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => --pending === 0 && process.exit(code);
  process.stdout.write('', done);
  process.stderr.write('', done);
}

const exitWith = (p: Promise<number>) => p.then(exitAfterFlush, fail);

// Each command's module is loaded when that command runs: a short command does not pay at start-up for what only
// another needs (the simulator, the dashboard, Prometheus' client, the database drivers).
const commands = {
  run: () => import('./commands/run.js'),
  once: () => import('./commands/once.js'),
  status: () => import('./commands/status.js'),
  report: () => import('./commands/report.js'),
  validate: () => import('./commands/validate.js'),
  logs: () => import('./commands/logs.js'),
  demo: () => import('./commands/demo.js'),
  init: () => import('./commands/init.js'),
};

globals(program.command('run'))
  .description('run the daemon: a cycle every interval and the nightly reset')
  .option('--interval <seconds>', 'seconds between cycles', seconds, 60)
  .option('--dry-run', 'plan and log changes, write nothing to OneAPI')
  .option('--listen <host:port>', 'serve the dashboard, /metrics and /healthz here (a bare port means 127.0.0.1; "off" to disable)', listenAddress, '127.0.0.1:9464')
  .option('--listen-without-token', 'allow a non-loopback --listen without QP_LISTEN_TOKEN (the page, /api and /metrics open to the network)')
  .option('--unhealthy-after <cycles>', 'failed cycles in a row after which /healthz answers 503', (v) => positive(v), 3)
  .action((o) => exitWith(commands.run().then((m) => m.runCommand(o))));

const LOCK_WAIT = ['--lock-wait <seconds>', 'how long to wait for a cycle in flight on the same state dir (the daemon\'s) before giving up with exit 75'] as const;

function waitSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 3600) throw new InvalidArgumentError('must be a whole number of seconds from 0 to 3600');
  return n;
}

globals(program.command('once'))
  .description('run one cycle, then exit (0 when it completed)')
  .option('--dry-run', 'print the plan, write nothing')
  .option(...LOCK_WAIT, waitSeconds, 60)
  .action((o) => exitWith(commands.once().then((m) => m.onceCommand(o, false))));

globals(program.command('reset'))
  .description('run the nightly reset now')
  .option('--dry-run', 'print the plan, write nothing')
  .option(...LOCK_WAIT, waitSeconds, 60)
  .action((o) => exitWith(commands.once().then((m) => m.onceCommand(o, true))));

globals(program.command('status'))
  .description('one row per budget: usage, state, observed and desired priority')
  .option('--json', 'machine-readable output')
  .action((o) => exitWith(commands.status().then((m) => m.statusCommand(o))));

globals(program.command('report'))
  .description('daily token usage per model and channel over N days, as stacked bars')
  .option('--days <n>', 'how many days, ending today (1 to 40)', (v) => days(v), 7)
  .option('--json', 'machine-readable output')
  .option('--svg <file>', 'also write the chart as an SVG file')
  .action((o) => exitWith(commands.report().then((m) => m.reportCommand(o))));

globals(program.command('validate'))
  .description('check channels.yaml and priorities.yaml, and the channels and models they name against OneAPI')
  .option('--offline', 'check the YAML files only; channel names and models are not checked')
  .action((o) => exitWith(commands.validate().then((m) => m.validateCommand(o))));

program
  .command('logs')
  .description('pretty-print the daemon\'s JSON logs: from stdin when piped, else from journalctl')
  .option('-f, --follow', 'keep printing new lines (journalctl -f)')
  .option('-n, --lines <n>', 'the last N lines (journalctl -n)', (v) => positive(v))
  .option('--since <time>', 'lines since this time, e.g. "1 hour ago" or "2026-11-24 18:00" (journalctl --since)')
  .option('--unit <name>', 'the systemd unit to read', 'quota-pilot')
  .action((o) => exitWith(commands.logs().then((m) => m.logsCommand(o))));

program
  .command('demo')
  .description('run quota-pilot against a built-in OneAPI simulator on a fast clock (under a minute)')
  .option('--speed <factor>', 'simulated seconds per real second (0: no pauses)', speed, 3600)
  .option('--config-dir <dir>', 'use channels.yaml and priorities.yaml from here instead of the shipped examples')
  .option('--keep', 'afterwards keep the state, the simulator and the dashboard, until Ctrl-C, to try status, report and the page')
  .action((o) => exitWith(commands.demo().then((m) => m.demoCommand(o))));

globals(program.command('init'))
  .description("write a starter channels.yaml and priorities.yaml from OneAPI's channels (asks on a terminal)")
  .option('--budget <channel[=tokens]>', 'a free channel (name or id) and its free tokens a day; without =tokens, the known allowance of its model (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
  .option('--timezone <zone>', 'IANA zone of the windows and the nightly reset', 'Asia/Shanghai')
  .option('--force', 'overwrite existing files')
  .option('--dry-run', 'print the files, write nothing')
  .action((o) => exitWith(commands.init().then((m) => m.initCommand(o))));

program.parseAsync().catch(fail);
