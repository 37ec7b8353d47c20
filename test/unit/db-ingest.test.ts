import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import type { Logger } from 'pino';
import type { OneApiClient } from '../../src/oneapi/types.js';
import { sumUsage } from '../../src/usage/buckets.js';
import type { LogDb } from '../../src/usage/db/connect.js';
import { openLogDb } from '../../src/usage/db/open.js';
import { ingestFromDb } from '../../src/usage/db/ingest-db.js';
import { parseDbUrl } from '../../src/usage/db/url.js';
import { emptyUsage, ingest, type UsageState } from '../../src/usage/ingest.js';
import { aBudget, aConfig } from '../helpers/builders.js';
import { describeWith, openSqlite, type TestDb } from '../helpers/databases.js';

// 2026-11-24 14:00 Asia/Shanghai; the daily window started at 02:20 that day.
const NOW = Date.UTC(2026, 10, 24, 6, 0, 0);
const T = NOW / 1000;
const config = aConfig({ budgets: [aBudget({ channel: 1, model: 'm' }), aBudget({ channel: 2, model: 'm' })] });
const client = (skewSec = 0): OneApiClient =>
  ({ serverClock: () => ({ serverMs: NOW + skewSec * 1000, localMs: NOW }), requestCount: 0, throttledMs: 0 }) as unknown as OneApiClient;
const row = (at: number, channel = 1, tokens = 100) => ({ created_at: at, channel, model_name: 'm', prompt_tokens: tokens, completion_tokens: 0 });
const used = (u: UsageState, channel = 1) => sumUsage(u.buckets, { channel, model: 'm', from: T - 86_400, to: T + 86_400 });

