/**
 * Measures a–c: a cold `once` over a large window. The CLI's wall time is compared with the minimal client
 * (replay-client.ts) fetching exactly the requests the CLI sent, from the same simulator in the same run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoChannels } from '../src/cli/commands/demo.js';
import type { Flavor } from '../src/oneapi/types.js';
import { startSimulator, type Simulator } from '../src/sim/simulator.js';
import { cliEnv, configDir, failure, replay, ROOT, runCli, tempDir, usageMismatch, type CliRun } from './harness.js';
import { num, say, sec, type Outcome } from './table.js';
import { DEMO_MODELS, spread, windowStart } from './worlds.js';

const LIFTED = { ONEAPI_RATE_LIMIT: '1000000' };
// Two CLI runs and two replays, alternating; the best of each is compared (first-run noise, JIT, page cache).
const ROUNDS = 2;

/** The shipped example config (budgets on demo channels 1–4). */
export function shippedConfig(): string {
  return configDir(readFileSync(join(ROOT, 'channels.yaml'), 'utf8'), readFileSync(join(ROOT, 'priorities.yaml'), 'utf8'));
}

/** A simulator holding `n` consume logs over today's window so far, on demo channels 1–6. */
async function filledSim(flavor: Flavor, n: number): Promise<{ sim: Simulator; from: number }> {
  const sim = await startSimulator({ flavor, channels: demoChannels() });
  const nowSec = Math.floor(Date.now() / 1000);
  const from = windowStart(Date.now()) + 1;
  for (const log of spread(n, from, Math.max(from, nowSec - 30), [1, 2, 3, 4, 5, 6], (c) => DEMO_MODELS[c])) sim.addLog(log);
  return { sim, from };
}

/** a (ratio to the minimal client) and b (peak RSS) for one flavor. */
export async function backfill(flavor: Flavor, n: number, want: { a: boolean; b: boolean }): Promise<Outcome> {
  say(`a/b: ${flavor}, ${num(n)} logs`);
  const { sim, from } = await filledSim(flavor, n);
  const cfg = shippedConfig();
  let wrong: string | undefined;
  const cli: CliRun[] = [];
  const replays: { ms: number; loopMs: number }[] = [];
  let requests = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      sim.channels = demoChannels();
      sim.requests.length = 0;
      const lastState = tempDir('state');
      const run = await runCli(['once'], cliEnv(sim, cfg, lastState, LIFTED));
      say(`  once: ${run.code === 0 ? 'ok' : failure(run)} in ${sec(run.ms)}, ${num(sim.requests.length)} requests, RSS ${num(run.rssMb ?? NaN)} MB`);
      if (run.code !== 0) {
        // The pages it did fetch still say what a minimal client needs for them.
        const sent = sim.requests.slice();
        sim.requests.length = 0;
        return failed(flavor, n, run, want, sent.length, sent.length ? await replay(sim, sent) : undefined);
      }
      cli.push(run);
      const sent = sim.requests.slice();
      wrong ??= await usageMismatch(sim, cliEnv(sim, cfg, lastState, LIFTED), from - 1);
      requests = sent.length;
      sim.requests.length = 0;
      sim.channels = demoChannels();
      replays.push(await replay(sim, sent));
      say(`  minimal client: ${sec(replays[replays.length - 1].ms)} (loop ${sec(replays[replays.length - 1].loopMs)})`);
    }
  } finally {
    await sim.close();
  }
  const best = Math.min(...cli.map((r) => r.ms));
  const base = Math.min(...replays.map((r) => r.ms));
  const loop = Math.min(...replays.map((r) => r.loopMs));
  const rss = Math.max(...cli.map((r) => r.rssMb ?? Infinity));
  const rows = [];
  if (want.a)
    rows.push({
      measure: `a. once, ${num(n)} logs, ${flavor}: wall ÷ minimal client`,
      figure: `${(best / base).toFixed(2)} (CLI ${sec(best)}, client ${sec(base)} [loop ${sec(loop)}], ${num(requests)} requests)${wrong ? `, but ${wrong}` : ''}`,
      goal: '≤ 1.15, usage exact',
      pass: best / base <= 1.15 && !wrong,
    });
  if (want.b)
    rows.push({ measure: `b. peak RSS of that once, ${flavor}`, figure: `${num(rss)} MB`, goal: '≤ 120 MB', pass: rss <= 120 });
  return { rows, cliFailures: [] };
}

function failed(flavor: Flavor, n: number, run: CliRun, want: { a: boolean; b: boolean }, requests: number, client?: { ms: number }): Outcome {
  const why = `CLI failed (${failure(run)}) after ${sec(run.ms)}; its ${num(requests)} requests take the minimal client ${client ? sec(client.ms) : '-'}`;
  const rows = [];
  if (want.a) rows.push({ measure: `a. once, ${num(n)} logs, ${flavor}: wall ÷ minimal client`, figure: why, goal: '≤ 1.15, usage exact', pass: false });
  if (want.b)
    rows.push({ measure: `b. peak RSS of that once, ${flavor}`, figure: `${num(run.rssMb ?? NaN)} MB (failed run)`, goal: '≤ 120 MB', pass: false });
  return { rows, cliFailures: [`once on ${num(n)} logs (${flavor}): ${failure(run)}`] };
}

/** c: a million logs on new-api completes within 150 MB. */
export async function million(n = 1_000_000): Promise<Outcome> {
  say(`c: new-api, ${num(n)} logs`);
  const { sim, from } = await filledSim('new-api', n);
  try {
    const env = cliEnv(sim, shippedConfig(), tempDir('state'), LIFTED);
    const run = await runCli(['once'], env);
    say(`  once: ${run.code === 0 ? 'ok' : failure(run)} in ${sec(run.ms)}, ${num(sim.requests.length)} requests, RSS ${num(run.rssMb ?? NaN)} MB`);
    const ok = run.code === 0;
    const wrong = ok ? await usageMismatch(sim, env, from - 1) : undefined;
    const rss = run.rssMb ?? Infinity;
    return {
      rows: [
        {
          measure: `c. once, ${num(n)} logs, new-api: completes, peak RSS`,
          figure: ok ? `exit 0 in ${sec(run.ms)}, ${num(rss)} MB${wrong ? `, but ${wrong}` : ''}` : `${failure(run)}; ${num(rss)} MB`,
          goal: 'exit 0, ≤ 150 MB, usage exact',
          pass: ok && rss <= 150 && !wrong,
        },
      ],
      cliFailures: ok ? [] : [`once on ${num(n)} logs (new-api): ${failure(run)}`],
    };
  } finally {
    await sim.close();
  }
}
