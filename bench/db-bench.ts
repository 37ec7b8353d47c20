/**
 * `npm run bench:db`: issue 8's goals for `usage.source: database`, measured on the real CLI (a child process) against
 * real MariaDB and PostgreSQL servers started here as nobody on 127.0.0.1, with `logs` indexed as OneAPI indexes it,
 * and the OneAPI simulator (in this process) for channels and priority writes. Prints a Markdown table on stdout.
 * Exits non-zero when a CLI run fails or a server cannot be started; a missed goal only shows FAIL.
 *
 * Knobs: BENCH_DB_ENGINES=mariadb,postgres; BENCH_DB_ROWS (rows in the window, default 1000000);
 * BENCH_DB_SUSTAIN_SEC (length of the 500 rows/s run, default 60).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { demoChannels } from '../src/cli/commands/demo.js';
import { startSimulator, type Simulator } from '../src/sim/simulator.js';
import { engineAvailable, PACKAGE, startMariaDb, startPostgres, type Engine, type TestDb } from './db-servers.js';
import { cleanUp, cleanUpOnSignals, cliEnv, configDir, failure, ROOT, runCli, startCli, tempDir } from './harness.js';
import { num, renderTable, say, sec, type Row } from './table.js';
import { DEMO_MODELS, windowStart } from './worlds.js';

const ENGINES = (process.env.BENCH_DB_ENGINES ?? 'mariadb,postgres').split(',').map((e) => e.trim()) as Engine[];
const ROWS = Number(process.env.BENCH_DB_ROWS || 1_000_000);
const SUSTAIN_SEC = Number(process.env.BENCH_DB_SUSTAIN_SEC || 60);
const PER_SEC = 500;
const INTERVAL_SEC = 10;
const STEADY_ROWS = 10_000;
const NAME: Record<Engine, string> = { mariadb: 'MariaDB', postgres: 'PostgreSQL', sqlite: 'SQLite' };
const CHANNELS = [1, 2, 3, 4, 5, 6];

const rows: Row[] = [];
const failures: string[] = [];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowSec = () => Math.floor(Date.now() / 1000);
type Line = { msg?: string; durationMs?: number; dbMs?: number };
const lines = (text: string): Line[] => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);

/** `n` consume rows spread over [from, to], made by the database itself (a million INSERT parameters would not be). */
async function fill(db: TestDb, n: number, from: number, to: number): Promise<void> {
  const models = CHANNELS.map((c) => `'${DEMO_MODELS[c]}'`).join(', ');
  const cols = 'user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens, channel_id';
  const row = (g: string) => `1, ${from} + FLOOR(${g} * ${to - from} / ${n}), 2, '', 'u', 't'`;
  const tail = (g: string) => `100, 300 + MOD(${g}, 500), 700, 1 + MOD(${g}, 6)`;
  if (db.engine === 'postgres')
    await db.exec(`INSERT INTO logs (${cols}) SELECT ${row('g')}, (ARRAY[${models}])[1 + MOD(g, 6)], ${tail('g')} FROM generate_series(0::bigint, ${n - 1}) g`);
  else await db.exec(`INSERT INTO logs (${cols}) SELECT ${row('seq')}, ELT(1 + MOD(seq, 6), ${models}), ${tail('seq')} FROM seq_0_to_${n - 1}`);
  await db.exec(db.engine === 'postgres' ? 'ANALYZE logs' : 'ANALYZE TABLE logs');
}

/** The usage read's database time and the cycle's length, from the CLI's own debug log and state file. */
async function cycle(env: Record<string, string>, state: string): Promise<{ dbMs: number; cycleMs: number } | undefined> {
  const r = await runCli(['once'], env);
  if (r.code !== 0) {
    failures.push(failure(r));
    return undefined;
  }
  const read = lines(r.stderr).find((l) => l.msg === 'usage read');
  const last = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { lastCycle: { durationMs: number } };
  return { dbMs: read?.dbMs ?? NaN, cycleMs: last.lastCycle.durationMs };
}

/** status --json against the table's own sums, per budget (channel and model) since the window start. */
async function mismatch(db: TestDb, env: Record<string, string>, from: number): Promise<string | undefined> {
  const r = await runCli(['status', '--json'], env, 60_000, true);
  const status = JSON.parse(r.stdout) as { budgets: Array<{ channel: number; model: string; used: number }> };
  for (const b of status.budgets) {
    const p = db.engine === 'postgres' ? ['$1', '$2', '$3'] : ['?', '?', '?'];
    const [s] = await db.query<{ t: string | number | null }>(
      `SELECT SUM(prompt_tokens + completion_tokens) AS t FROM logs WHERE type = 2 AND channel_id = ${p[0]} AND model_name = ${p[1]} AND created_at >= ${p[2]}`,
      [b.channel, b.model, from],
    );
    if (Number(s.t ?? 0) !== b.used) return `budget ${b.channel}/${b.model}: counted ${b.used}, table ${s.t}`;
  }
  return undefined;
}

