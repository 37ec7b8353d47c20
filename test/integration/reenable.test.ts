import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Flavor } from '../../src/oneapi/types.js';
import { events, runCli } from '../helpers/cli.js';
import { DEEPSEEK, TZ, windowStart, world } from '../helpers/world.js';

// The provider's word (OneAPI auto-disabling a budgeted channel) and reenable_at_renewal, per flavor, on the real
// CLI against the simulator.

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

const GLM = 'GLM-4-7-251222';
const channels = `timezone: ${TZ}\nchannels:\n  - channel: volc-deepseek\n    model: ${DEEPSEEK}\n    free_tokens: 1.9M\n    reenable_at_renewal: true\n  - channel: volc-glm\n    model: ${GLM}\n    free_tokens: 2.4M\n    reenable_at_renewal: true\n`;
const keys = [`volc-deepseek/${DEEPSEEK}`, `volc-glm/${GLM}`];

describe.each<Flavor>(['one-api', 'new-api', 'one-hub'])('reenable_at_renewal on %s', (flavor) => {
  it('enables a channel OneAPI auto-disabled in an earlier window, at renewal; never one a person disabled', async () => {
    w = await world({ flavor, channels });
    expect((await runCli(['once'], w.env)).code).toBe(0);
    const ch = (id: number) => w!.sim.channels.find((c) => c.id === id)!;
    Object.assign(ch(1), { status: 3, priority: 10 }); // auto-disabled by OneAPI yesterday, and demoted
    Object.assign(ch(3), { status: 2, priority: 10 }); // disabled by a person
    const yesterday = windowStart() - 86_400;
    const file = join(w.state, 'state.json');
    const s = JSON.parse(await readFile(file, 'utf8'));
    s.memory.stopped = Object.fromEntries(keys.map((k) => [k, { window: yesterday, used: 1_620_000, at: yesterday + 3600 }]));
    s.memory.windows = Object.fromEntries(keys.map((k) => [k, yesterday])); // the last cycle saw yesterday's window
    await writeFile(file, JSON.stringify(s));
    w.sim.requests.length = 0;

    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/channel 1 volc-deepseek: enable {2}\(auto-disabled by OneAPI at .* \(its provider stopped volc-deepseek\/DeepSeek-V3-2-251201 at 1,620,000 tokens\); its daily window renewed: enabled again \(reenable_at_renewal\)\)/);
    expect(ch(1)).toMatchObject({ status: 1, priority: 100 });
    expect(ch(3).status).toBe(2);
    const writes = w.sim.writes().map((q) => [q.method, q.path, q.body]);
    const enable = flavor === 'new-api' ? ['POST', '/api/channel/1/status', { status: 1 }] : ['PUT', '/api/channel/', { id: 1, status: 1 }];
    expect(writes).toContainEqual(enable);
    expect(writes.filter((x) => JSON.stringify(x).includes('"status"'))).toEqual([enable]);
    expect(events(r.stderr).find((e) => e.msg === 'channel enabled')).toMatchObject({ channel: 1 });
    expect((await runCli(['once'], w.env)).stdout).toContain('no priority changes needed');
  }, 60_000);
});

describe('the provider stopped a budget', () => {
  it('an auto-disabled channel at 85% counts as spent: demoted, and status says so', async () => {
    w = await world({ logs: Array.from({ length: 30 }, (_, i) => ({ created_at: Math.max(windowStart() + 1, Math.floor(Date.now() / 1000) - 300 + i), channel: 1, model_name: DEEPSEEK, prompt_tokens: 27_000, completion_tokens: 27_000 })) });
    w.sim.channels.find((c) => c.id === 1)!.status = 3;
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/channel 1 volc-deepseek: priority 100 -> 10 {2}\(budget spent: the provider stopped it \(OneAPI auto-disabled the channel\) at 1,620,000\/1,900,000 tokens/);
    const status = await runCli(['status'], w.env);
    expect(status.stdout).toContain('spent:       volc-deepseek/DeepSeek-V3-2-251201: the provider stopped it at 1,620,000 of 1,900,000 tokens');
    expect(status.stdout).toMatch(/off: +volc-deepseek \(#1\): auto-disabled by OneAPI: the provider stopped volc-deepseek\/DeepSeek-V3-2-251201 at 1,620,000\/1,900,000 tokens this window; stays off until enabled in OneAPI \(or set reenable_at_renewal: true\)/);
  }, 30_000);
});
