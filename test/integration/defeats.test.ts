import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { events, finished, ROOT, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});
const t = useCleanup();

const shipped = async (name: 'channels' | 'priorities') => readFile(join(ROOT, `${name}.yaml`), 'utf8');
/** The `error: file:line:col key` heads of a command's stderr, the config dir cut off. */
const errorsOf = (stderr: string, dir: string) => [...stderr.matchAll(/^error: (\S+:\d+:\d+ \S+): /gm)].map((m) => m[1].replace(`${dir}/`, ''));

/** `run`'s verdict at start: 78 with its error lines, or started (the first cycle done, then SIGTERM). */
async function runVerdict(world: World): Promise<{ code: number | null; errors: string[] }> {
  const child = t.start(['run', '--interval', '600', '--listen', 'off'], world.env);
  const done = finished(child, 25_000);
  const cycled = () => events(child.out()).some((e) => e.msg === 'cycle done');
  await waitFor(() => child.exitCode !== null || cycled(), 15_000, 'run to exit or finish its first cycle');
  const started = child.exitCode === null;
  if (started) child.kill('SIGTERM');
  const r = await done;
  // started: null, and a clean stop on SIGTERM
  return { code: started && r.code === 0 ? null : r.code, errors: errorsOf(r.stderr, world.cfg) };
}

describe('validate and run give the same verdict on the config against OneAPI', () => {
  it.each([
    ['demoted 60 above the paid fallback at 50', 'channels', (s: string) => s, (s: string) => s.replace('demoted: 10', 'demoted: 60'), 78, ['priorities.yaml:35:10 demoted']],
    ['the paid fallback lowered to demoted (10)', 'channels', (s: string) => s, (s: string) => s.replace('  paid-deepseek: 50\n', '  paid-deepseek: 10\n'), 78, ['priorities.yaml:35:10 demoted']],
    ['a misspelled model', 'channels', (s: string) => s.replace('model: DeepSeek-V3-2-251201', 'model: DeepSeek-V3-2-25120'), (s: string) => s, 78, ['channels.yaml:34:12 model']],
    ['a one-api model_mapping name (a warning: it may be right)', 'channels', (s: string) => s.replace('model: DeepSeek-V3-2-251201', 'model: DeepSeek-V3-2'), (s: string) => s, null, []],
  ] as const)('%s', async (_n, _f, editChannels, editPriorities, code, errors) => {
    w = await world({ channels: editChannels(await shipped('channels')), priorities: editPriorities(await shipped('priorities')) });
    const v = await runCli(['validate'], w.env);
    expect({ code: v.code === 0 ? null : v.code, errors: errorsOf(v.stderr, w.cfg) }).toEqual({ code, errors });
    expect(await runVerdict(w)).toEqual({ code, errors });
    if (code === 78) expect(w.sim.writes()).toEqual([]);
  });

  it('a last resort below demoted beside the paid fallback above it: validate passes, run starts and demotes', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) }); // 1.88M of 1.9M: exhausted
    w.sim.channels.push({ id: 7, name: 'last-resort', priority: 5, status: 1, models: DEEPSEEK });
    const v = await runCli(['validate'], w.env);
    expect([v.code, errorsOf(v.stderr, w.cfg)]).toEqual([0, []]);
    const child = t.start(['run', '--interval', '600', '--listen', 'off'], w.env);
    const done = finished(child, 25_000);
    await waitFor(() => child.exitCode !== null || w!.priorities()['volc-deepseek'] === 10, 15_000, 'the demotion');
    expect(child.exitCode).toBeNull();
    expect(w.priorities()).toMatchObject({ 'volc-deepseek': 10, 'paid-deepseek': 50, 'last-resort': 5 });
    await waitFor(() => events(child.out()).some((e) => e.msg === 'cycle done'), 5000, 'the first cycle');
    expect(events(child.out()).filter((e) => e.msg === 'channel reference problem')).toEqual([]); // nor a problem each cycle
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });

  it('a model with no fallback at all is a plain warning in validate, and no reason to refuse run', async () => {
    w = await world();
    const v = await runCli(['validate'], w.env);
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/^warning: \S+\/channels\.yaml:44:12 model: no other enabled channel serves "GLM-4-7-251222": when volc-glm \(#3\) is demoted, OneAPI still sends it that traffic/m);
    expect(await runVerdict(w)).toEqual({ code: null, errors: [] });
  });
});