async function benchEngine(engine: Engine): Promise<void> {
  const name = NAME[engine];
  say(`${name}: starting the server`);
  const db = engine === 'mariadb' ? await startMariaDb() : await startPostgres();
  let sim: Simulator | undefined;
  try {
    await db.createLogs('one-api');
    const from = windowStart(Date.now());
    say(`${name}: ${num(ROWS)} rows in the window`);
    await fill(db, ROWS, from + 1, nowSec() - 30);
    sim = await startSimulator({ flavor: 'one-api', channels: demoChannels() });
    const channels = `usage:\n  source: database\n${readFileSync(join(ROOT, 'channels.yaml'), 'utf8')}`;
    const cfg = configDir(channels, readFileSync(join(ROOT, 'priorities.yaml'), 'utf8'));
    const state = tempDir('state');
    const env = cliEnv(sim, cfg, state, { ONEAPI_DB_URL: db.url, ONEAPI_RATE_LIMIT: '6000', LOG_LEVEL: 'debug' });

    say(`${name}: cold cycle`);
    const cold = await cycle(env, state);
    if (cold)
      rows.push({ measure: `${name}: cold cycle, ${num(ROWS)} rows in the window`, figure: `${sec(cold.cycleMs)} (database ${sec(cold.dbMs)})`, goal: '≤ 2 s', pass: cold.cycleMs <= 2000 });

    say(`${name}: steady cycle after ${num(STEADY_ROWS)} new rows`);
    const t = nowSec();
    await fill(db, STEADY_ROWS, t - 8, t - 3);
    await sleep(1500);
    const steady = await cycle(env, state);
    if (steady)
      rows.push({ measure: `${name}: steady cycle, ${num(STEADY_ROWS)} new rows since the last`, figure: `database ${steady.dbMs} ms (cycle ${steady.cycleMs} ms)`, goal: '≤ 100 ms of database time', pass: steady.dbMs <= 100 });

    say(`${name}: ${PER_SEC} rows/s for ${SUSTAIN_SEC} s under run --interval ${INTERVAL_SEC}`);
    const daemon = startCli(['run', '--interval', String(INTERVAL_SEC), '--listen', 'off'], env);
    const started = Date.now();
    let inserted = 0;
    let feeding = Promise.resolve();
    const feeder = setInterval(() => {
      const owed = Math.floor(((Date.now() - started) / 1000) * PER_SEC) - inserted;
      if (owed <= 0) return;
      inserted += owed;
      feeding = feeding.then(() => fill(db, owed, nowSec(), nowSec()));
    }, 100);
    await sleep(SUSTAIN_SEC * 1000);
    clearInterval(feeder);
    await feeding;
    // Two more cycles, so the last rows are read (the read end is 2 s behind OneAPI's clock).
    const done = () => lines(daemon.stdout()).filter((l) => l.msg === 'cycle done' || l.msg === 'cycle failed');
    const before = done().length;
    const deadline = Date.now() + 4 * INTERVAL_SEC * 1000;
    while (done().length < before + 2 && daemon.child.exitCode === null && Date.now() < deadline) await sleep(200);
    daemon.child.kill('SIGTERM');
    const run = await daemon.done;
    if (run.code !== 0) failures.push(failure(run));
    const cycles = done();
    const longest = Math.max(...cycles.map((c) => c.durationMs ?? Infinity));
    const failed = cycles.filter((c) => c.msg === 'cycle failed').length;
    const wrong = await mismatch(db, env, from);
    rows.push({
      measure: `${name}: ${PER_SEC} rows/s inserted for ${SUSTAIN_SEC} s, run --interval ${INTERVAL_SEC}`,
      figure: `${cycles.length} cycles, longest ${longest} ms${failed ? `, ${failed} failed` : ''}; counts ${wrong ? `WRONG (${wrong})` : 'equal the table sums'}`,
      goal: 'every cycle ≤ 1 s; counts equal the table sums',
      pass: longest <= 1000 && failed === 0 && !wrong,
    });
  } finally {
    await sim?.close();
    await db.stop();
  }
}

cleanUpOnSignals();
try {
  for (const engine of ENGINES) {
    if (!engineAvailable(engine)) {
      failures.push(`${NAME[engine] ?? engine}: not installed (needs ${PACKAGE[engine]})`);
      continue;
    }
    await benchEngine(engine);
  }
} finally {
  cleanUp();
}
say('done');
console.log(`quota-pilot database-source bench (node ${process.version}, ${cpus().length} CPUs; CLI = node dist/cli/main.js, usage.source: database)\n`);
console.log(renderTable(rows));
console.log('\nThe logs table has OneAPI\'s indexes (created_at+type, channel_id, model_name); rows are spread over 6 channels, 4 of them budgeted.');
if (failures.length) {
  console.log(`\n${failures.length} problem(s):\n${failures.map((f) => `- ${f}`).join('\n')}`);
  process.exitCode = 1;
}
