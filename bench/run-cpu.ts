/**
 * Measure g: the CPU a `run --interval 5` daemon spends per cycle in the many-budget world of e, read from
 * /proc/<pid>/stat between consecutive 'cycle done' lines (so it counts everything between polls: timers, metrics,
 * the dashboard's bookkeeping, the state), beside a quiet `once` above its start-up measured in the same run.
 * `run` waits on the wall clock, so here the simulator's clock follows the real one (2 minutes behind, as SimClock
 * starts) instead of being moved by the bench.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Flavor } from '../src/oneapi/types.js';
import { startSimulator } from '../src/sim/simulator.js';
import { cliEnv, configDir, failure, loadCommand, median, runCli, startCli, tempDir, usageMismatch } from './harness.js';
import { seedPace } from './steady.js';
import { num, say, type Outcome } from './table.js';
import { manyBudgets, SimClock, spread, windowStart } from './worlds.js';

const LIFTED = { ONEAPI_RATE_LIMIT: '1000000' };
const INTERVAL_SEC = 5;
/** Cycles left out first (the first cycles run cold code), then the cycles measured. */
const WARM_CYCLES = 2;
const CYCLES = 9;
/** Cycles after the last one measured, so the daemon has read every row added (its read lags OneAPI's clock). */
const TAIL_CYCLES = 2;
/** After each 'cycle done': Prometheus scrapes /metrics, then CPU is read at a quiet point of the interval. */
const SCRAPE_AFTER_MS = 300;
const SAMPLE_AFTER_MS = 1200;
const LINE_TIMEOUT_MS = 60_000;
const GOAL_MS = 150;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/** utime + stime of a process, ms (fields 14 and 15 of /proc/<pid>/stat, after the parenthesised name). */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Resolves with each JSON log line of `msgs` the daemon prints, in order. */
function lineReader(stream: NodeJS.ReadableStream): (msgs: string[]) => Promise<Record<string, unknown>> {
  const seen: Record<string, unknown>[] = [];
  let waiting: (() => void) | null = null;
  let rest = '';
  stream.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l.startsWith('{')) seen.push(JSON.parse(l) as Record<string, unknown>);
    waiting?.();
  });
  let read = 0;
  return async (msgs) => {
    const deadline = Date.now() + LINE_TIMEOUT_MS;
    for (;;) {
      while (read < seen.length) {
        const line = seen[read++];
        if (msgs.includes(line.msg as string)) return line;
      }
      if (Date.now() > deadline) throw new Error(`no ${msgs.join('/')} line within ${LINE_TIMEOUT_MS / 1000} s`);
      await new Promise<void>((resolve) => {
        waiting = resolve;
        setTimeout(resolve, 1000);
      });
      waiting = null;
    }
  };
}

