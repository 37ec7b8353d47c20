import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { events, finished, startCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

type Child = ReturnType<typeof startCli>;
const t = useCleanup();
const has = (c: Child, msg: string) => () => events(c.out()).some((e) => e.msg === msg);

/** A webhook receiver on loopback that records what it is sent. */
async function receiver() {
  const got: Array<Record<string, unknown>> = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      got.push(JSON.parse(data));
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.add(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

/** A live process that is not quota-pilot, killed after the test. */
async function aLiveProcess(): Promise<number> {
  const p = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.add(async () => void p.kill('SIGKILL'));
  await new Promise((r) => p.once('spawn', r));
  return p.pid!;
}

/** Field 22 of /proc/<pid>/stat, as a live quota-pilot would have recorded it. */
const startTicks = (pid: number) =>
  existsSync(`/proc/${pid}/stat`) ? Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]) : undefined;

describe('stale state locks and lock waits', () => {
  it('once takes over a lock that names its own pid (a previous process with that pid, e.g. PID 1 in a container)', async () => {
    const w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    t.add(() => w.sim.close());
    const since = Date.now() - 60_000;
    // $$ is the shell's pid, and exec keeps it: the lock names the very process that runs `once`.
    const script = `printf '{"pid":%s,"host":"%s","command":"run","since":${since}}' $$ "${hostname()}" > "$STATE_DIRECTORY/state.lock"; exec "$0" "$@"`;
    const child = t.start(['once', '--lock-wait', '2'], w.env, ['sh', '-c', script]);
    const r = await finished(child, 20_000);
    expect(r.code).toBe(0);
    expect(w.puts().map((p) => p.body)).toEqual([{ id: 1, priority: 10 }]);
    expect(events(r.stderr).find((e) => e.msg === 'stale state lock broken')).toMatchObject({ level: 40, holder: { pid: child.pid, since }, reason: expect.stringMatching(/names our own pid/) });
    expect(await readdir(w.state)).not.toContain('state.lock');
  });

  it('run breaks a lock whose pid is alive but started after the lock was taken (a reused pid), and cycles', async () => {
    const w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    t.add(() => w.sim.close());
    const since = Date.now() - 60_000; // taken before the process with that pid started
    const pid = await aLiveProcess();
    await writeFile(join(w.state, 'state.lock'), JSON.stringify({ pid, host: hostname(), command: 'run', since }));
    const child = t.start(['run', '--interval', '600'], w.env);
    await waitFor(has(child, 'cycle done'), 8000, 'a cycle');
    expect(w.priorities()['volc-deepseek']).toBe(10);
    expect(events(child.out()).find((e) => e.msg === 'stale state lock broken')).toMatchObject({ holder: { pid, since }, reason: expect.stringMatching(new RegExp(`pid ${pid} started at .*, after the lock was taken`)) });
    child.kill('SIGTERM');
    expect((await finished(child, 10_000)).code).toBe(0);
  });

  it('run held off by a live holder: /healthz says locked and by whom, one alert, and SIGTERM ends the wait (exit 0)', async () => {
    const w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    t.add(() => w.sim.close());
    const pid = await aLiveProcess();
    const since = Date.now(); // after it started, as a real holder's lock is
    await writeFile(join(w.state, 'state.lock'), JSON.stringify({ pid, host: hostname(), command: 'once', since, startTicks: startTicks(pid) }));
    const hook = await receiver();
    const child = t.start(['run', '--interval', '5', '--listen', '127.0.0.1:0'], { ...w.env, ALERT_WEBHOOK_URL: hook.url });
    await waitFor(has(child, 'state dir locked longer than the poll interval'), 12_000, 'the locked report');
    const base = String(events(child.out()).find((e) => e.msg === 'quota-pilot started')!.listen);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'locked', stateLock: { holder: { pid, command: 'once', since: new Date(since).toISOString() }, waitingSince: expect.any(String) } });
    await waitFor(() => hook.got.length > 0, 5000, 'the alert');
    await new Promise((r) => setTimeout(r, 1500)); // more polls of the lock: no second alert in the same episode
    expect(hook.got).toMatchObject([{ kind: 'state-locked', severity: 'critical', fields: { pid, command: 'once' } }]);
    expect(w.puts()).toEqual([]);

    const t0 = Date.now();
    child.kill('SIGTERM');
    const r = await finished(child, 10_000);
    expect(r.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(events(r.stdout).map((e) => e.msg)).toContain('cycle cancelled while waiting for the state lock: stopping');
    expect(readFileSync(join(w.state, 'state.lock'), 'utf8')).toContain(`"pid":${pid}`); // not ours: left alone
  }, 30_000);

  it('run says so in the log when the lock is obtained again, and /healthz is ok again', async () => {
    const w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    t.add(() => w.sim.close());
    const pid = await aLiveProcess();
    const lock = join(w.state, 'state.lock');
    await writeFile(lock, JSON.stringify({ pid, host: hostname(), command: 'once', since: Date.now(), startTicks: startTicks(pid) }));
    const child = t.start(['run', '--interval', '5', '--listen', '127.0.0.1:0'], w.env);
    await waitFor(has(child, 'state dir locked longer than the poll interval'), 12_000, 'the locked report');
    await unlink(lock); // the holder lets go
    await waitFor(has(child, 'cycle done'), 5000, 'a cycle');
    expect(events(child.out()).find((e) => e.msg === 'state lock obtained again')).toMatchObject({ level: 30, waitedMs: expect.any(Number), holder: { pid } });
    const base = String(events(child.out()).find((e) => e.msg === 'quota-pilot started')!.listen);
    const health = await fetch(`${base}/healthz`);
    expect([health.status, ((await health.json()) as { status: string }).status]).toEqual([200, 'ok']);
    child.kill('SIGTERM');
    expect((await finished(child, 10_000)).code).toBe(0);
  }, 30_000);

  it('once waiting on --lock-wait stops on SIGTERM with a clear error (exit 75)', async () => {
    const w = await world({ logs: logs(1, DEEPSEEK, 40, 47_000) });
    t.add(() => w.sim.close());
    const pid = await aLiveProcess();
    await writeFile(join(w.state, 'state.lock'), JSON.stringify({ pid, host: hostname(), command: 'run', since: Date.now(), startTicks: startTicks(pid) }));
    const child = t.start(['once', '--lock-wait', '60'], w.env);
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGTERM');
    const r = await finished(child, 5000);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(new RegExp(`^error: state dir is locked by quota-pilot run \\(pid ${pid} on .*\\); stopped waiting after \\d+ s \\(SIGTERM\\)`, 'm'));
    expect(w.sim.requests.filter((q) => q.method === 'PUT')).toEqual([]);
  });
});
