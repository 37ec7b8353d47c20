/**
 * Measure f: the daemon under sustained traffic on one-api, with one-api's real rate limit (480 per 180 s) and
 * quota-pilot's default cap. Logs arrive at a steady rate on the simulator's real clock while `run` cycles.
 */
import { startSimulator } from '../src/sim/simulator.js';
import { cliEnv, configDir, failure, startCli, tempDir } from './harness.js';
import { num, say, sec, type Outcome } from './table.js';
import { someBudgeted } from './worlds.js';

const INTERVAL_SEC = 30;
const STOP_GRACE_MS = 30_000;

interface CycleLine {
  msg: string;
  time: string;
  durationMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** f: `run --interval 30` for `seconds` while `perSec` consume logs/s arrive over `channels` channels. */
export async function sustained(seconds: number, perSec = 50, channels = 100, budgeted = 10): Promise<Outcome> {
  say(`f: one-api, ${perSec} logs/s over ${channels} channels (${budgeted} budgeted), ${seconds} s`);
  const world = someBudgeted(channels, budgeted);
  const sim = await startSimulator({ flavor: 'one-api', channels: world.channels, rateLimit: { max: 480, windowSec: 180 } });
  let added = 0;
  const addOne = (at: number) =>
    sim.addLog({ created_at: at, channel: (added++ % channels) + 1, model_name: world.model, prompt_tokens: 150, completion_tokens: 50 });
  // A minute of history, so the first cycle is not a cold read of an idle gateway.
  const startSec = Math.floor(sim.now() / 1000);
  for (let i = 0; i < 60 * perSec; i++) addOne(startSec - 60 + Math.floor(i / perSec));
  const history = added;

  const started = Date.now();
  const feeder = setInterval(() => {
    const owed = history + Math.floor(((Date.now() - started) / 1000) * perSec) - added;
    const at = Math.floor(sim.now() / 1000);
    for (let i = 0; i < owed; i++) addOne(at);
  }, 100);
  const env = cliEnv(sim, configDir(world.channelsYaml, world.prioritiesYaml), tempDir('state'));
  const daemon = startCli(['run', '--interval', String(INTERVAL_SEC), '--listen', 'off'], env);
  let exitedEarly = false;
  void daemon.done.then(() => (exitedEarly = Date.now() - started < seconds * 1000));
  await Promise.race([sleep(seconds * 1000), daemon.done]);
  clearInterval(feeder);
  const stoppedAt = Date.now();
  let forced = false;
  daemon.child.kill('SIGTERM');
  const grace = setTimeout(() => {
    forced = true;
    daemon.child.kill('SIGKILL');
  }, STOP_GRACE_MS);
  const run = await daemon.done;
  clearTimeout(grace);
  const limited = sim.requests.filter((r) => r.status === 429).length;
  const total = sim.requests.length;
  await sim.close();

  const lines = run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as CycleLine)
    .filter((l) => l.msg === 'cycle done' || l.msg === 'cycle failed');
  const done = lines.filter((l) => l.msg === 'cycle done');
  const failedCycles = lines.length - done.length;
  const longest = Math.max(0, ...done.map((l) => l.durationMs ?? 0));
  // A cycle still running at the stop began one interval after the last one ended (or at start-up).
  const lastEnd = lines.length ? Date.parse(lines[lines.length - 1].time) : undefined;
  const open = lastEnd === undefined ? stoppedAt - started : Math.max(0, stoppedAt - lastEnd - INTERVAL_SEC * 1000);
  say(`  ${done.length} cycles done, ${failedCycles} failed, longest ${sec(longest)}, open ${sec(open)}, ${num(total)} requests (${num(limited)} answered 429), ${num(added - history)} logs added`);

  const cliFailures: string[] = [];
  if (exitedEarly) cliFailures.push(`run exited by itself (${failure(run)})`);
  else if (!forced && run.code !== 0) cliFailures.push(`run did not stop cleanly on SIGTERM (${failure(run)})`);
  const worst = Math.max(longest, open);
  return {
    rows: [
      {
        measure: `f. run --interval ${INTERVAL_SEC}, one-api, ${perSec} logs/s, ${budgeted} of ${channels} channels budgeted, default cap, ${seconds} s: longest cycle`,
        figure:
          (done.length ? `${sec(longest)} longest of ${done.length} done` : 'no cycle finished') +
          `, ${failedCycles} failed` +
          (open > INTERVAL_SEC * 1000 ? `, one still running after ${sec(open)}` : '') +
          `; ${num(limited)} of ${num(total)} requests got 429` +
          (forced ? '; did not stop within 30 s of SIGTERM' : ''),
        goal: `≤ ${INTERVAL_SEC} s each`,
        pass: !exitedEarly && done.length > 0 && failedCycles === 0 && worst <= INTERVAL_SEC * 1000,
      },
    ],
    cliFailures,
  };
}
