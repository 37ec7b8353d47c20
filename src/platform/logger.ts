import { fstatSync as fstat } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';

/** Paths pino blanks out: the access token must never reach a log line. */
export const REDACT = [
  'token',
  'accessToken',
  'key',
  'authorization',
  '*.token',
  '*.accessToken',
  '*.key',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'err.config',
  'err.request',
  'err.response',
];

/** pino level -> syslog priority (sd-daemon.h): fatal crit, error err, warn warning, info info, debug/trace debug. */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/**
 * When stdout is the journal (systemd sets JOURNAL_STREAM), each line gets a "<N>" prefix, which journald strips
 * and records as the line's priority: `journalctl -p warning` then works, and `-o cat` still shows plain JSON.
 */
export function journalStream(out: { write(s: string): unknown }): DestinationStream {
  return {
    write(line: string) {
      const m = /"level":(\d+)/.exec(line);
      out.write(`<${syslogPriority(m ? Number(m[1]) : 30)}>${line}`);
    },
  };
}

/** True when the given fd is the journal stream systemd connected (JOURNAL_STREAM is "device:inode"). */
export function isJournal(fd: number, env = process.env): boolean {
  if (!env.JOURNAL_STREAM) return false;
  try {
    const st = fstat(fd);
    return env.JOURNAL_STREAM === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/**
 * JSON lines, one event each. `run` logs to stdout (journald); the one-shot commands log to stderr so that their
 * human output on stdout stays clean.
 */
export function createLogger(opts: { level?: string; fd?: 1 | 2 } = {}): Logger {
  const fd = opts.fd ?? 1;
  const dest = pino.destination({ fd, sync: true });
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'quota-pilot' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    isJournal(fd) ? journalStream(dest) : dest,
  );
}
