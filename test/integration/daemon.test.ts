import { describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { events, finished, startCli, useCleanup, waitFor } from '../helpers/cli.js';
import { itWith } from '../helpers/tools.js';
import { DEEPSEEK, TZ, world } from '../helpers/world.js';
import { startSimulator } from '../../src/sim/simulator.js';
import { demoChannels } from '../../src/cli/commands/demo.js';

type Child = ReturnType<typeof startCli>;
let child: Child | undefined;
const t = useCleanup();

const has = (c: Child, msg: string) => () => events(c.out()).some((e) => e.msg === msg);
const count = (c: Child, msg: string) => events(c.out()).filter((e) => e.msg === msg).length;

describe('quota-pilot run (the daemon as a child process)', () => {
  itWith('faketime', 'under faketime at 02:19:50 Asia/Shanghai: demotes, then the 02:20 reset brings the channel back', async (lib) => {
    // OneAPI's clock is faked too (its Date header says 02:19:50 as well): the daemon reads by OneAPI's clock.
    const fakeStart = DateTime.fromISO('2026-11-24T02:19:50', { zone: TZ });
    const w = await world({ clockOffsetSec: Math.round(fakeStart.toSeconds() - Date.now() / 1000) });
    t.add(() => w.sim.close());
    // Yesterday evening's traffic used up DeepSeek's free quota in the window that started 2026-11-23 02:20.
    const evening = DateTime.fromISO('2026-11-23T23:00', { zone: TZ }).toSeconds();
    for (let i = 0; i < 20; i++) w.sim.addLog({ created_at: evening + i * 60, channel: 1, model_name: DEEPSEEK, prompt_tokens: 50_000, completion_tokens: 45_000 });
    w.sim.channels.find((c) => c.id === 3)!.priority = 70; // a manual change, to be undone by the reset
    const fakeNow = fakeStart.toUTC().toFormat('yyyy-MM-dd HH:mm:ss');
    child = t.start(['run', '--interval', '600'], { ...w.env, TZ: 'UTC', LD_PRELOAD: lib, FAKETIME: `@${fakeNow}`, FAKETIME_DONT_RESET: '1' });

    await waitFor(() => w.priorities()['volc-deepseek'] === 10, 8000, 'the demotion at 02:19:5x');
    expect(w.priorities()['volc-glm']).toBe(70);
    await waitFor(has(child, 'nightly reset done'), 20_000, 'the nightly reset at 02:20');
    expect(w.priorities()).toMatchObject({ 'volc-deepseek': 100, 'volc-glm': 100, 'paid-deepseek': 50, 'team-openai': 7 });
    const reset = events(child.out()).find((e) => e.msg === 'nightly reset done')!;
    expect(reset).toMatchObject({ scheduled: true, stillDemoted: [] });
    expect(String(reset.at)).toMatch(/^2026-11-24 02:20/);

    child.kill('SIGTERM');
    const r = await finished(child, 10_000);
    expect(r.code).toBe(0);
    expect(events(r.stdout).map((e) => e.msg)).toContain('quota-pilot stopped');
  });

  it('SIGHUP reloads the YAML; a bad edit is logged and the old config keeps running', async () => {
    const w = await world();
    t.add(() => w.sim.close());
    child = t.start(['run', '--interval', '600'], w.env);
    await waitFor(has(child, 'cycle done'), 8000, 'the first cycle');
    await writeFile(join(w.cfg, 'channels.yaml'), 'channels:\n  - channel: volc-deepseek\n    free_tokens: lots\n');
    child.kill('SIGHUP');
    await waitFor(has(child, 'config reload failed'), 5000, 'the failed reload');
    const failed = events(child.out()).find((e) => e.msg === 'config reload failed')!;
    expect(JSON.stringify(failed.issues)).toContain('channels.yaml:3:18 channels[0].free_tokens');
    expect(child.exitCode).toBeNull();

    await writeFile(join(w.cfg, 'channels.yaml'), 'channels:\n  - channel: volc-deepseek\n    free_tokens: 1000\n');
    child.kill('SIGHUP');
    await waitFor(has(child, 'config reloaded'), 5000, 'the reload');
    await waitFor(() => count(child!, 'cycle done') >= 2, 5000, 'a cycle with the new config');
    child.kill('SIGTERM');
    expect((await finished(child, 10_000)).code).toBe(0);
  });

  it('keeps running while OneAPI is down, backs off, and recovers without a restart', async () => {
    const first = await startSimulator({ channels: demoChannels() });
    const port = Number(new URL(first.url).port);
    const w = await world();
    t.add(() => w.sim.close());
    await first.close();
    child = t.start(['run', '--interval', '600'], { ...w.env, ONEAPI_BASE_URL: `http://127.0.0.1:${port}`, ONEAPI_TIMEOUT: '2' });
    await waitFor(has(child, 'cycle failed'), 15_000, 'a failed cycle');
    const failed = events(child.out()).find((e) => e.msg === 'cycle failed')!;
    expect(failed).toMatchObject({ failures: 1, retryInSec: 5, kind: 'unreachable' });
    const back = await startSimulator({ channels: demoChannels(), port });
    t.add(() => back.close());
    await waitFor(has(child, 'cycle recovered'), 20_000, 'recovery');
    expect(back.writes()).toEqual([]);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    expect((await finished(child, 10_000)).code).toBe(0);
  });
});
