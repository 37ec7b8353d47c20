import { afterEach, describe, expect, it } from '@jest/globals';
import { lstat, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp.js';
import { configDir, events, finished, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

// Issue 18, host and secrets: what quota-pilot writes, reads, logs and serves, on the real CLI and the simulator.
type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const t = useCleanup();
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

/** A file the attacker wants overwritten or read, e.g. /etc/shadow. */
async function victim(): Promise<{ path: string; text: string }> {
  const path = join(await tempDir('qp-victim-'), 'shadow');
  const text = 'root:$y$j9T$SECRETHASHVALUE:20000:0:99999:7:::\n';
  await writeFile(path, text);
  return { path, text };
}

describe('files: nothing is written through a link, readers never move or write', () => {
  it('a symlink planted at the config cache temp name of the next process does not redirect its write', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 4, 1000) });
    const v = await victim();
    // The shell's pid is the CLI's pid after exec: exactly the temp name `<state>/config-cache.json.<pid>.tmp` it used.
    const prefix = ['sh', '-c', 'ln -s "$VICTIM" "$STATE_DIRECTORY/config-cache.json.$$.tmp" && exec "$@"', 'sh'];
    const r = await runCli(['once'], { ...w.env, VICTIM: v.path }, { prefix });
    expect(r.code).toBe(0);
    expect(await readFile(v.path, 'utf8')).toBe(v.text);
    expect(JSON.parse(await readFile(join(w.state, 'config-cache.json'), 'utf8'))).toHaveProperty('key');
  });

  it('report --svg onto a symlink replaces the link and leaves its target alone', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 4, 1000) });
    expect((await runCli(['once'], w.env)).code).toBe(0);
    const v = await victim();
    const out = join(await tempDir('qp-svg-'), 'report.svg');
    await symlink(v.path, out);
    const r = await runCli(['report', '--svg', out], w.env);
    expect(r.code).toBe(0);
    expect(await readFile(v.path, 'utf8')).toBe(v.text);
    expect((await lstat(out)).isSymbolicLink()).toBe(false);
    expect(await readFile(out, 'utf8')).toMatch(/^<svg/);
  });

  it('status and report refuse a symlinked state.json: a clear error, nothing of its target printed, nothing moved or written', async () => {
    w = await world();
    const v = await victim();
    await symlink(v.path, join(w.state, 'state.json'));
    for (const cmd of [['status'], ['report']]) {
      const r = await runCli(cmd, w.env);
      expect({ cmd, code: r.code, err: r.stderr.split('\n').filter((l) => l.startsWith('error:')) }).toEqual({
        cmd,
        code: 1,
        err: [`error: state file ${join(w.state, 'state.json')} is a symbolic link; quota-pilot does not follow it (remove the link; a cycle moves it aside)`],
      });
      expect(r.stdout + r.stderr).not.toMatch(/root:|SECRETHASH/);
    }
    expect(await readdir(w.state)).toEqual(['state.json']);
    expect(await readlink(join(w.state, 'state.json'))).toBe(v.path);
  });

  it('status on a state file that is not JSON: reads as empty, the file stays, its content is not quoted, no cache written', async () => {
    w = await world();
    await writeFile(join(w.state, 'state.json'), 'root:$y$j9T$SECRETHASHVALUE');
    const r = await runCli(['status'], w.env);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/root:|SECRETHASH/);
    expect(events(r.stderr).find((e) => e.msg === 'state file not usable; left as it is, reading as empty')).toMatchObject({ problem: 'not JSON' });
    expect(await readdir(w.state)).toEqual(['state.json']);
  });

  it('a cycle (the writer, under the lock) moves a symlinked state.json aside without reading its target', async () => {
    w = await world();
    const v = await victim();
    await symlink(v.path, join(w.state, 'state.json'));
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/root:|SECRETHASH/);
    expect(events(r.stderr).find((e) => e.msg === 'state file not usable; moved aside, rebuilding from OneAPI')).toMatchObject({ problem: 'a symbolic link, not followed' });
    expect(await readFile(v.path, 'utf8')).toBe(v.text);
    expect((await lstat(join(w.state, 'state.json'))).isFile()).toBe(true);
  });
});

describe('secrets never reach the output', () => {
  const PASSWORD = 'proxy-pw-7f3a9c2e11';

  it('a password in ONEAPI_BASE_URL is redacted in the start log (the output scan fails the test otherwise)', async () => {
    w = await world();
    const base = w.sim.url.replace('http://', `http://qp:${PASSWORD}@`);
    const d = t.start(['run', '--interval', '60', '--listen', 'off'], { ...w.env, ONEAPI_BASE_URL: base });
    await waitFor(() => events(d.out()).some((e) => e.msg === 'quota-pilot started'), 15_000, 'the start line');
    expect(events(d.out()).find((e) => e.msg === 'quota-pilot started')).toMatchObject({ baseUrl: w.sim.url.replace('http://', 'http://***@') });
    d.kill('SIGTERM');
    expect((await finished(d, 15_000)).code).toBe(0);
  });

  it('and in the bad-scheme error', async () => {
    w = await world();
    const r = await runCli(['once'], { ...w.env, ONEAPI_BASE_URL: `ftp://qp:${PASSWORD}@127.0.0.1:1` });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('ONEAPI_BASE_URL must be an http(s) URL (got "ftp://***@127.0.0.1:1")');
  });

  it('a token in server text that crosses the 300-character cut is removed before the cut', async () => {
    w = await world();
    const message = `upstream said: ${'x'.repeat(273)}${w.sim.token} and more`;
    w.sim.fail({ method: 'GET', times: Infinity, reply: { status: 200, body: { success: false, message, data: null } } });
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('x'.repeat(100));
    expect(r.stdout + r.stderr).not.toContain(w.sim.token.slice(0, 8));
  });
});

