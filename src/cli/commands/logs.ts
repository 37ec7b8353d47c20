import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { prettyFactory } from 'pino-pretty';
import { CommandError } from '../errors.js';

export interface LogsOptions {
  follow?: boolean;
  lines?: number;
  since?: string;
  unit: string;
}

/**
 * The daemon's pino JSON lines made readable, with pino-pretty as a dependency (so it works offline, where
 * `npx pino-pretty` cannot install it). Reads stdin when it is a pipe or a file, else (a terminal, /dev/null)
 * `journalctl -u <unit> -o cat`. Lines that are not JSON pass through unchanged.
 */
export async function logsCommand(o: LogsOptions): Promise<number> {
  const pretty = prettyFactory({
    colorize: !!process.stdout.isTTY,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss',
    ignore: 'pid,hostname,service',
  });
  // `quota-pilot logs | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const st = fstatSync(0);
  // A socket too: Node and some supervisors hand a child its stdin as a socketpair, not a FIFO.
  const journal = st.isFIFO() || st.isFile() || st.isSocket() ? undefined : startJournal(o);
  const input = journal?.stdout ?? process.stdin;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    // A line taken from stdout under systemd (not through journald) carries its "<N>" syslog prefix.
    process.stdout.write(pretty(line.replace(/^<\d>(?=\{)/, '')));
  }
  return journal ? journal.done : 0;
}

function startJournal(o: LogsOptions): { stdout: Readable; done: Promise<number> } {
  const args = ['-u', o.unit, '-o', 'cat', '--no-pager'];
  if (o.follow) args.push('-f');
  if (o.lines !== undefined) args.push('-n', String(o.lines));
  if (o.since !== undefined) args.push('--since', o.since);
  const child = spawn('journalctl', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new CommandError('journalctl not found; pipe the log lines in instead, e.g. `quota-pilot logs < daemon.log`')
          : new CommandError(`cannot run journalctl: ${err.message}`),
      ),
    );
    // journalctl explains its own failures (no such unit, no permission) on stderr, which is passed through.
    child.on('close', (code) => resolve(code === 0 ? 0 : 1));
  });
  // Reading stops when stdout ends; a spawn error must still reach the caller, so `done` is awaited after the loop.
  done.catch(() => undefined);
  return { stdout: child.stdout, done };
}
