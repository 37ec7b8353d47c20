import { pino, type Logger } from 'pino';

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

/**
 * JSON lines, one event each. `run` logs to stdout (journald); the one-shot commands log to stderr so that their
 * human output on stdout stays clean.
 */
export function createLogger(opts: { level?: string; fd?: 1 | 2 } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'quota-pilot' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: opts.fd ?? 1, sync: true }),
  );
}
