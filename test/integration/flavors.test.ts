import { afterEach, describe, expect, it } from '@jest/globals';
import { runCli } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';
import type { Flavor } from '../../src/oneapi/types.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

describe.each<Flavor>(['one-api', 'new-api', 'one-hub'])('flavor %s', (flavor) => {
  it('once demotes the exhausted channel; status tells the truth', async () => {
    const w = await world({ flavor, logs: [...logs(1, DEEPSEEK, 250, 7_600), ...logs(3, 'GLM-4-7-251222', 20, 100_000)] });
    close = () => w.sim.close();
    const r = await runCli(['once'], w.env);
    expect(r.stderr).not.toContain('"level":50');
    expect(r.code).toBe(0);
    // volc-glm's 2,000,000 of 2.4M came in the last 10 minutes: its rest goes in ~2 minutes at that rate, within
    // one-api's default routing_delay of 600 s (new-api's and one-hub's are 0), so one-api demotes it by projection.
    const glm = flavor === 'one-api' ? 10 : 100;
    expect(w.priorities()).toMatchObject({ 'volc-deepseek': 10, 'volc-glm': glm, 'paid-deepseek': 50, 'team-openai': 7 });
    for (const p of w.puts()) expect(Object.keys(p.body as object).sort()).toEqual(['id', 'priority']);

    const s = await runCli(['status', '--json'], w.env);
    expect(s.code).toBe(0);
    const rows = JSON.parse(s.stdout).budgets;
    expect(rows.find((b: { name: string }) => b.name === 'volc-deepseek')).toMatchObject({ used: 1_900_000, requests: 250, state: 'exhausted', observedPriority: 10, desiredPriority: 10 });
    expect(rows.find((b: { name: string }) => b.name === 'volc-glm')).toMatchObject({ used: 2_000_000, state: 'warning', observedPriority: glm });

    const table = await runCli(['status'], w.env);
    expect(table.stdout).toMatch(/volc-deepseek \(#1\)\s+DeepSeek-V3-2-251201\s+daily\s+1,900,000\s+1,900,000\s+100\.0\s+250\s+exhausted\s+now\s+10\s+10/);
    expect(table.stdout).toMatch(/paid-deepseek \(#5\)\s+50\s+50\s+-\s+50\s+enabled/);
  });
});