describe('the HTTP listener', () => {
  const TOKEN = 'listen-token-5d1e8b7a';
  const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers }).then(async (r) => ({ status: r.status, body: await r.text() }));

  it('with QP_LISTEN_TOKEN: every path but /healthz needs it (bearer or basic); a foreign Host is refused', async () => {
    w = await world();
    const d = t.start(['run', '--interval', '60', '--listen', '127.0.0.1:0'], { ...w.env, QP_LISTEN_TOKEN: TOKEN });
    await waitFor(() => events(d.out()).some((e) => e.msg === 'quota-pilot started'), 15_000, 'the start line');
    const url = String(events(d.out()).find((e) => e.msg === 'quota-pilot started')!.listen);
    const basic = `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString('base64')}`;
    const got = async (path: string, headers?: Record<string, string>) => (await get(url + path, headers)).status;
    expect({
      metrics: await got('/metrics'),
      api: await got('/api/status'),
      page: await got('/'),
      wrong: await got('/metrics', { Authorization: 'Bearer listen-token-5d1e8b7b' }),
      bearer: await got('/metrics', { Authorization: `Bearer ${TOKEN}` }),
      basic: await got('/api/status', { Authorization: basic }),
      healthz: [200, 503].includes(await got('/healthz')),
    }).toEqual({ metrics: 401, api: 401, page: 401, wrong: 401, bearer: 200, basic: 200, healthz: true });
    // DNS rebinding: a page on evil.example reaches 127.0.0.1 under its own name.
    const rebound = await new Promise<number>((res, rej) => {
      import('node:http').then(({ request }) => {
        const q = request(`${url}/metrics`, { headers: { Host: 'evil.example:9464', Authorization: `Bearer ${TOKEN}` } }, (r) => {
          r.resume();
          res(r.statusCode ?? 0);
        });
        q.on('error', rej);
        q.end();
      }, rej);
    });
    expect(rebound).toBe(403);
    d.kill('SIGTERM');
    expect((await finished(d, 15_000)).code).toBe(0);
  });

  it('a non-loopback --listen without QP_LISTEN_TOKEN is a config error (exit 78) before anything listens', async () => {
    w = await world();
    const r = await runCli(['run', '--listen', '0.0.0.0:0'], w.env);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/--listen: 0\.0\.0\.0 is not a loopback address: .*Set QP_LISTEN_TOKEN .* or pass --listen-without-token/);
    expect(w.sim.requests).toEqual([]);
  });
});

describe('config', () => {
  it('8,000 YAML aliases: an error at the first one past 100, at once (it took 12 s)', async () => {
    const lines = ['timezone: Asia/Shanghai', 'channels:', `  - &b {channel: volc-deepseek, model: ${DEEPSEEK}, free_tokens: 1M}`];
    for (let i = 0; i < 8000; i++) lines.push('  - *b');
    const dir = await configDir({ channels: lines.join('\n') + '\n' });
    const started = Date.now();
    const r = await runCli(['validate', '--offline', '--config-dir', dir], {});
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`error: ${join(dir, 'channels.yaml')}:104:5 (yaml): more than 100 aliases (*name) in one file; quota-pilot expands at most 100: write the values out`);
  });

  it('channel id 1 and a channel named "1": two budgets with two keys, each with its own usage', async () => {
    w = await world({ logs: [...logs(1, DEEPSEEK, 4, 1000), ...logs(9, DEEPSEEK, 2, 500)] });
    w.sim.channels.push({ id: 9, name: '1', priority: 100, status: 1, models: DEEPSEEK });
    const channels = `timezone: Asia/Shanghai\nchannels:\n  - {channel: 1, model: ${DEEPSEEK}, free_tokens: 1M}\n  - {channel: "1", model: ${DEEPSEEK}, free_tokens: 1M}\n`;
    const priorities = 'reset: {at: "02:20"}\ndefaults:\n  1: 100\n  "1": 100\n  paid-deepseek: 50\ndemoted: 10\n';
    await writeFile(join(w.cfg, 'channels.yaml'), channels);
    await writeFile(join(w.cfg, 'priorities.yaml'), priorities);
    expect((await runCli(['once'], w.env)).code).toBe(0);
    const r = await runCli(['status', '--json'], w.env);
    const report = JSON.parse(r.stdout) as { budgets: Array<{ budget: string; used: number }> };
    expect(report.budgets.map((b) => [b.budget, b.used])).toEqual([[`#1/${DEEPSEEK}`, 4000], [`1/${DEEPSEEK}`, 1000]]);
  });
});

describe('one-hub', () => {
  it('a tag whose name has a "/" (which one-hub cannot route) is skipped with a warning, and every other budget is enforced', async () => {
    w = await world({ flavor: 'one-hub', logs: logs(3, 'GLM-4-7-251222', 30, 100_000) });
    for (const c of w.sim.channels) if (c.id === 1 || c.id === 2) c.tag = 'volc/free';
    const r = await runCli(['once'], w.env);
    // volc-deepseek (#1) is a member the tag's list would have shown: unresolved, so once exits 78 naming it.
    expect(r.code).toBe(78);
    expect(events(r.stderr).find((e) => e.msg === 'one-hub tag not listed: its name contains "/", which one-hub cannot route')).toMatchObject({ tag: 'volc/free', listed: 2 });
    expect(w.sim.requests.filter((q) => q.path.startsWith('/api/channel_tag/'))).toEqual([]);
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 3, priority: 10 }]);
  });
});

