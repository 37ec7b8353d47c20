/**
 * Measures d and e: steady cycles. The simulator runs on a SimClock that the bench moves forward (the CLI takes
 * its read end from OneAPI's Date header), so no run waits for real time to pass.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoChannels } from '../src/cli/commands/demo.js';
import type { Flavor } from '../src/oneapi/types.js';
import { startSimulator } from '../src/sim/simulator.js';
import { shippedConfig } from './backfill.js';
import { cliEnv, configDir, failure, loadCommand, median, runCli, tempDir, usageMismatch } from './harness.js';
import { num, say, type Outcome, type Row } from './table.js';
import { DEMO_MODELS, manyBudgets, SimClock, spread, windowStart } from './worlds.js';

const LIFTED = { ONEAPI_RATE_LIMIT: '1000000' };
const PAGE: Record<Flavor, number> = { 'one-api': 10, 'new-api': 100, 'one-hub': 100 };
const STEP_SEC = 60;
/** e: rounds of (quiet once, bare load); this machine's CPU time varies by ±20% from one run to the next. */
const ROUNDS = 7;
/** Rows per steady cycle on the unbudgeted demo channels 5 and 6. */
const BACKGROUND = 100;

/** d: after a warm-up, k new rows on budgeted channels (beside some on unbudgeted ones) cost ⌈k/page⌉ + 3 requests at most. */
export async function steady(flavor: Flavor, ks: number[]): Promise<Outcome> {
  say(`d: ${flavor}, k = ${ks.join(' / ')}`);
  const clock = new SimClock(Date.now());
  const sim = await startSimulator({ flavor, channels: demoChannels(), now: clock.now });
  const from = windowStart(clock.ms) + 1;
  for (const log of spread(2_000, from, Math.max(from, clock.sec - 60), [1, 2, 3, 4, 5, 6], (c) => DEMO_MODELS[c])) {
    sim.addLog({ ...log, prompt_tokens: 60, completion_tokens: 40 });
  }
  const env = cliEnv(sim, shippedConfig(), tempDir('state'), LIFTED);
  const rows: Row[] = [];
  const label = (k: number) => `d. steady cycle, k = ${num(k)} new rows (+${BACKGROUND} unbudgeted), ${flavor}: requests`;
  const goal = (k: number) => Math.ceil(k / PAGE[flavor]) + 3;
  try {
    const warm = await runCli(['once'], env);
    if (warm.code !== 0) {
      for (const k of ks) rows.push({ measure: label(k), figure: `warm-up failed (${failure(warm)})`, goal: `≤ ${goal(k)}, usage exact`, pass: false });
      return { rows, cliFailures: [`warm-up once (${flavor}): ${failure(warm)}`] };
    }
    const cliFailures: string[] = [];
    for (const k of ks) {
      const t0 = clock.sec;
      for (let i = 0; i < k; i++) {
        const channel = 1 + (i % 4); // the budgeted demo channels
        sim.addLog({ created_at: t0 + 1 + Math.floor((19 * i) / k), channel, model_name: DEMO_MODELS[channel], prompt_tokens: 60, completion_tokens: 40 });
      }
      // Traffic on the channels no budget names, which a cycle need not read.
      for (let i = 0; i < BACKGROUND; i++) {
        const channel = 5 + (i % 2);
        sim.addLog({ created_at: t0 + 1 + Math.floor((19 * i) / BACKGROUND), channel, model_name: DEMO_MODELS[channel], prompt_tokens: 60, completion_tokens: 40 });
      }
      clock.ms = (t0 + STEP_SEC) * 1000;
      const before = sim.requests.length;
      const run = await runCli(['once'], env);
      const sent = sim.requests.length - before;
      const wrong = run.code === 0 ? await usageMismatch(sim, env, from) : undefined;
      say(`  k=${k}: ${run.code === 0 ? 'ok' : failure(run)}, ${sent} requests${wrong ? `; ${wrong}` : ''}`);
      if (run.code !== 0) cliFailures.push(`steady once k=${k} (${flavor}): ${failure(run)}`);
      rows.push({
        measure: label(k),
        figure: run.code !== 0 ? `${num(sent)} (CLI failed: ${failure(run)})` : wrong ? `${num(sent)}, but ${wrong}` : `${num(sent)}, usage exact`,
        goal: `≤ ${goal(k)}, usage exact`,
        pass: run.code === 0 && !wrong && sent <= goal(k),
      });
    }
    return { rows, cliFailures };
  } finally {
    await sim.close();
  }
}

