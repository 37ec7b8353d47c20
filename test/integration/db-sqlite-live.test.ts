import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startWriter } from '../../bench/sqlite-writer.js';
import { windowStart } from '../../bench/worlds.js';
import { events, finished, ROOT, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DB_CHANNELS, describeWith, openSqlite, type TestDb } from '../helpers/databases.js';
import { DEEPSEEK, world } from '../helpers/world.js';

/** 1,000,000 rows of one-api's real table over the last 24 hours and 8 channels; the budgeted ones are 1 to 4. */
const ROWS = 1_000_000;
const MODELS: Record<number, string> = { 1: DEEPSEEK, 2: 'Doubao-Seed-Code-Preview-251028', 3: 'GLM-4-7-251222', 4: 'Kimi-K2-Thinking-251104' };
/**
 * The test's bounds, with room for a loaded 2-core box; the bench's goals are tighter (100 ms, 50 ms). Before reads
 * were cut into chunks and kept off the channel index, OneAPI's slowest insert waited 0.66 s (the cold read's
 * lock) and a steady read took 0.3 s; after, 53 ms and 5-38 ms.
 */
const SLOWEST_INSERT_MS = 250;
const STEADY_DB_MS = 100;

const title = "usage.source: database on a SQLite file OneAPI writes meanwhile, in rollback-journal mode (real CLI, daemon)";
describeWith('sqlite', title)(title, () => {
  const cleanup = useCleanup();
  let db: TestDb;
  beforeAll(async () => {
    db = await openSqlite();
    const now = Math.floor(Date.now() / 1000);
    await db.createLogs('one-api', { rows: ROWS, from: now - 24 * 3600, to: now - 5, channels: 8, model: (c) => MODELS[c] ?? `other-model-${c}` });
  }, 120_000);
  afterAll(async () => db?.stop());

  it("OneAPI's inserts (busy timeout 3 s) never fail and wait little, while the daemon reads cold then steady; counts equal the table sums; SIGTERM closes the database", async () => {
    const w = await world({ channels: DB_CHANNELS });
    cleanup.add(() => w.sim.close());
    const env = { ...w.env, ONEAPI_DB_URL: db.url, LOG_LEVEL: 'debug' };
    const path = db.url.replace('sqlite://', '');
    // one-api's busy timeout; a consume log every 20 ms.
    const writer = await startWriter(path, { cwd: ROOT, everyMs: 20, busyTimeoutMs: 3000, models: MODELS });
    let stopped = false;
    cleanup.add(async () => void (stopped || (await writer.stop().catch(() => undefined))));
    const daemon = cleanup.start(['run', '--interval', '5', '--listen', 'off'], env);
    const lines = () => events(`${daemon.out()}\n${daemon.err()}`);
    const cycles = () => lines().filter((e) => e.msg === 'cycle done' || e.msg === 'cycle failed');
    // The daemon's last output in the message, should it never get there.
    const waitCycles = (n: number, what: string) => waitFor(() => cycles().length >= n, 60_000, what).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${daemon.out().slice(-2000)}\n${daemon.err().slice(-2000)}`)));
    await waitCycles(4, 'a cold cycle and three steady ones');
    const result = await writer.stop();
    stopped = true;
    // Two more cycles after the last insert: the last one reads past it (2 s behind).
    const seen = cycles().length;
    await waitCycles(seen + 2, 'two cycles after the writer stopped');
    daemon.kill('SIGTERM');
    const exit = await finished(daemon, 15_000);
    expect(exit.code).toBe(0);
    expect(events(exit.stdout).map((e) => e.msg)).toContain('quota-pilot stopped');
    expect(cycles().filter((e) => e.msg === 'cycle failed')).toEqual([]);

    expect({ failed: result.failed, errors: result.errors }).toEqual({ failed: 0, errors: [] });
    expect(result.inserts).toBeGreaterThan(100);
    expect(result.slowestMs).toBeLessThanOrEqual(SLOWEST_INSERT_MS);
    const reads = lines().filter((e) => e.msg === 'usage read') as Array<{ dbMs?: number }>;
    expect(reads.length).toBeGreaterThanOrEqual(4);
    const steady = Math.max(...reads.slice(1).map((r) => r.dbMs ?? Infinity));
    expect(steady).toBeLessThanOrEqual(STEADY_DB_MS);

    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { budgets: Array<{ channel: number; used: number; requests: number }> };
    const from = windowStart(Date.now());
    const sums = await db.query<{ c: number; t: number; n: number }>(
      'SELECT channel_id AS c, SUM(prompt_tokens + completion_tokens) AS t, COUNT(*) AS n FROM logs WHERE type = 2 AND channel_id <= 4 AND created_at >= ? GROUP BY channel_id ORDER BY channel_id',
      [from],
    );
    expect(sums.length).toBe(4);
    for (const s of sums) expect(status.budgets.find((b) => b.channel === s.c)).toMatchObject({ used: s.t, requests: s.n });
  }, 180_000);
});
