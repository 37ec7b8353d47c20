import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { world } from '../helpers/world.js';

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

describe('run refuses settings that defeat every demotion (exit 78, file:line)', () => {
  it('a budget on a model its channel does not serve', async () => {
    const shipped = await readFile(join(ROOT, 'channels.yaml'), 'utf8');
    w = await world({ channels: shipped.replace('model: DeepSeek-V3-2-251201', 'model: DeepSeek-V3-2') });
    const r = await runCli(['run', '--listen', 'off'], w.env, { timeoutMs: 15_000 });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/^error: .*\/channels\.yaml:\d+:\d+ model: volc-deepseek \(#1\) does not serve model "DeepSeek-V3-2" \(its models: DeepSeek-V3-2-251201\); this budget would count nothing and never demote it$/m);
    expect(w.sim.writes()).toEqual([]);
  });

  it('a demoted priority at or above an enabled fallback that serves the same model', async () => {
    w = await world();
    // the fallback's default is what the nightly reset gives it
    const shipped = await readFile(join(ROOT, 'priorities.yaml'), 'utf8');
    await writeFile(join(w.cfg, 'priorities.yaml'), shipped.replace('  paid-deepseek: 50\n', '  paid-deepseek: 10\n'));
    const r = await runCli(['run', '--listen', 'off'], w.env, { timeoutMs: 15_000 });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/channels\.yaml:\d+:\d+ demoted: demoted \(10\) is not below the enabled fallback paid-deepseek \(#5\) at 10 serving the same model; demoting volc-deepseek \(#1\) would not move its traffic/);
  });
});
