import { afterEach, describe, expect, it } from '@jest/globals';
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
    expect(r.stdout).toMatch(/channel 1 volc-deepseek: priority 100 -> 10 {2}\(budget projected to run out: projected to reach 1,000,000 at \d\d:\d\d:\d\d \(at 7,\d{3} tokens\/s, recent burst\); routing delay 12 s; 900,000\/1,000,000 tokens \(90\.0%\)/);
    expect(events(r.stderr).find((e) => e.msg === 'priority changed')).toMatchObject({ channel: 1, from: 100, to: 10 });
  });
});
