import { afterEach, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { events, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const t = useCleanup();
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

describe('quota-pilot init (real CLI, simulator with free and paid channels)', () => {
  it('from OneAPI alone to a validated, running daemon that demotes', async () => {
    w = await world();
    const dir = await tempDir('qp-init-');
    const env = { ...w.env, QUOTA_PILOT_CONFIG_DIR: dir };

    const blind = await runCli(['init'], env);
    expect([blind.code, blind.stderr]).toEqual([2, 'error: init asks which channels are free on a terminal; elsewhere name them: --budget <channel>[=<tokens>] (repeat it)\n']);

    const r = await runCli(['init', '--budget', 'volc-deepseek', '--budget', '3'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${join(dir, 'channels.yaml')} (2 budgets) and ${join(dir, 'priorities.yaml')} (demoted 10)`);
    expect(r.stdout).toContain('note: no other enabled channel serves GLM-4-7-251222 volc-glm (#3): demoting it moves no traffic');
    const channels = await readFile(join(dir, 'channels.yaml'), 'utf8');
    expect(channels).toContain(`  - channel: volc-deepseek   # #1\n    model: ${DEEPSEEK}\n    free_tokens: 1.9M   # Volcengine Ark's public figure: check your account\n    window: daily`);
    const priorities = await readFile(join(dir, 'priorities.yaml'), 'utf8');
    expect(priorities).toMatch(/defaults:\n  volc-deepseek: 100 .*\n  volc-glm: 100 .*\n  paid-deepseek: 50 {3}# fallback \(no budget\) for DeepSeek-V3-2-251201\ndemoted: 10 /);
    expect(w.sim.writes()).toEqual([]);

    const again = await runCli(['init', '--budget', 'volc-deepseek'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exist: pass --force to overwrite, or --dry-run to print the files');

    const v = await runCli(['validate'], env);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain(`config OK: ${dir}: 2 budgets, 3 default priorities, demoted 10`);

    w.sim.addLogs(logs(1, DEEPSEEK, 40, 47_000)); // 1.88M of 1.9M
    const daemon = t.start(['run', '--interval', '60', '--listen', 'off'], env);
    await waitFor(() => events(daemon.out()).some((e) => e.msg === 'cycle done'), 20_000, 'the first cycle');
    expect(w.priorities()).toMatchObject({ 'volc-deepseek': 10, 'volc-glm': 100, 'paid-deepseek': 50, 'team-openai': 7 });
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 1, priority: 10 }]);
  }, 60_000);

  it('--dry-run prints both files and writes nothing', async () => {
    w = await world();
    const dir = await tempDir('qp-init-');
    const r = await runCli(['init', '--dry-run', '--budget', 'paid-deepseek=500k'], { ...w.env, QUOTA_PILOT_CONFIG_DIR: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`--- ${join(dir, 'channels.yaml')}\n# channels.yaml, written by \`quota-pilot init\``);
    expect(r.stdout).toContain('    free_tokens: 500k\n');
    expect(existsSync(join(dir, 'channels.yaml'))).toBe(false);
  });
});
