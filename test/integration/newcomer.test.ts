import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, ROOT, configDir, finished, runCli, startCli, stateDir, waitFor } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

let w: Awaited<ReturnType<typeof world>> | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

describe('a newcomer\'s first hour: exit codes as documented, no stack traces', () => {
  it.each([
    ['an interval below the minimum', ['run', '--interval', '1']],
    ['an unknown command', ['frobnicate']],
    ['an unknown flag', ['status', '--bogus']],
    ['--days 50', ['report', '--days', '50']],
    ['a --listen that is no address', ['run', '--listen', 'localhost']],
    ['a negative --speed', ['demo', '--speed', '-1']],
  ])('bad usage exits 2: %s', async (_, args) => {
    const r = await runCli(args, { QUOTA_PILOT_CONFIG_DIR: ROOT, STATE_DIRECTORY: await stateDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error/);
    noStack(r.stderr);
  });

  it('LOG_LEVEL=verbose says which levels exist and exits 78 (systemd does not restart-loop on it)', async () => {
    const r = await runCli(['status'], { QUOTA_PILOT_CONFIG_DIR: ROOT, STATE_DIRECTORY: await stateDir(), LOG_LEVEL: 'verbose' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")');
    noStack(r.stderr);
  });

  it('report --svg into a missing directory is a usage error naming the directory', async () => {
    const r = await runCli(['report', '--svg', '/nonexistent/x.svg'], { QUOTA_PILOT_CONFIG_DIR: ROOT, STATE_DIRECTORY: await stateDir() });
    expect([r.code, r.stderr]).toEqual([2, 'error: --svg /nonexistent/x.svg: the directory /nonexistent does not exist\n']);
  });

  it('status names the state file it read, and says where the service keeps its own when there is none', async () => {
    w = await world();
    const empty = await stateDir();
    const r = await runCli(['status'], { ...w.env, STATE_DIRECTORY: empty });
    expect(r.stdout).toContain(`state:       no state at ${empty}/state.json; the service's is /var/lib/quota-pilot/state.json`);
    await runCli(['once'], w.env);
    const after = await runCli(['status', '--json'], w.env);
    expect(JSON.parse(after.stdout).stateFile).toEqual({ path: join(w.state, 'state.json'), exists: true });
  });
});

describe('validate checks against OneAPI, or says it did not', () => {
  it('OneAPI unreachable: exit 1, "config NOT validated"; --offline: exit 0 and says what was not checked', async () => {
    w = await world();
    const url = w.sim.url;
    await w.sim.close();
    const env = { ...w.env, ONEAPI_BASE_URL: url };
    w = undefined;
    const r = await runCli(['validate'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config NOT validated (pass --offline to check the YAML files only)');
    expect(r.stdout).toBe('');
    const off = await runCli(['validate', '--offline'], env);
    expect(off.code).toBe(0);
    expect(off.stderr).toBe('note: --offline: channel names and models were not checked against OneAPI\n');
    expect(off.stdout).toContain('OneAPI not checked (--offline)');
  });

  it('a refused token: exit 77, and the token is never printed', async () => {
    w = await world();
    const bad = 'wrong-token-eeeeeeeeeeeeeeeeeeeeeeee';
    const r = await runCli(['validate'], { ...w.env, ONEAPI_ACCESS_TOKEN: bad });
    expect(r.code).toBe(77);
    expect(r.stdout + r.stderr).not.toContain(bad);
  });

  it('a misspelled model is an error with the closest served name', async () => {
    const channels = (await readFile(join(ROOT, 'channels.yaml'), 'utf8')).replace('model: DeepSeek-V3-2-251201', 'model: DeepSeek-V3-2-25120');
    w = await world({ channels });
    const r = await runCli(['validate'], w.env);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/channels\.yaml:\d+:\d+ .*does not serve "DeepSeek-V3-2-25120"; did you mean "DeepSeek-V3-2-251201"\?/);
  });
});

describe('logs and demo', () => {
  it('logs pretty-prints the daemon\'s JSON lines from stdin, offline (pino-pretty is a dependency)', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    const once = await runCli(['once'], w.env);
    const r = spawnSync(process.execPath, [CLI, 'logs'], { input: once.stdout + once.stderr + 'not json\n', encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] INFO( \([^)]*\))?: priority changed/m);
    expect(r.stdout).toContain('not json');
    expect(r.stdout).not.toContain('{"level"');
  });

  it('demo --speed 0 --config-dir runs without pauses or warnings, and its curl shows a server that answered', async () => {
    const dir = await configDir();
    const r = await runCli(['demo', '--speed', '0', '--config-dir', dir], {}, { timeoutMs: 60_000 });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain(`config from ${dir}`);
    expect(r.stdout).toMatch(/\$ curl -s http:\/\/127\.0\.0\.1:\d+\/metrics {3}\(excerpt\)\nquota_pilot_/);
    expect(r.stdout).toContain('Demo finished: free channels were demoted when used up and came back at the nightly reset.');
  });

  it('demo --keep keeps the simulator and the page up: status works with the printed variables; Ctrl-C exits 0 and keeps the state', async () => {
    const demo = startCli(['demo', '--speed', '0', '--keep'], {});
    try {
      await waitFor(() => demo.out().includes('after Ctrl-C:'), 60_000, 'the --keep instructions');
      const vars = Object.fromEntries([...demo.out().matchAll(/\b(ONEAPI_BASE_URL|ONEAPI_ACCESS_TOKEN|QUOTA_PILOT_CONFIG_DIR|STATE_DIRECTORY)=(\S+)/g)].map((m) => [m[1], m[2]]));
      expect(Object.keys(vars).sort()).toEqual(['ONEAPI_ACCESS_TOKEN', 'ONEAPI_BASE_URL', 'QUOTA_PILOT_CONFIG_DIR', 'STATE_DIRECTORY']);
      const page = demo.out().match(/dashboard: (http:\/\/127\.0\.0\.1:\d+)\//)![1];
      expect((await fetch(`${page}/api/status`)).status).toBe(200);
      const status = await runCli(['status', '--json'], vars);
      expect(status.code).toBe(0);
      const report = JSON.parse(status.stdout) as { budgets: Array<{ name: string; requests: number }>; usageAsOf: number | null; lastCycle: { ok: boolean } | null };
      // The demo's state, read by the printed variables. (Its budgets' use is in today's window except from 02:20
      // to 03:00 Asia/Shanghai, when the demo's evening is yesterday's: only the state's own facts are asserted.)
      expect(report.lastCycle?.ok).toBe(true);
      expect(report.usageAsOf).toBeGreaterThan(0);
      expect(report.budgets.map((b) => b.name)).toContain('volc-deepseek');
      demo.kill('SIGINT');
      expect((await finished(demo, 10_000)).code).toBe(0);
      expect(JSON.parse(await readFile(join(vars.STATE_DIRECTORY!, 'state.json'), 'utf8'))).toHaveProperty('usage');
      await rm(vars.STATE_DIRECTORY!, { recursive: true, force: true });
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  }, 90_000);
});
