import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, events, runCli } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

const examplePriorities = () => readFile(join(ROOT, 'priorities.yaml'), 'utf8');

describe('bad input gets a clear error and changes nothing', () => {
  it('a YAML syntax error names file and line, exits 78, and sends no request', async () => {
    w = await world({ channels: 'timezone: Asia/Shanghai\nchannels:\n  - channel: volc-deepseek\n    free_tokens: [1\n' });
    for (const cmd of ['once', 'run', 'validate']) {
      const r = await runCli([cmd], w.env);
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/channels\.yaml:\d+:\d+/);
    }
    expect(w.sim.requests).toEqual([]);
  });

  it('a schema error names file, line and key', async () => {
    w = await world({ channels: 'channels:\n  - channel: volc-deepseek\n    free_tokens: 1900000\n    window: dayly\n' });
    const r = await runCli(['validate'], w.env);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('channels.yaml:4:13 channels[0].window: must be one of daily, weekly, monthly, total (got "dayly")');
    expect(w.sim.requests).toEqual([]);
  });

  it('validate passes the shipped examples against the demo OneAPI', async () => {
    w = await world();
    const r = await runCli(['validate'], w.env);
    // only the demo's models without a paid fallback, said plainly (no reason to fail)
    const warned = r.stderr.split('\n').filter(Boolean).map((l) => l.match(/^warning: \S+ model: no other enabled channel serves "([^"]+)"/)?.[1] ?? l);
    expect(warned).toEqual(['Doubao-Seed-Code-Preview-251028', 'GLM-4-7-251222', 'Kimi-K2-Thinking-251104']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`config OK: ${w.cfg}: 4 budgets`);
    expect(r.stdout).toContain('checked against OneAPI (one-api)');
  });

  it('a budget naming a missing channel is reported at its budget, is not enforced (once exits 78); the other channels are handled as usual', async () => {
    const channels = 'channels:\n  - channel: volc-gone\n    free_tokens: 1000\n  - channel: volc-deepseek\n    free_tokens: 1900000\n';
    const priorities = (await examplePriorities()) + '\n';
    w = await world({ channels, priorities: priorities.replace('defaults:', 'defaults:\n  volc-gone: 100') });
    w.sim.addLogs(logs(1, DEEPSEEK, 40, 47_000));
    const v = await runCli(['validate'], w.env);
    expect(v.code).toBe(78);
    expect(v.stderr).toMatch(/channels\.yaml:2:14 channel: OneAPI has no channel named "volc-gone"/);
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(78);
    expect(r.stdout).toContain('OneAPI has no channel named "volc-gone"');
    expect(r.stderr).toContain('error: 1 budget is not enforced, their channel does not resolve in OneAPI: volc-gone');
    expect(w.priorities()['volc-deepseek']).toBe(10);
  });

  it('a name shared by several channels is an error listing their ids', async () => {
    w = await world();
    w.sim.channels.push({ id: 9, name: 'volc-glm', priority: 100, status: 1, models: 'GLM-4-7-251222' });
    const r = await runCli(['validate'], w.env);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('"volc-glm" matches 2 OneAPI channels (ids 3, 9)');
  });

  it('a wrong token says so, exits 77, never prints the token, and writes nothing', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    const bad = 'wrong-token-ffffffffffffffffffffffff';
    const r = await runCli(['once'], { ...w.env, ONEAPI_ACCESS_TOKEN: bad });
    expect(r.code).toBe(77);
    expect(r.stderr).toMatch(/refused the access token/);
    // Said once for people, once in the log: not three times.
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter((l) => l.includes('refused the access token'))).toHaveLength(2);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error: '))).toHaveLength(1);
    expect(r.stdout + r.stderr).not.toContain(bad);
    expect(w.sim.writes()).toEqual([]);
    const status = await runCli(['status'], { ...w.env, ONEAPI_ACCESS_TOKEN: bad });
    expect(status.code).toBe(77);
    expect(status.stdout).toMatch(/OneAPI: +TOKEN REFUSED \(.*refused the access token/);
  });

  it('OneAPI unreachable: exits 1 after retrying, no crash, nothing written', async () => {
    w = await world();
    const url = w.sim.url;
    await w.sim.close();
    const r = await runCli(['once'], { ...w.env, ONEAPI_BASE_URL: url });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unreachable|ECONNREFUSED|connect/i);
    expect(events(r.stderr).filter((e) => e.msg === 'oneapi request retry').length).toBeGreaterThan(0);
    w = undefined;
  });

  it('missing connection settings exit 78 with every problem listed', async () => {
    w = await world();
    const r = await runCli(['once'], { QUOTA_PILOT_CONFIG_DIR: w.env.QUOTA_PILOT_CONFIG_DIR, STATE_DIRECTORY: w.env.STATE_DIRECTORY, ONEAPI_FLAVOR: 'new-api' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('ONEAPI_BASE_URL is not set');
    expect(r.stderr).toContain('ONEAPI_ACCESS_TOKEN is not set');
    expect(r.stderr).toContain('ONEAPI_USER_ID is required for new-api');
  });
});
