import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { createClient } from '../../src/oneapi/client.js';
import { runCycle } from '../../src/reconcile/cycle.js';
import { StateSaveError } from '../../src/reconcile/errors.js';
import { stateCodec, type State } from '../../src/reconcile/state.js';
import { openStateStore } from '../../src/state/store.js';
import { events, finished, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const t = useCleanup();
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

const readState = async (dir: string) => stateCodec.decode(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')));
const counted = (s: State, channel: number) => s.usage.buckets.filter((b) => b.channel === channel).reduce((n, b) => n + b.tokens, 0);

describe('the state file with the real CLI', () => {
  it('once and reset next to a running daemon on one state dir: each waits its turn; the state stays valid and usage exact', async () => {
    w = await world({ logs: logs(3, 'GLM-4-7-251222', 20, 1000) });
    const daemon = t.start(['run', '--interval', '5', '--listen', 'off'], w.env);
    await waitFor(() => events(daemon.out()).some((e) => e.msg === 'cycle done'), 15_000, 'the first daemon cycle');
    let expected = 20_000;
    let newest = 0;
    for (let round = 0; round < 3; round++) {
      // Stamped just now: after every read so far (reads end 10 s behind OneAPI's clock), so the cycles that follow
      // count them as new rows, whichever process runs them.
      newest = Math.floor(Date.now() / 1000) - 2;
      w.sim.addLogs(Array.from({ length: 10 }, () => ({ created_at: newest, channel: 3, model_name: 'GLM-4-7-251222', prompt_tokens: 100 + round, completion_tokens: 0 })));
      expected += 10 * (100 + round);
      const runs = await Promise.all([runCli(['once'], w.env), runCli(['once'], w.env), runCli(['reset'], w.env)]);
      for (const r of runs) expect({ code: r.code, err: r.stderr.split('\n').filter((l) => l.includes('"level":50')) }).toEqual({ code: 0, err: [] });
    }
    // One more cycle once the last rows are past the read lag, racing the daemon's.
    await waitFor(() => Date.now() / 1000 >= newest + 12, 15_000, 'the last rows past the read lag');
    expect((await runCli(['once'], w.env)).code).toBe(0);
    daemon.kill('SIGTERM');
    expect((await finished(daemon, 15_000)).code).toBe(0);
    const got = await readState(w.state);
    expect('value' in got).toBe(true);
    if ('value' in got) expect(counted(got.value, 3)).toBe(expected);
    // The windows computed are kept for the next process (usage/windows.ts: the calendar).
    if ('value' in got) expect((got.value.calendar as { windows: unknown[] }).windows.length).toBeGreaterThan(0);
    expect(events(daemon.out()).filter((e) => e.msg === 'state save failed' || e.msg === 'cycle crashed')).toEqual([]);
    expect((await readdir(w.state)).filter((f) => f !== 'config-cache.json')).toEqual(['state.json']);
  }, 60_000);

  it('once says clearly when the daemon holds the lock (exit 75), and takes over a lock whose process is gone', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    t.add(async () => void holder.kill('SIGKILL'));
    await writeFile(join(w.state, 'state.lock'), JSON.stringify({ pid: holder.pid, host: hostname(), command: 'run', since: Date.now() }));
    const r = await runCli(['once', '--lock-wait', '1'], w.env);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(new RegExp(`^error: state dir is locked by quota-pilot run \\(pid ${holder.pid} on .*\\); waited 1 s \\(.*state\\.lock\\): the daemon is using this state dir`, 'm'));
    expect(w.sim.requests).toEqual([]);
    holder.kill('SIGKILL');
    await new Promise((res) => holder.once('exit', res));
    const after = await runCli(['once', '--lock-wait', '1'], w.env);
    expect(after.code).toBe(0);
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 1, priority: 10 }]);
    expect(await readdir(w.state)).not.toContain('state.lock');
  });

  it('a state dir that cannot be written: no write to OneAPI, a clear error, exit 1', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) }); // exhausted: a demotion is due
    const blocker = join(await mkdtemp(join(tmpdir(), 'qp-ro-')), 'file');
    await writeFile(blocker, 'not a directory');
    const r = await runCli(['once'], { ...w.env, STATE_DIRECTORY: join(blocker, 'state') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: state cannot be saved to .*file\/state \(ENOTDIR.*\); no priority was written to OneAPI/);
    expect(w.sim.writes()).toEqual([]);
  });

  it('a corrupt state file is moved aside and rebuilt from OneAPI; the cycle goes on', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    await writeFile(join(w.state, 'state.json'), JSON.stringify({ version: 2, usage: { buckets: [{ tokens: '1317022' }] }, memory: { demoted: null } }));
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(events(r.stderr).find((e) => e.msg === 'state file not usable; moved aside, rebuilding from OneAPI')).toMatchObject({ level: 50 });
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 1, priority: 10 }]);
    expect((await readdir(w.state)).filter((f) => f.startsWith('state.json.corrupt-'))).toHaveLength(1);
    const got = await readState(w.state);
    expect('value' in got && counted(got.value, 1)).toBe(1_880_000);
  });

  it('--dry-run writes no state at all', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    expect((await runCli(['once', '--dry-run'], w.env)).code).toBe(0);
    expect((await runCli(['reset', '--dry-run'], w.env)).code).toBe(0);
    expect(await readdir(w.state)).toEqual([]);
    expect(w.sim.writes()).toEqual([]);
  });
});

describe('restore from what OneAPI shows', () => {
  it('state lost: a renewed channel found at the demoted priority is restored; a manual value is left alone', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 5, 1000) });
    w.sim.channels.find((c) => c.id === 1)!.priority = 10; // demoted yesterday by a daemon whose state is gone
    w.sim.channels.find((c) => c.id === 3)!.priority = 70; // set by hand
    const dry = await runCli(['once', '--dry-run'], w.env);
    expect(dry.stdout).toContain('plan for every managed channel:');
    expect(dry.stdout).toMatch(/channel 1 volc-deepseek: 10 -> 100 {2}\(free quota renewed: volc-deepseek\/DeepSeek-V3-2-251201 at 5,000\/1,900,000 tokens .*\(no state: found at the demoted priority with quota available\)\)/);
    expect(dry.stdout).toContain('channel 3 volc-glm: keep 70');
    expect(w.sim.writes()).toEqual([]);
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 1, priority: 100 }]);
    expect(w.priorities()).toMatchObject({ 'volc-deepseek': 100, 'volc-glm': 70 });
  });
});

describe('runCycle when the state cannot be saved', () => {
  it('sends no write to OneAPI and fails with StateSaveError', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    const { config } = await loadConfig(w.cfg);
    const real = openStateStore(w.state, stateCodec);
    const store = { ...real, save: async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) };
    const client = createClient({ baseUrl: w.sim.url, accessToken: w.sim.token, flavor: 'one-api', userId: 1, retries: 0, maxRequestsPerMinute: 6000 });
    const r = await runCycle({ client, flavor: 'one-api', config: config!, store, log: pino({ level: 'silent' }) }, { nowMs: Date.now() });
    expect(r.ok).toBe(false);
    expect(r.error).toBeInstanceOf(StateSaveError);
    expect(r.error?.message).toMatch(/ENOSPC.*no priority was written to OneAPI/);
    expect(r.changes.map((c) => [c.id, c.to])).toEqual([[1, 10]]);
    expect(w.sim.writes()).toEqual([]);
  });
});