const title = 'ingestFromDb: the tail re-read and the cursor (a real SQLite file)';
describeWith('sqlite', title)(title, () => {
  let file: TestDb;
  let db: LogDb;
  beforeAll(async () => {
    file = await openSqlite();
    db = openLogDb(parseDbUrl(file.url));
  });
  afterAll(async () => {
    await db?.close();
    await file?.stop();
  });
  beforeEach(async () => file.createLogs('one-api'));
  const read = (u: UsageState, at = NOW, channels = [1, 2], skewSec = 0) =>
    ingestFromDb(u, { client: client(skewSec), db, flavor: 'one-api', config, channels, nowMs: at });

  it('counts a row committed late once (inside the tail by time, past it by its id), and re-reading the same world changes nothing', async () => {
    await file.insert([row(T - 3600), row(T - 30)], 'one-api');
    const first = await read(emptyUsage());
    expect(used(first.usage)).toEqual({ tokens: 200, requests: 2 });
    expect(first.stats).toMatchObject({ counted: 2, coldChannels: [1, 2] });
    // Stamped 60 s ago, committed only now: inside the 120 s tail. One stamped 200 s ago is past it: its id is new.
    await file.insert([row(T - 60, 1, 7), row(T - 200, 1, 1000)], 'one-api');
    const second = await read(first.usage, NOW + 10_000);
    expect(used(second.usage)).toEqual({ tokens: 1207, requests: 4 });
    expect(second.stats).toMatchObject({ counted: 2, coldChannels: [] });
    const third = await read(second.usage, NOW + 10_000);
    expect(third.usage.buckets).toEqual(second.usage.buckets);
    expect(third.stats.counted).toBe(0);
  });

  it("the id cursor moves past rows it does not count (other channels, outside the windows): a steady read never scans them again", async () => {
    await file.insert([row(T - 3600, 1), row(T - 3000, 2)], 'one-api');
    const first = await read(emptyUsage());
    expect(first.usage.dbCursor?.maxId).toBe(2);
    // 500 rows of an unbudgeted channel and of the day before, then nothing for the budgeted channels.
    await file.insert([...Array.from({ length: 250 }, () => row(T - 60, 9)), ...Array.from({ length: 250 }, () => row(T - 3 * 86_400, 1))], 'one-api');
    const second = await read(first.usage, NOW + 10_000);
    expect(second.usage.dbCursor?.maxId).toBe(502);
    expect(used(second.usage)).toEqual({ tokens: 100, requests: 1 });
    const statements: string[] = [];
    const watched = openLogDb(parseDbUrl(file.url), { onQuery: (q) => statements.push(q.sql) });
    try {
      await ingestFromDb(second.usage, { client: client(), db: watched, flavor: 'one-api', config, channels: [1, 2], nowMs: NOW + 20_000 });
    } finally {
      await watched.close();
    }
    // Nothing above 502: no read by id at all.
    expect(statements.filter((q) => q.includes('"id" >'))).toEqual([]);
    expect(statements.length).toBeGreaterThan(0);
  });

  it('a channel new to the cursor is read from its window start; the others go on from the cursor', async () => {
    await file.insert([row(T - 3600, 1), row(T - 3600, 2)], 'one-api');
    const first = await read(emptyUsage(), NOW, [1]);
    expect(used(first.usage, 2)).toEqual({ tokens: 0, requests: 0 });
    const second = await read(first.usage, NOW + 5000, [1, 2]);
    expect(second.stats.coldChannels).toEqual([2]);
    expect([used(second.usage, 1), used(second.usage, 2)]).toEqual([
      { tokens: 100, requests: 1 },
      { tokens: 100, requests: 1 },
    ]);
  });

  it('a new reset time recounts only its channel, from that window\'s local midnight, and cuts its buckets there', async () => {
    await file.insert([row(T - 3600, 1), row(T - 3600 * 6, 2), row(T - 3600, 2)], 'one-api'); // 13:00 and 08:00
    const first = await read(emptyUsage());
    const moved = aConfig({ budgets: [aBudget({ channel: 1, model: 'm' }), aBudget({ channel: 2, model: 'm', resetAt: '09:00' })] });
    const second = await ingestFromDb(first.usage, { client: client(), db, flavor: 'one-api', config: moved, channels: [1, 2], nowMs: NOW + 5000 });
    expect(second.stats.coldChannels).toEqual([2]);
    expect(second.usage.buckets.filter((b) => b.channel === 1)).toEqual(first.usage.buckets.filter((b) => b.channel === 1));
    // The 09:00 window holds the 13:00 row only: channel 2's buckets are cut at 09:00 now.
    expect(sumUsage(second.usage.buckets, { channel: 2, from: T - 5 * 3600, to: T + 86_400 })).toEqual({ tokens: 100, requests: 1 });
    expect(used(second.usage, 2)).toEqual({ tokens: 200, requests: 2 });
  });

  it('OneAPI\'s clock stepped back an hour: rows stamped below the settled line are counted once, by their ids', async () => {
    await file.insert([row(T - 600), row(T - 300)], 'one-api');
    const first = await read(emptyUsage());
    // Both clocks an hour back: rows written now are stamped T − 3600 and later, far below what was settled.
    const back = NOW - 3_600_000;
    await file.insert([row(T - 3600 - 20, 1, 10), row(T - 3600 - 10, 1, 10)], 'one-api');
    const warnings: unknown[] = [];
    const log = { warn: (o: unknown, m: string) => warnings.push([m, o]), info: () => undefined } as unknown as Logger;
    const second = await ingestFromDb(first.usage, { client: client(), db, flavor: 'one-api', config, channels: [1, 2], nowMs: back, log });
    expect(used(second.usage)).toEqual({ tokens: 220, requests: 4 });
    expect(warnings).toEqual([["OneAPI's clock went back; reading around it", expect.objectContaining({ backSec: 3600, how: 'ids above the highest counted' })]]);
    // Time goes on from the stepped-back clock; nothing is counted twice, one more row once.
    await file.insert([row(T - 3600 + 50, 1, 5)], 'one-api');
    const third = await read(second.usage, back + 120_000);
    const fourth = await read(third.usage, back + 240_000);
    expect(used(fourth.usage)).toEqual({ tokens: 225, requests: 5 });
  });

  it('ids that went back (the table emptied, SQLite reusing ids) do not freeze counting: a time read, then ids again', async () => {
    await file.insert([row(T - 600), row(T - 300), row(T - 200)], 'one-api');
    const first = await read(emptyUsage());
    expect(first.usage.dbCursor?.maxId).toBe(3);
    // one-api's SQLite table has no AUTOINCREMENT (test/fixtures/oneapi-ddl/one-api.sqlite.sql): an emptied table
    // hands out id 1 again.
    await file.exec('DELETE FROM logs');
    await file.insert([row(T + 30, 1, 9)], 'one-api');
    const warnings: string[] = [];
    const log = { warn: (_o: unknown, m: string) => warnings.push(m), info: () => undefined } as unknown as Logger;
    const second = await ingestFromDb(first.usage, { client: client(), db, flavor: 'one-api', config, channels: [1, 2], nowMs: NOW + 60_000, log });
    expect(warnings).toEqual(['log ids went back (a log clean-up or id reuse); reading by time']);
    expect(used(second.usage)).toEqual({ tokens: 309, requests: 4 });
    expect(second.usage.dbCursor?.maxId).toBe(1);
  });

  it("reads by OneAPI's clock: with OneAPI 10 minutes ahead, its rows up to its now are counted in the right bucket", async () => {
    await file.insert([row(T + 600 - 30)], 'one-api');
    const r = await read(emptyUsage(), NOW, [1], 600);
    expect(used(r.usage)).toEqual({ tokens: 100, requests: 1 });
    expect(r.usage.dbCursor).toMatchObject({ readTo: T + 600 - 2, skewSec: 600 });
    expect(r.usage.watermark).toBe(T - 2);
  });

  it('switching sources recounts instead of adding: each source drops the other cursor', async () => {
    await file.insert([row(T - 3600), row(T - 30)], 'one-api');
    const viaDb = await read(emptyUsage());
    expect(viaDb.usage.cursor).toBeNull();
    // Back on the API (whose log store here is empty): the channel is read from scratch, the DB's counts dropped.
    const api = { ...client(), readLogs: async () => ({ pages: 1, rows: 0 }) } as unknown as OneApiClient;
    const back = await ingest(viaDb.usage, { client: api, flavor: 'one-api', config, channels: [1], nowMs: NOW + 5000 });
    expect(back.usage.dbCursor).toBeUndefined();
    expect(used(back.usage)).toEqual({ tokens: 0, requests: 0 });
    const again = await read(back.usage, NOW + 10_000);
    expect(used(again.usage)).toEqual({ tokens: 200, requests: 2 });
  });

  it('a failed read throws and the usage given is untouched', async () => {
    await file.insert([row(T - 30)], 'one-api');
    const before = (await read(emptyUsage())).usage;
    const copy = structuredClone(before);
    const broken = openLogDb(parseDbUrl('sqlite:///nonexistent/one-api.db'));
    await expect(ingestFromDb(before, { client: client(), db: broken, flavor: 'one-api', config, channels: [1, 2], nowMs: NOW + 5000 })).rejects.toThrow('unreachable');
    await broken.close();
    expect(before).toEqual(copy);
  });
});
