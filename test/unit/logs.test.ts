import { describe, expect, it } from '@jest/globals';
import { readable, sinceMs } from '../../src/cli/commands/logs.js';

const json = (o: Record<string, unknown>) => (s: Record<string, unknown>) => JSON.stringify({ ...o, ...s }) + '\n';

describe('logs', () => {
  it('shows pino time and unix-seconds fields in the zone, with its offset; other lines as they are', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 11, 4, 18, 20), msg: 'first run', lastResetAt: 1_796_321_400, windowEnd: 1_796_407_800, channel: 7, used: 1_900_000_000 });
    const out = JSON.parse(readable(line, 'Asia/Shanghai', json({})));
    expect(out).toMatchObject({ time: '2026-12-05 02:20:00+08:00', lastResetAt: '2026-12-04 02:10:00+08:00', windowEnd: '2026-12-05 02:10:00+08:00', channel: 7, used: 1_900_000_000 });
    expect(readable('<6>' + line, 'UTC', json({}))).toContain('"time":"2026-12-04 18:20:00+00:00"');
    expect(readable('not json', 'UTC', json({}))).toBe('not json\n');
    // quota-pilot's own lines carry an ISO time
    expect(readable('{"level":30,"time":"2026-12-04T18:20:00.000Z","msg":"x"}', 'Asia/Shanghai', json({}))).toContain('"time":"2026-12-05 02:20:00+08:00"');
  });

  it('--since as journalctl reads it', () => {
    const now = Date.UTC(2026, 11, 4, 18, 0);
    expect(sinceMs('2 hours ago', 'UTC', now)).toBe(now - 7_200_000);
    expect(sinceMs('30 min ago', 'UTC', now)).toBe(now - 1_800_000);
    expect(sinceMs('today', 'Asia/Shanghai', now)).toBe(Date.UTC(2026, 11, 4, 16, 0));
    expect(sinceMs('2026-12-04 18:00', 'Asia/Shanghai', now)).toBe(Date.UTC(2026, 11, 4, 10, 0));
    expect(() => sinceMs('soon', 'UTC', now)).toThrow('--since "soon": give "YYYY-MM-DD HH:MM", "today", "yesterday" or "N hours ago"');
  });
});
