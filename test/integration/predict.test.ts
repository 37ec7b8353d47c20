import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { events, runCli } from '../helpers/cli.js';
import { ago, DEEPSEEK, windowStart, world } from '../helpers/world.js';
import type { SimLog } from '../../src/sim/simulator.js';

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

const CHANNELS = `timezone: Asia/Shanghai\nchannels:\n  - channel: volc-deepseek\n    model: ${DEEPSEEK}\n    free_tokens: 1M\n    demote_at: 1.0\n`;
const PRIORITIES = 'reset:\n  at: "02:20"\ndefaults:\n  volc-deepseek: 100\n  paid-deepseek: 50\ndemoted: 10\nrouting_delay: 12\n';

/** `n` rows of `each` tokens on channel 1, evenly over [from, to] (unix seconds), kept inside the current window. */
function rows(n: number, each: number, from: number, to: number): SimLog[] {
  const start = Math.max(from, windowStart() + 1);
  return Array.from({ length: n }, (_, i) => ({ created_at: Math.floor(start + ((to - start) * i) / (n - 1)), channel: 1, model_name: DEEPSEEK, prompt_tokens: each, completion_tokens: 0 }));
}

describe('a daemon (re)started with most of a budget spent (one-api simulator, real CLI)', () => {
  it('at 90%, with no state at all, projects from the rows and demotes on its first cycle, before the budget is spent', async () => {
    // 900,000 of 1,000,000 in the last two minutes (7,500 tokens/s): the rest goes in ~13 s, about the routing delay.
    w = await world({ channels: CHANNELS, priorities: PRIORITIES, logs: rows(90, 10_000, ago(132), ago(12)) });
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 1, priority: 10 }]);
    expect(r.stdout).toMatch(/channel 1 volc-deepseek: priority 100 -> 10 {2}\(budget projected to run out: projected to reach 1,000,000 at \d\d:\d\d:\d\d \(at [\d,]+ tokens\/s, recent burst\); routing delay 12 s; 900,000\/1,000,000 tokens \(90\.0%\)/);
    expect(events(r.stderr).find((e) => e.msg === 'priority changed')).toMatchObject({ channel: 1, from: 100, to: 10 });
  });
});

describe('routing_delay: auto (one-api simulator, real CLI)', () => {
  const AUTO = PRIORITIES.replace('routing_delay: 12\n', '');
  it('measures the cut-over of a demotion from the rows, plans with it, and warns once when a configured number disagrees', async () => {
    // Channel 1 used up; after what will be the demotion (200 s ago), requests kept starting on it for 14 s (the
    // last one, 30 s long, logged at +44 s), then went to paid-deepseek (channel 5), as a 14 s routing cache does.
    const T = ago(200);
    const onFree = [0, 4, 9, 14].map((s, i) => ({ created_at: T + s + (i === 3 ? 30 : 0), channel: 1, model_name: DEEPSEEK, prompt_tokens: 10, completion_tokens: 0, elapsed_ms: i === 3 ? 30_000 : 0 }));
    const onPaid = Array.from({ length: 20 }, (_, i) => ({ created_at: T + 20 + i * 8, channel: 5, model_name: DEEPSEEK, prompt_tokens: 10, completion_tokens: 0 }));
    w = await world({ channels: CHANNELS, priorities: AUTO, logs: [...rows(100, 10_000, ago(3000), ago(400)), ...onFree, ...onPaid] });
    expect((await runCli(['once'], w.env)).code).toBe(0); // exhausted: demoted now
    const before = JSON.parse((await runCli(['status', '--json'], w.env)).stdout);
    expect(before.routingDelay).toEqual({ seconds: 600, source: 'flavor default', text: 'flavor default (one-api)' });

    // As if that demotion had been written 200 s ago, at T.
    const file = join(w.state, 'state.json');
    const state = JSON.parse(await readFile(file, 'utf8'));
    state.memory.demoted['1'].at = T;
    await writeFile(file, JSON.stringify(state));
    expect((await runCli(['once'], w.env)).code).toBe(0);
    const after = await runCli(['status'], w.env);
    expect(after.stdout).toContain('routing:     14 s delay (measured 14 s over 1 demotion)');
    expect(JSON.parse((await runCli(['status', '--json'], w.env)).stdout).routingDelay).toEqual({ seconds: 14, source: 'measured', text: 'measured 14 s over 1 demotion' });

    // A configured 600 s still wins, with one warning (and one alert) that the measurement disagrees.
    await writeFile(join(w.cfg, 'priorities.yaml'), PRIORITIES.replace('routing_delay: 12', 'routing_delay: 600'));
    const warned = await runCli(['once'], w.env);
    expect(events(warned.stderr).filter((e) => e.msg === 'measured routing delay disagrees with routing_delay')).toEqual([expect.objectContaining({ routingDelaySec: 600, measuredSec: 14, demotions: 1 })]);
    const again = await runCli(['once'], w.env);
    expect(events(again.stderr).filter((e) => e.msg === 'measured routing delay disagrees with routing_delay')).toEqual([]);
    expect((await runCli(['status'], w.env)).stdout).toContain('routing:     600 s delay (config (routing_delay: 600); measured 14 s over 1 demotion)');
  });
});
