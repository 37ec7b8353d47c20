import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { DateTime } from 'luxon';
import { prettyFactory } from 'pino-pretty';
import { loadConfig } from '../../config/load.js';
import { CommandError, UsageError } from '../errors.js';
import { resolveDirs } from '../context.js';

export interface LogsOptions {
  follow?: boolean;
  lines?: number;
  since?: string;
  unit: string;
  timezone?: string;
}

/** Fields that hold unix seconds (the time of a reset, a window's end, a read end…), shown as local times. */
const SECONDS = /(^at$|At$|^since$|End$|^readTo$|^watermark$|^lastResetAt$)/;
const isUnixSeconds = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 1e9 && v < 1e10;

/**
 * One JSON log line for people: pino's time and every unix-seconds field as `yyyy-MM-dd HH:mm:ss ±HH:mm` in `zone`
 * (the config's time zone, where the reasons' times are), so no time on screen lacks its zone. Not JSON: as it is.
 */
export function readable(line: string, zone: string, pretty: (o: Record<string, unknown>) => string): string {
  const text = line.replace(/^<\d>(?=\{)/, ''); // a line taken from stdout under systemd carries its "<N>" prefix
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return text + '\n';
  }
  if (typeof o !== 'object' || o === null) return text + '\n';
  const local = (ms: number) => DateTime.fromMillis(ms, { zone }).toFormat('yyyy-MM-dd HH:mm:ssZZ');
  for (const [k, v] of Object.entries(o)) if (k !== 'time' && SECONDS.test(k) && isUnixSeconds(v)) o[k] = local((v as number) * 1000);
  const t = typeof o.time === 'number' ? o.time : typeof o.time === 'string' ? Date.parse(o.time) : NaN;
  if (Number.isFinite(t)) o.time = local(t);
  return pretty(o);
}

/**
 * `--since` on stdin, as journalctl reads it: "YYYY-MM-DD HH:MM[:SS]" (local to `zone`), "today", "yesterday", or
 * "N second(s)|minute(s)|hour(s)|day(s) ago". Unix ms, or a UsageError naming the forms.
 */
export function sinceMs(since: string, zone: string, nowMs: number): number {
  const s = since.trim().toLowerCase();
  const now = DateTime.fromMillis(nowMs, { zone });
  if (s === 'today') return now.startOf('day').toMillis();
  if (s === 'yesterday') return now.minus({ days: 1 }).startOf('day').toMillis();
  const ago = /^(\d+)\s*(second|sec|s|minute|min|m|hour|h|day|d)s?\s+ago$/.exec(s);
  if (ago) {
    const unit = { s: 'seconds', sec: 'seconds', second: 'seconds', m: 'minutes', min: 'minutes', minute: 'minutes', h: 'hours', hour: 'hours', d: 'days', day: 'days' }[ago[2]] as 'seconds';
    return now.minus({ [unit]: Number(ago[1]) }).toMillis();
  }
  const at = DateTime.fromFormat(since.trim(), since.trim().length > 16 ? 'yyyy-MM-dd HH:mm:ss' : since.trim().length > 10 ? 'yyyy-MM-dd HH:mm' : 'yyyy-MM-dd', { zone });
  if (!at.isValid) throw new UsageError(`--since "${since}": give "YYYY-MM-DD HH:MM", "today", "yesterday" or "N hours ago"`);
  return at.toMillis();
}

/** The config's time zone when the config dir has one that loads, else this machine's. */
async function zoneOf(o: LogsOptions): Promise<string> {
  if (o.timezone) {
    if (!DateTime.now().setZone(o.timezone).isValid) throw new UsageError(`--timezone: "${o.timezone}" is not an IANA time zone`);
    return o.timezone;
  }
  const { configDir } = resolveDirs({}, process.env);
  const loaded = await loadConfig(configDir, {}).catch(() => undefined);
  return loaded?.config?.timezone ?? DateTime.local().zoneName ?? 'UTC';
}

/**
 * The daemon's pino JSON lines made readable, with pino-pretty as a dependency (so it works offline, where
 * `npx pino-pretty` cannot install it). Reads stdin when it is a pipe, a socket or a file, else (a terminal,
 * /dev/null) `journalctl -u <unit> -o cat`. `-n` and `--since` apply to stdin too. Lines that are not JSON pass
 * through unchanged. Nothing to show is said, and exits 1.
 */
export async function logsCommand(o: LogsOptions): Promise<number> {
  const zone = await zoneOf(o);
  const from = o.since === undefined ? undefined : sinceMs(o.since, zone, Date.now());
  // The time is already written out in the zone (readable): printed as it is.
  const prettify = prettyFactory({ colorize: !!process.stdout.isTTY, ignore: 'pid,hostname,service', translateTime: false, customPrettifiers: { time: (t) => `[${String(t)}]` } });
  const pretty = (obj: Record<string, unknown>) => prettify(obj);
  // `quota-pilot logs | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const st = fstatSync(0);
  // A socket too: Node and some supervisors hand a child its stdin as a socketpair, not a FIFO.
  const journal = st.isFIFO() || st.isFile() || st.isSocket() ? undefined : startJournal(o);
  const input = journal?.stdout ?? process.stdin;
  const tail: string[] = [];
  let shown = 0;
  const out = (s: string) => {
    shown++;
    if (o.lines !== undefined && !o.follow && !journal) {
      tail.push(s);
      if (tail.length > o.lines) tail.shift();
    } else process.stdout.write(s);
  };
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line === '') continue;
    if (!journal && from !== undefined && lineTime(line) !== undefined && lineTime(line)! < from) continue;
    out(readable(line, zone, pretty));
  }
  for (const s of tail) process.stdout.write(s);
  const code = journal ? await journal.done : 0;
  if (shown === 0 && code === 0) {
    process.stderr.write(journal ? `no log lines for unit ${o.unit}${o.since ? ` since ${o.since}` : ''} (is the service installed and running? see systemctl status ${o.unit})\n` : `no log lines on stdin${o.since ? ` since ${o.since}` : ''}\n`);
    return 1;
  }
  return code;
}

/** pino's `time` of a JSON line (ISO, as quota-pilot logs it, or unix ms), in unix ms, if it has one. */
function lineTime(line: string): number | undefined {
  const m = /"time":(?:(\d{12,})|"([^"]+)")/.exec(line);
  const t = m ? (m[1] ? Number(m[1]) : Date.parse(m[2])) : NaN;
  return Number.isFinite(t) ? t : undefined;
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