/** g: 500 channels × 4 budgets, `run --interval 5 --listen`, scraped once a cycle; CPU per cycle against a quiet once. */
export async function runCpu(channels = 500, flavor: Flavor = 'one-api', extraEnv: Record<string, string> = {}): Promise<Outcome> {
  const world = manyBudgets(channels);
  const budgets = channels * world.models.length;
  say(`g: ${flavor}, ${channels} channels, ${budgets} budgets, run --interval ${INTERVAL_SEC}`);
  const lead = new SimClock(Date.now()).ms - Date.now();
  const sim = await startSimulator({ flavor, channels: world.channels, now: () => Date.now() + lead });
  const simSec = () => Math.floor(sim.now() / 1000);
  const ids = world.channels.slice(0, channels).map((c) => c.id);
  const from = windowStart(sim.now()) + 1;
  for (const log of spread(20_000, from, Math.max(from, simSec() - 60), ids, (_c, i) => world.models[Math.floor(i / channels) % 4])) sim.addLog(log);
  const cfg = configDir(world.channelsYaml, world.prioritiesYaml);
  const runEnv = cliEnv(sim, cfg, tempDir('state'), LIFTED);
  // The onces keep a state of their own, a copy of the daemon's at its start: the two never wait for each other.
  const onceEnv = cliEnv(sim, cfg, tempDir('state'), LIFTED);
  const measure = `g. ${channels} channels, ${num(budgets)} budgets, ${flavor}: CPU per cycle of run --interval ${INTERVAL_SEC} (/metrics scraped once a cycle), between 'cycle done' lines (median of ${CYCLES}), beside a quiet once above start-up (medians, interleaved)`;
  const goal = `≤ the once's, and ≤ ${GOAL_MS} ms`;
  const failed = (why: string): Outcome => ({ rows: [{ measure, figure: why, goal, pass: false }], cliFailures: [`g: ${why}`] });
  let daemon: ReturnType<typeof startCli> | undefined;
  try {
    const warm = await runCli(['once'], runEnv);
    if (warm.code !== 0) return failed(`warm-up once failed (${failure(warm)})`);
    seedPace(runEnv, Date.now() / 1000);
    copyFileSync(join(runEnv.STATE_DIRECTORY!, 'state.json'), join(onceEnv.STATE_DIRECTORY!, 'state.json'));

    daemon = startCli(['run', '--interval', String(INTERVAL_SEC), '--listen', '127.0.0.1:0'], { ...runEnv, ...extraEnv });
    const pid = daemon.child.pid!;
    const read = lineReader(daemon.child.stdout!);
    const exited = daemon.done.then((r) => Promise.reject(new Error(`run exited (${failure(r)})`)));
    exited.catch(() => {});
    const next = (msgs: string[]) => Promise.race([read(msgs), exited]);
    const started = await next(['quota-pilot started']);
    const metricsUrl = `${started.listen as string}/metrics`;
    const samples: number[] = [];
    const once: number[] = [];
    const base: number[] = [];
    for (let i = 0; i <= WARM_CYCLES + CYCLES + TAIL_CYCLES; i++) {
      const line = await next(['cycle done', 'cycle failed']);
      const at = Date.now();
      if (line.msg !== 'cycle done') return failed(`a cycle failed (${String(line.error)})`);
      if (i > WARM_CYCLES + CYCLES) continue;
      // A little new traffic each cycle, as in e; rows within the read lag are read by the next cycle.
      const t0 = simSec();
      for (let k = 0; k < 20; k++) {
        sim.addLog({ created_at: t0 - 19 + k, channel: ids[(k * 37 + i) % channels], model_name: world.models[k % 4], prompt_tokens: 100, completion_tokens: 50 });
      }
      await sleep(SCRAPE_AFTER_MS);
      const scrape = await fetch(metricsUrl);
      await scrape.text();
      if (scrape.status !== 200) return failed(`GET /metrics answered ${scrape.status}`);
      await sleep(Math.max(0, at + SAMPLE_AFTER_MS - Date.now()));
      samples.push(cpuOf(pid));
      if (i < WARM_CYCLES || i === WARM_CYCLES + CYCLES) continue;
      // A once and a bare load in the same interval, so a slow spell of this machine weighs on all three.
      const run = await runCli(['once'], onceEnv);
      if (run.code !== 0 || run.cpuMs === undefined) return failed(`quiet once failed (${failure(run)})`);
      const load = await loadCommand('once', onceEnv);
      if (load.code !== 0 || load.cpuMs === undefined) return failed(`loading once failed (${failure(load)})`);
      once.push(run.cpuMs);
      base.push(load.cpuMs);
    }
    daemon.child.kill('SIGTERM');
    const stopped = await daemon.done;
    daemon = undefined;
    if (stopped.code !== 0) return failed(`run did not stop cleanly on SIGTERM (${failure(stopped)})`);
    const perCycle = samples.slice(WARM_CYCLES).slice(1).map((s, k) => s - samples[WARM_CYCLES + k]);
    const wrong = await usageMismatch(sim, runEnv, from);
    const figure = median(perCycle);
    const onceFigure = median(once) - median(base);
    say(`  run CPU per cycle ${perCycle.map((x) => num(x)).join(', ')} ms; once ${once.map((x) => num(x)).join(', ')} ms; start-up ${base.map((x) => num(x)).join(', ')} ms`);
    return {
      rows: [
        {
          measure,
          figure: `${num(figure)} ms (cycles ${num(Math.min(...perCycle))}–${num(Math.max(...perCycle))} ms; once ${num(onceFigure)} ms above start-up: ${num(median(once))} − ${num(median(base))} ms)${wrong ? `, but ${wrong}` : ''}`,
          goal,
          pass: figure <= onceFigure && figure <= GOAL_MS && !wrong,
        },
      ],
      cliFailures: [],
    };
  } catch (err) {
    return failed((err as Error).message);
  } finally {
    daemon?.child.kill('SIGKILL');
    await sim.close();
  }
}