/** e: 500 channels × 4 budgets, a cycle with little new data, CPU above a CLI that only starts. */
export async function manyBudgetsCpu(channels = 500, flavor: Flavor = 'one-api'): Promise<Outcome> {
  const world = manyBudgets(channels);
  const budgets = channels * world.models.length;
  say(`e: ${flavor}, ${channels} channels, ${budgets} budgets`);
  const clock = new SimClock(Date.now());
  const sim = await startSimulator({ flavor, channels: world.channels, now: clock.now });
  const ids = world.channels.slice(0, channels).map((c) => c.id);
  const from = windowStart(clock.ms) + 1;
  for (const log of spread(20_000, from, Math.max(from, clock.sec - 60), ids, (_c, i) => world.models[Math.floor(i / channels) % 4])) sim.addLog(log);
  const env = cliEnv(sim, configDir(world.channelsYaml, world.prioritiesYaml), tempDir('state'), LIFTED);
  const measure = `e. ${channels} channels, ${num(budgets)} budgets, ${flavor}: CPU of a quiet once above start-up (node and the once command's code loaded; medians of ${ROUNDS}, interleaved)`;
  try {
    const warm = await runCli(['once'], env);
    if (warm.code !== 0) return { rows: [{ measure, figure: `warm-up failed (${failure(warm)})`, goal: '≤ 200 ms', pass: false }], cliFailures: [`warm-up once, many budgets: ${failure(warm)}`] };
    // The pace a `once` from cron every minute keeps (see seedPace), which every cycle reads, checks and writes.
    seedPace(env, Date.now() / 1000);
    // Rounds interleave a quiet once with a bare load of its code, so a slow spell of this machine weighs on both.
    const once: number[] = [];
    const base: number[] = [];
    let requests = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = clock.sec;
      for (let i = 0; i < 20; i++) {
        sim.addLog({ created_at: t0 + 1 + i, channel: ids[(i * 37) % channels], model_name: world.models[i % 4], prompt_tokens: 100, completion_tokens: 50 });
      }
      clock.ms = (t0 + STEP_SEC) * 1000;
      const before = sim.requests.length;
      const run = await runCli(['once'], env);
      requests = sim.requests.length - before;
      if (run.code !== 0 || run.cpuMs === undefined)
        return { rows: [{ measure, figure: `once failed (${failure(run)})`, goal: '≤ 200 ms', pass: false }], cliFailures: [`quiet once, many budgets: ${failure(run)}`] };
      once.push(run.cpuMs);
      const load = await loadCommand('once', env);
      if (load.code !== 0 || load.cpuMs === undefined)
        return { rows: [{ measure, figure: `loading once failed (${failure(load)})`, goal: '≤ 200 ms', pass: false }], cliFailures: [`loading once: ${failure(load)}`] };
      base.push(load.cpuMs);
    }
    const wrong = await usageMismatch(sim, env, from);
    const extra = median(once) - median(base);
    say(`  once CPU ${once.map((x) => num(x)).join(', ')} ms; start-up ${base.map((x) => num(x)).join(', ')} ms; ${paceSamples(env)}`);
    return {
      rows: [
        {
          measure,
          figure: `${num(extra)} ms (once ${num(median(once))} ms, start-up ${num(median(base))} ms, ${requests} requests)${wrong ? `, but ${wrong}` : ''}`,
          goal: '≤ 200 ms, usage exact',
          pass: extra <= 200 && !wrong,
        },
      ],
      cliFailures: [],
    };
  } finally {
    await sim.close();
  }
}

/** "state 0.9 MB, 24 pace samples a budget": what the measured onces read and wrote. */
function paceSamples(env: Record<string, string>): string {
  const path = join(env.STATE_DIRECTORY!, 'state.json');
  const text = readFileSync(path, 'utf8');
  const tracks = Object.values((JSON.parse(text) as { pace: Record<string, { at: number[] }> }).pace);
  const samples = tracks.reduce((n, t) => n + t.at.length, 0);
  return `state ${(text.length / 1e6).toFixed(1)} MB, ${num(Math.round(samples / Math.max(1, tracks.length)))} pace samples a budget`;
}

/**
 * Gives every budget the pace samples that a `once` from cron every minute leaves in state: one a minute for the
 * last 15 minutes, one per 5 minutes before that, back to an hour (24 samples), all within the budget's window.
 * Quiet onces cannot make them: quota-pilot stamps samples with its own clock (OneAPI's read end less the measured
 * skew), which moves about a second per once here, however far the bench moves the simulator's clock.
 */
export function seedPace(env: Record<string, string>, now: number): void {
  const path = join(env.STATE_DIRECTORY!, 'state.json');
  const state = JSON.parse(readFileSync(path, 'utf8')) as { pace: Record<string, { windowStart: number; at: number[]; used: number[] }> };
  const ages = [...Array.from({ length: 9 }, (_, i) => 3600 - 300 * i), ...Array.from({ length: 15 }, (_, i) => 900 - 60 * i)];
  for (const track of Object.values(state.pace)) {
    const latest = track.used[track.used.length - 1] ?? 0;
    const at = ages.map((age) => Math.floor(now - age) - track.windowStart).filter((t) => t >= 0);
    track.at = at;
    track.used = at.map((_, i) => Math.floor((latest * (i + 1)) / (at.length + 1)));
  }
  writeFileSync(path, JSON.stringify(state));
}
