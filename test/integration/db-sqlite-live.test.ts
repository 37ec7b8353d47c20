import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { events, finished, ROOT, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DB_CHANNELS, describeWith, openSqlite, type TestDb } from '../helpers/databases.js';
import { DEEPSEEK, world } from '../helpers/world.js';

/** Another process writes the WAL database the way OneAPI does: one INSERT per request, as they come. */
const WRITER = `
import Database from 'better-sqlite3';
const db = new Database(process.argv[1]);
db.pragma('journal_mode = WAL');
const insert = db.prepare('INSERT INTO logs (created_at, type, channel_id, model_name, prompt_tokens, completion_tokens) VALUES (?, 2, ?, ?, ?, ?)');
const until = Date.now() + Number(process.argv[2]);
let n = 0;
const tick = () => {
  if (Date.now() > until) { db.close(); process.stdout.write(String(n)); return; }
  for (let i = 0; i < 20; i++) { insert.run(Math.floor(Date.now() / 1000), 1 + (n % 2) * 2, n % 2 ? 'GLM-4-7-251222' : '${DEEPSEEK}', 300, 700); n++; }
  setTimeout(tick, 50);
};
tick();
`;

const title = 'usage.source: database on a SQLite file that OneAPI writes meanwhile (real CLI, daemon)';
describeWith('sqlite', title)(title, () => {
  const cleanup = useCleanup();
  let db: TestDb;
  beforeAll(async () => {
    db = await openSqlite();
    await db.createLogs('one-api');
  });
  afterAll(async () => db?.stop());

  it('every cycle succeeds while rows are inserted, and the counts equal the table sums after; SIGTERM closes the database', async () => {
    const w = await world({ channels: DB_CHANNELS });
    cleanup.add(() => w.sim.close());
    const env = { ...w.env, ONEAPI_DB_URL: db.url };
    const path = db.url.replace('sqlite://', '');
    const writer = spawn(process.execPath, ['--input-type=module', '-e', WRITER, path, '9000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let written = '';
    let writerErr = '';
    writer.stdout.on('data', (d) => (written += d));
    writer.stderr.on('data', (d) => (writerErr += d));
    const writerDone = new Promise<number | null>((r) => writer.on('exit', r));
    const daemon = cleanup.start(['run', '--interval', '5', '--listen', 'off'], env);
    const cycles = () => events(daemon.out()).filter((e) => e.msg === 'cycle done' || e.msg === 'cycle failed');
    expect(await writerDone).toBe(0);
    expect(writerErr).toBe('');
    // Two more cycles after the last insert: the last one reads past it.
    const seen = cycles().length;
    await waitFor(() => cycles().length >= seen + 2, 30_000, 'two cycles after the writer stopped');
    daemon.kill('SIGTERM');
    const exit = await finished(daemon, 15_000);
    expect(exit.code).toBe(0);
    expect(events(exit.stdout).map((e) => e.msg)).toContain('quota-pilot stopped');
    expect(cycles().length).toBeGreaterThanOrEqual(3);
    expect(cycles().filter((e) => e.msg === 'cycle failed')).toEqual([]);

    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { budgets: Array<{ channel: number; used: number; requests: number }> };
    const sums = await db.query<{ c: number; t: number; n: number }>('SELECT channel_id AS c, SUM(prompt_tokens + completion_tokens) AS t, COUNT(*) AS n FROM logs GROUP BY channel_id ORDER BY channel_id');
    expect(sums.reduce((n, s) => n + s.n, 0)).toBe(Number(written));
    for (const s of sums) expect(status.budgets.find((b) => b.channel === s.c)).toMatchObject({ used: s.t, requests: s.n });
  }, 60_000);
});
