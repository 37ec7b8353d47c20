/**
 * `npm run bench`: the ingestion goals of issue 6, measured on the real CLI (dist/cli/main.js, the bundle, a child
 * process) against the OneAPI simulator running in this process on 127.0.0.1. Prints a Markdown table on stdout
 * (progress on stderr). Exits non-zero when a CLI run fails; a missed goal only shows FAIL in the table.
 *
 * Knobs: BENCH_ONLY=a,b,… (a subset of the measures), BENCH_LOGS (logs for a/b, default 200000),
 * BENCH_SUSTAIN_SEC (length of f, default 240).
 */
import { cpus } from 'node:os';
import type { Flavor } from '../src/oneapi/types.js';
import { backfill, million } from './backfill.js';
import { CLI_NODE_FLAGS, cleanUp, cleanUpOnSignals } from './harness.js';
import { runCpu } from './run-cpu.js';
import { manyBudgetsCpu, steady } from './steady.js';
import { sustained } from './sustain.js';
import { renderTable, say, type Outcome, type Row } from './table.js';

const MEASURES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const only = new Set((process.env.BENCH_ONLY ?? MEASURES.join(',')).split(',').map((m) => m.trim().toLowerCase()).filter(Boolean));
const unknown = [...only].filter((m) => !MEASURES.includes(m));
if (unknown.length) {
  process.stderr.write(`BENCH_ONLY: unknown measure(s) ${unknown.join(', ')}; pick from ${MEASURES.join(', ')}\n`);
  process.exit(2);
}
const logs = positive('BENCH_LOGS', 200_000);
const sustainSec = positive('BENCH_SUSTAIN_SEC', 240);
const FLAVORS: Flavor[] = ['one-api', 'new-api', 'one-hub'];

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9]\d*$/.test(raw)) {
    process.stderr.write(`${name} must be a positive whole number (got "${raw}")\n`);
    process.exit(2);
  }
  return Number(raw);
}

const rows: Row[] = [];
const cliFailures: string[] = [];
const take = (o: Outcome) => {
  rows.push(...o.rows);
  cliFailures.push(...o.cliFailures);
};

cleanUpOnSignals();
try {
  if (only.has('a') || only.has('b')) for (const f of FLAVORS) take(await backfill(f, logs, { a: only.has('a'), b: only.has('b') }));
  if (only.has('c')) take(await million());
  if (only.has('d')) for (const f of FLAVORS) take(await steady(f, [5, 95, 1_000]));
  if (only.has('e')) take(await manyBudgetsCpu());
  if (only.has('f')) take(await sustained(sustainSec));
  if (only.has('g')) take(await runCpu());
} finally {
  cleanUp();
}

say('done');
console.log(`quota-pilot ingestion bench (node ${process.version}, ${cpus().length} CPUs; CLI = node ${[...CLI_NODE_FLAGS, 'dist/cli/main.js'].join(' ')}, the flags of its #! line)\n`);
console.log(renderTable(rows));
const notes = [];
if (only.has('a')) notes.push('a: both sides are whole processes (node start-up included) fetching the same requests from the same simulator, best of 2 each; [loop] is the minimal client without its start-up.');
if (only.has('d') || only.has('e')) notes.push("d, e: OneAPI's clock (the Date header) is moved a minute per cycle; \"usage exact\" = status --json matches the simulator's logs for every budget.");
if (only.has('g')) notes.push("g: the daemon's CPU from /proc/<pid>/stat (utime + stime) at the same point of each interval, so a cycle's figure holds everything until the next one; the simulator's clock follows the real one.");
if (notes.length) console.log(`\n${notes.join('\n')}`);
if (cliFailures.length) {
  console.log(`\n${cliFailures.length} CLI run(s) failed:\n${cliFailures.map((f) => `- ${f}`).join('\n')}`);
  process.exitCode = 1;
}
