import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { events, runCli } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

describe('quota-pilot once (one-api simulator, real CLI)', () => {
  it('demotes an exhausted free channel, writes only {id, priority}, touches nothing else, and converges', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) }); // 1.88M of 1.9M
    const r = await runCli(['once'], w.env);
    expect(r.stderr).not.toContain(w.sim.token);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/channel 1 volc-deepseek: priority 100 -> 10 {2}\(budget exhausted: 1,880,000\/1,900,000 tokens \(98\.9%\), daily window since \d{4}-\d\d-\d\d 02:20 \+08:00\)/);
    expect(w.priorities()).toEqual({ 'volc-deepseek': 10, 'volc-doubao-seed-code': 100, 'volc-glm': 100, 'volc-kimi': 100, 'paid-deepseek': 50, 'team-openai': 7 });
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 1, priority: 10 }]);
    const changed = events(r.stderr).find((e) => e.msg === 'priority changed');
    expect(changed).toMatchObject({ channel: 1, name: 'volc-deepseek', from: 100, to: 10 });

    w.sim.requests.length = 0;
    const again = await runCli(['once'], w.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('no priority changes needed');
    expect(w.puts()).toEqual([]);
  });

  it('--dry-run prints the plan and writes nothing', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    const r = await runCli(['once', '--dry-run'], w.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('once (dry run, nothing written): 1 priority change planned');
    expect(r.stdout).toContain('channel 1 volc-deepseek: priority 100 -> 10');
    expect(w.sim.writes()).toEqual([]);
    expect(events(r.stderr).find((e) => e.msg === 'priority change planned')).toMatchObject({ channel: 1, dryRun: true });
  });

  it('demotes a channel an operator raised by hand, and leaves other manual changes alone', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    expect((await runCli(['once'], w.env)).code).toBe(0);
    w.sim.channels.find((c) => c.id === 1)!.priority = 90; // operator raises the exhausted channel
    w.sim.channels.find((c) => c.id === 3)!.priority = 70; // and lowers a healthy one
    expect((await runCli(['once'], w.env)).code).toBe(0);
    expect(w.priorities()).toMatchObject({ 'volc-deepseek': 10, 'volc-glm': 70 });
  });

  it('reset restores defaults but keeps an exhausted channel demoted', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    w.sim.channels.find((c) => c.id === 3)!.priority = 70;
    w.sim.channels.find((c) => c.id === 5)!.priority = 1;
    const dry = await runCli(['reset', '--dry-run'], w.env);
    expect(dry.code).toBe(0);
    expect(w.sim.writes()).toEqual([]);
    const r = await runCli(['reset'], w.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('reset: defaults restored except for exhausted channels');
    expect(w.priorities()).toEqual({ 'volc-deepseek': 10, 'volc-doubao-seed-code': 100, 'volc-glm': 100, 'volc-kimi': 100, 'paid-deepseek': 50, 'team-openai': 7 });
    expect(events(r.stderr).find((e) => e.msg === 'nightly reset done')).toMatchObject({ restored: expect.arrayContaining([3, 5]), stillDemoted: [1] });
  });

  it('does the nightly reset it missed while it was down, on its first cycle', async () => {
    w = await world();
    expect((await runCli(['once'], w.env)).code).toBe(0); // first run: counts the last reset as done
    const file = join(w.state, 'state.json');
    const state = JSON.parse(await readFile(file, 'utf8'));
    state.memory.lastResetAt -= 2 * 86400; // down over the last two resets
    await writeFile(file, JSON.stringify(state));
    w.sim.channels.find((c) => c.id === 3)!.priority = 70;
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(events(r.stderr).find((e) => e.msg === 'nightly reset done')).toMatchObject({ scheduled: true, restored: [3] });
    expect(w.priorities()['volc-glm']).toBe(100);
  });

  it('resumes from its watermark after a restart and counts nothing twice', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 30, 10_000) });
    expect((await runCli(['once'], w.env)).code).toBe(0);
    const state = JSON.parse(await readFile(join(w.state, 'state.json'), 'utf8'));
    expect(JSON.stringify(state)).not.toContain('prompt_tokens');
    expect(state.usage.watermark).toEqual(expect.any(Number));
    w.sim.addLogs(logs(1, DEEPSEEK, 5, 10_000, 20)); // new traffic, some of it written late (before the watermark)
    await new Promise((r) => setTimeout(r, 1100)); // the next cycle comes at least a second later
    const second = await runCli(['once'], w.env);
    expect(second.code).toBe(0);
    // Resumed at the state's cursor: of the 35 rows OneAPI holds, only the 5 new ones are read and counted (a read
    // from the window's start would count all 35; the totals below would look the same, as it recounts the window).
    expect(second.stdout).toMatch(/^read 5 log rows in \d+ requests/m);
    const status = await runCli(['status', '--json'], w.env);
    const row = JSON.parse(status.stdout).budgets.find((b: { name: string }) => b.name === 'volc-deepseek');
    expect(row).toMatchObject({ used: 350_000, requests: 35 });
  });

  it('report draws the days from the state file, as JSON and SVG too; status lists channels', async () => {
    w = await world({ logs: [...logs(1, DEEPSEEK, 40, 47_000), ...logs(5, DEEPSEEK, 10, 1_000)] });
    expect((await runCli(['once'], w.env)).code).toBe(0);
    const offline = { ...w.env, ONEAPI_BASE_URL: '' }; // names come from the state file
    const svg = join(w.state, 'usage.svg');
    const r = await runCli(['report', '--days', '2', '--svg', svg], { ...offline, COLUMNS: '90' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Tokens per day by model');
    expect(r.stdout).toMatch(/volc-deepseek \(#1\)\s+daily 1\.9M\s+1,880,000/);
    const bars = r.stdout.split('\n').filter((l) => /[█▓▒░]/.test(l));
    expect(bars.length).toBeGreaterThanOrEqual(4);
    for (const line of bars) expect([...line].length).toBeLessThanOrEqual(90); // the charts fit the terminal
    expect((await readFile(svg, 'utf8')).startsWith('<svg')).toBe(true);
    const json = JSON.parse((await runCli(['report', '--json'], offline)).stdout);
    expect(json.days).toHaveLength(7);
    expect(json.totals).toMatchObject({ tokens: 1_890_000, requests: 50, free: 1_880_000, overBudget: 0, unbudgeted: 10_000 });
    const status = JSON.parse((await runCli(['status', '--json'], w.env)).stdout);
    expect(status.channels.find((c: { name: string }) => c.name === 'paid-deepseek')).toEqual({ channel: 5, name: 'paid-deepseek', observedPriority: 50, defaultPriority: 50, demotedPriority: null, desiredPriority: 50, autoDisabled: false, status: 1, off: null });
    expect(status.oneapi).toEqual({ reachable: true });
    // OneAPI down: status says so, exits 1, and still tells the usage it counted.
    const down = await runCli(['status', '--json'], { ...w.env, ONEAPI_BASE_URL: 'http://127.0.0.1:9', ONEAPI_TIMEOUT: '1' });
    expect(down.code).toBe(1);
    const d = JSON.parse(down.stdout);
    expect(d.oneapi.reachable).toBe(false);
    expect(d.budgets.find((b: { channel: number }) => b.channel === 1)).toMatchObject({ used: 1_880_000, state: 'exhausted', observedPriority: null });
  });

  it('makes no change when a log page fails part-way, and recovers on the next cycle', async () => {
    // 150 rows: more than the one-api search shortcut's 100, so the client must page through /api/log/.
    w = await world({ logs: logs(1, DEEPSEEK, 150, 13_000) });
    w.sim.fail({ method: 'GET', match: (q) => q.path === '/api/log/' && q.query.p === '3', times: Infinity, reply: { status: 500, body: 'boom' } });
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(1);
    expect(w.sim.writes()).toEqual([]);
    expect(w.priorities()['volc-deepseek']).toBe(100);
    expect(events(r.stderr).some((e) => e.msg === 'cycle failed')).toBe(true);
    w.sim.clearFaults();
    const ok = await runCli(['once'], w.env);
    expect(ok.code).toBe(0);
    expect(w.priorities()['volc-deepseek']).toBe(10);
  });
});
