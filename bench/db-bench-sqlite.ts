import { startSimulator, type Simulator } from '../src/sim/simulator.js';
import type { SimChannel } from '../src/sim/types.js';
import { openSqlite } from './db-servers.js';
import { onceTimed } from './db-once.js';
import { cliEnv, configDir, ROOT, tempDir } from './harness.js';
import { startWriter, type WriterResult } from './sqlite-writer.js';
import { num, say, sec, type Outcome } from './table.js';

/**
 * Issue 18's SQLite measure: one-api's upstream `logs` table in rollback-journal mode (as OneAPI keeps it) with
 * `rows` rows over 20 channels, 10 of them budgeted (all rows in their window); a writer inserting a consume log every 20 ms with one-api's
 * busy timeout (3 s) during a cold `once` and a steady one (< 100 new rows). Goals: no failed insert, OneAPI's slowest
 * insert ≤ 100 ms, the steady cycle ≤ 50 ms of database time.
 */
export async function benchSqlite(rows: number): Promise<Outcome> {
  const out: Outcome = { rows: [], cliFailures: [] };
  const model = (c: number) => `model-${c}`;
  const db = await openSqlite();
  let sim: Simulator | undefined;
  let writer: { stop: () => Promise<WriterResult> } | undefined;
  try {
    const now = Math.floor(Date.now() / 1000);
    say(`SQLite: ${num(rows)} rows over the last 7 days (one transaction, indexes built after)`);
    const t0 = Date.now();
    // A week of history, all of it in the budgets' window (`total` since 8 days ago): the cold cycle reads it all.
    await db.createLogs('one-api', { rows, from: now - 7 * 86_400, to: now - 60, channels: 20, model });
    const fillMs = Date.now() - t0;
    const channels: SimChannel[] = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `ch-${i + 1}`, priority: 100, status: 1, models: model(i + 1), key: `sk-${i + 1}` }));
    sim = await startSimulator({ flavor: 'one-api', channels });
    const since = new Date((now - 8 * 86_400) * 1000).toISOString().slice(0, 10);
    const budgets = channels.slice(0, 10).map((c) => `  - channel: ${c.name}\n    model: ${model(c.id)}\n    free_tokens: 100000M\n    window: total\n    since: ${since}`);
    const cfg = configDir(`usage:\n  source: database\ntimezone: Asia/Shanghai\nchannels:\n${budgets.join('\n')}\n`, `reset:\n  at: "02:20"\n  timezone: Asia/Shanghai\ndefaults:\n${channels.map((c) => `  ${c.name}: 100`).join('\n')}\ndemoted: 10\n`);
    const state = tempDir('state');
    const env = cliEnv(sim, cfg, state, { ONEAPI_DB_URL: db.url, ONEAPI_RATE_LIMIT: '6000', LOG_LEVEL: 'debug' });
    const path = db.url.replace('sqlite://', '');
    const models = Object.fromEntries(channels.slice(0, 10).map((c) => [c.id, model(c.id)]));

    // The writer alone first: its slowest insert with nobody reading (fsync, a busy box) is the floor.
    say('SQLite: OneAPI inserting every 20 ms for 5 s, nobody reading');
    writer = await startWriter(path, { cwd: ROOT, everyMs: 20, busyTimeoutMs: 3000, models });
    await new Promise((r) => setTimeout(r, 5000));
    const alone = await writer.stop();
    say('SQLite: cold cycle while OneAPI inserts every 20 ms');
    writer = await startWriter(path, { cwd: ROOT, everyMs: 20, busyTimeoutMs: 3000, models });
    const cold = await onceTimed(env, state, out.cliFailures);
    const during = await writer.stop();
    say('SQLite: steady cycle while OneAPI inserts every 20 ms');
    writer = await startWriter(path, { cwd: ROOT, everyMs: 20, busyTimeoutMs: 3000, models });
    await new Promise((r) => setTimeout(r, 1500));
    const steady = await onceTimed(env, state, out.cliFailures);
    const after = await writer.stop();
    writer = undefined;
    const failed = during.failed + after.failed;
    const slowest = Math.max(during.slowestMs, after.slowestMs);
    if (cold && steady)
      out.rows.push({
        measure: `SQLite (rollback journal), ${num(rows)} rows in logs (${sec(fillMs)} to make), 10 of 20 channels; an insert every 20 ms, busy timeout 3 s`,
        figure: `cold cycle: database ${sec(cold.dbMs)}; OneAPI's slowest insert ${slowest} ms (${alone.slowestMs} ms with nobody reading), failed inserts ${failed}${failed ? ` (${[...during.errors, ...after.errors].join(', ')})` : ''}; steady cycle (< 100 new rows): database ${steady.dbMs} ms`,
        goal: 'no failed insert; slowest insert ≤ 100 ms; steady ≤ 50 ms of database time',
        pass: failed === 0 && slowest <= 100 && steady.dbMs <= 50,
      });
  } finally {
    await writer?.stop().catch(() => undefined);
    await sim?.close();
    await db.stop();
  }
  return out;
}
