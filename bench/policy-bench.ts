/**
 * `npm run bench:policy`: how exactly predictive demotion spends a free budget (issues 7 and 17), on the simulator's
 * priority router (policy-world.ts). Each figure over 5 seeds and cache phases, beside its goal:
 * - steady and burst traffic, the daemon watching from the start (D = 12 s, routing_delay: 12, 60 s polls);
 * - a daemon started with 85% and 95% of the budget spent (D = 12 s, routing_delay: 12, one 5 s poll = 5%);
 * - routing_delay not set on one-api (default 600 s, wrong for all three), real D = 0, 12 and 60 s: the second
 *   window, after one measured demotion, beside the first;
 * - requests lasting 20–120 s (streams), D = 12 s.
 * Utilization is shown beside the phase bound (the best switch given the cache's refresh instants, which the daemon
 * does not know) and beside the best without knowing them (demote D before the budget runs out, be served until the
 * next refresh). Prints a Markdown table on stdout, progress on stderr. BENCH_ONLY=steady,start,auto,streams runs
 * some of them.
 */
import { B, runScenario, type Scenario, type WindowResult } from './policy-world.js';
import { num, renderTable, say, type Row } from './table.js';

/** Where the burst starts, as a share of the budget (BENCH_BURST_AT, default 0.88: the minute ×3 ends just past it). */
const BURST_AT = Number(process.env.BENCH_BURST_AT ?? 0.88);
const ONLY = (process.env.BENCH_ONLY ?? 'steady,start,auto,streams').split(',');
const RUNS = 5;

const pct = (x: number) => `${x >= 0 ? '+' : ''}${num(x * 100, 2)}%`;
const over = (w: WindowResult) => (w.served - B) / B;
const util = (w: WindowResult) => Math.min(w.served, B) / B;
const utilFigure = (w: WindowResult) => `${num(util(w) * 100, 2)}% (phase bound ${num((w.best / B) * 100, 2)}%; without knowing the phase ${num((Math.min(w.safe, B) / B) * 100, 2)}%)`;

/** Runs `s` over the seeds and cache phases, calling `rows` with each run's result. */
async function each(label: string, s: Scenario, rows: (tag: string, r: Awaited<ReturnType<typeof runScenario>>) => Row[]): Promise<Row[]> {
  const out: Row[] = [];
  for (let run = 0; run < RUNS; run++) {
    const seed = run + 1;
    const phase = (run * Math.max(s.cacheSec, 1)) / RUNS;
    const r = await runScenario(s, seed, phase);
    say(`${label} seed ${seed} phase ${phase.toFixed(1)} s: ${r.windows.map((w) => `served ${num(w.served)} (bound ${num(w.best)})`).join(', ')}; ${r.cycles} cycles; delay ${r.delay}; ${r.windows.at(-1)!.reason}`);
    out.push(...rows(`${label}, seed ${seed}, cache phase ${phase.toFixed(1)} s`, r));
  }
  return out;
}

const OVER = 0.005;
const overRow = (tag: string, w: WindowResult, limit = OVER): Row => ({
  measure: `overshoot, ${tag}`,
  // Where even the phase bound overshoots (no refresh before the budget runs out), say so beside the figure.
  figure: pct(over(w)) + (w.best > B ? ` (phase bound ${pct((w.best - B) / B)})` : ''),
  goal: `≤ ${pct(limit)}`,
  pass: over(w) <= limit,
});
const utilRow = (tag: string, w: WindowResult): Row => ({ measure: `utilization, ${tag}`, figure: utilFigure(w), goal: 'within 1% of the phase bound', pass: util(w) >= Math.min(w.best, B) / B - 0.01 });

async function main(): Promise<void> {
  const rows: Row[] = [];
  // A 60 s poll of traffic is 5% of the budget.
  const watched: Scenario = { flavor: 'new-api', cacheSec: 12, routingDelay: 12, intervalSec: 60, rate: (0.05 * B) / 60, runSec: 40 * 60 };
  if (ONLY.includes('steady')) {
    rows.push(...(await each('steady', watched, (tag, r) => [overRow(tag, r.windows[0]), utilRow(tag, r.windows[0]), { measure: `cycles, ${tag}`, figure: num(r.cycles), goal: '(for information)' }])));
    const burst = { ...watched, burstAt: BURST_AT };
    rows.push(...(await each(`burst ×3 for 1 min from ${BURST_AT * 100}%`, burst, (tag, r) => [overRow(tag, r.windows[0], 0.01), { measure: `utilization, ${tag}`, figure: utilFigure(r.windows[0]), goal: '(for information)' }])));
  }
  if (ONLY.includes('start')) {
    // One 5 s poll is 5% of the budget: 1% a second.
    for (const at of [0.85, 0.95]) {
      const started: Scenario = { flavor: 'new-api', cacheSec: 12, routingDelay: 12, intervalSec: 5, rate: (0.05 * B) / 5, runSec: 150, startAt: at };
      rows.push(...(await each(`daemon started at ${at * 100}%`, started, (tag, r) => [overRow(tag, r.windows[0]), utilRow(tag, r.windows[0])])));
    }
  }
  if (ONLY.includes('auto')) {
    for (const d of [0, 12, 60]) {
      const auto: Scenario = { flavor: 'one-api', cacheSec: d, routingDelay: null, intervalSec: 60, rate: (0.05 * B) / 60, runSec: 25 * 60, windows: 2 };
      rows.push(
        ...(await each(`routing_delay not set (one-api), real D = ${d} s`, auto, (tag, r) => [
          overRow(`second window, ${tag}`, r.windows[1]),
          utilRow(`second window, ${tag}`, r.windows[1]),
          { measure: `first window (flavor default 600 s), ${tag}`, figure: `overshoot ${pct(over(r.windows[0]))}, utilization ${utilFigure(r.windows[0])}`, goal: '(for information)' },
          { measure: `delay in use after it, ${tag}`, figure: r.delay, goal: '(for information)' },
        ])),
      );
    }
  }
  if (ONLY.includes('streams')) {
    const streams: Scenario = { ...watched, elapsed: [20, 120], runSec: 30 * 60 };
    rows.push(...(await each('requests lasting 20–120 s, D = 12 s', streams, (tag, r) => [overRow(tag, r.windows[0]), { measure: `utilization, ${tag}`, figure: utilFigure(r.windows[0]), goal: '(for information)' }])));
  }
  process.stdout.write(renderTable(rows) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
