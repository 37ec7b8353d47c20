import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { idRanges, timeRanges, type TimeRange } from '../../src/usage/db/chunks.js';
import type { LogDb } from '../../src/usage/db/connect.js';
import { openLogDb } from '../../src/usage/db/open.js';
import { sumSlots } from '../../src/usage/db/queries.js';
import { parseDbUrl } from '../../src/usage/db/url.js';
import { describeWith, openSqlite, type TestDb } from '../helpers/databases.js';

const fakeDb = (dialect: LogDb['dialect']) => ({ dialect }) as LogDb;

it.each([
  // dialect, above, top, rows: the ranges
  ['sqlite', 10, 20, 4, [{ above: 10, upTo: 14 }, { above: 14, upTo: 18 }, { above: 18 }]],
  ['sqlite', 10, 14, 4, [{ above: 10 }]],
  ['sqlite', 10, 15, 4, [{ above: 10, upTo: 14 }, { above: 14 }]],
  ['sqlite', 10, null, 4, [{ above: 10 }]],
  ['sqlite', 30, 20, 4, [{ above: 30 }]],
  ['postgres', 10, 20, 4, [{ above: 10 }]],
  ['mysql', 10, 20, 4, [{ above: 10 }]],
] as const)('idRanges on %s, id > %d, top %s, %d a range: the last range has no upper bound', (dialect, above, top, rows, want) => {
  expect([...idRanges(fakeDb(dialect), above, top, rows)]).toEqual(want);
});

it('timeRanges on MariaDB and PostgreSQL: the whole range in one statement, no query to cut it', async () => {
  for (const dialect of ['mysql', 'postgres'] as const) {
    const out: TimeRange[] = [];
    for await (const r of timeRanges(fakeDb(dialect), 100, 200, 4)) out.push(r);
    expect(out).toEqual([{ from: 100, to: 200 }]);
  }
});

describeWith('sqlite', 'timeRanges on SQLite')('timeRanges on SQLite (a real file, one-api DDL, rollback journal)', () => {
  let file: TestDb;
  let db: LogDb;
  beforeAll(async () => {
    file = await openSqlite();
    await file.createLogs('one-api');
    // 10 rows a second over [1000, 1099], and 30 rows in second 1050.
    await file.fill(1000, { from: 1000, to: 1100, channels: 2, model: (c) => `m${c}` });
    await file.fill(30, { from: 1050, to: 1050, channels: 2, model: (c) => `m${c}` });
    db = openLogDb(parseDbUrl(file.url));
  });
  afterAll(async () => {
    await db?.close();
    await file?.stop();
  });

  const count = async (r: TimeRange) =>
    Number((await file.query<{ n: number }>(`SELECT count(*) AS n FROM logs WHERE created_at >= ? AND ${r.below === undefined ? 'created_at <= ?' : 'created_at < ?'}`, [r.from, r.below ?? r.to]))[0].n);

  it('cuts [from, to] into back-to-back ranges of at most `rows` rows, but for one second that holds more, and covers every row once', async () => {
    const ranges: TimeRange[] = [];
    for await (const r of timeRanges(db, 990, 1200, 25)) ranges.push(r);
    const counts = await Promise.all(ranges.map(count));
    expect(ranges[0].from).toBe(990);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i].from).toBe(ranges[i - 1].below);
    expect(ranges.at(-1)).toEqual({ from: ranges.at(-1)!.from, to: 1200 });
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1030);
    // Second 1050 (40 rows) alone in its range; every other range holds at most 25 rows.
    const big = ranges.findIndex((r) => r.from === 1050);
    expect(ranges[big]).toEqual({ from: 1050, to: 1200, below: 1051 });
    expect(counts.filter((_, i) => i !== big).every((n) => n <= 25)).toBe(true);
    expect(counts[big]).toBe(40);
  });

  it('sums over the chunks equal one statement over the range (same rows, same maxId)', async () => {
    const q = { channels: [1, 2], from: 1000, to: 1100, edges: [1030, 1060], badFrom: 1000 };
    const sums = await sumSlots(db, 'one-api', q);
    const whole = await file.query<{ channel: number; slot: number; tokens: number; requests: number; max_id: number }>(
      'SELECT channel_id AS channel, CASE WHEN created_at < 1030 THEN 0 WHEN created_at < 1060 THEN 1 ELSE 2 END AS slot, sum(prompt_tokens + completion_tokens) AS tokens, count(*) AS requests, max(id) AS max_id FROM logs WHERE created_at BETWEEN 1000 AND 1100 GROUP BY 1, 2 ORDER BY 1, 2',
    );
    const got = sums.map((s) => ({ channel: s.channel, slot: s.slot, tokens: s.tokens, requests: s.requests, max_id: s.maxId })).sort((a, b) => a.channel - b.channel || a.slot - b.slot);
    expect(got).toEqual(whole);
  });
});
