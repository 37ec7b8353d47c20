import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { events, finished, startCli, useCleanup, waitFor } from '../helpers/cli.js';
import { needTool } from '../helpers/tools.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

type Child = ReturnType<typeof startCli>;
let child: Child | undefined;
const t = useCleanup();

/** A webhook receiver on loopback that records what it is sent. */
async function receiver() {
  const got: Array<{ url: string; body: Record<string, unknown> }> = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      got.push({ url: req.url ?? '', body: JSON.parse(data) });
      res.setHeader('content-type', 'application/json');
      res.end('{"errcode":0,"errmsg":"ok"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.add(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url, got };
}

describe('run: metrics, health and alerts', () => {
  it('serves /metrics (that promtool accepts), /healthz, and sends each alert once', async () => {
    const w = await world({ logs: [...logs(1, DEEPSEEK, 40, 47_000), ...logs(3, 'GLM-4-7-251222', 20, 100_000)] });
    t.add(() => w.sim.close());
    const hook = await receiver();
    const dingtalk = await receiver();
    child = t.start(['run', '--interval', '600', '--listen', '127.0.0.1:0'], {
      ...w.env,
      ALERT_WEBHOOK_URL: `${hook.url}/hook`,
      ALERT_WEBHOOK_URL_2: `${dingtalk.url}/robot/send?access_token=abc`,
      ALERT_WEBHOOK_FORMAT_2: 'dingtalk',
      ALERT_WEBHOOK_SECRET_2: 'SECdemo',
    });
    await waitFor(() => events(child!.out()).some((e) => e.msg === 'cycle done'), 8000, 'the first cycle');
    const started = events(child.out()).find((e) => e.msg === 'quota-pilot started')!;
    const base = String(started.listen);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.alertTargets).toEqual(['webhook 1 (generic)', 'webhook 2 (dingtalk)']);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/quota_pilot_budget_used_tokens\{[^}]*budget="volc-deepseek\/DeepSeek-V3-2-251201"[^}]*\} 1880000/);
    expect(metrics).toMatch(/quota_pilot_channel_priority\{[^}]*name="volc-deepseek"[^}]*\} 10/);
    expect(metrics).toMatch(/quota_pilot_cycles_total\{outcome="ok"\} 1/);
    const promtool = needTool('promtool', 'the promtool lint of the daemon\'s /metrics');
    if (promtool) {
      const check = spawnSync(promtool, ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
      expect([check.status, check.stdout, check.stderr]).toEqual([0, '', '']);
    }

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    await waitFor(() => hook.got.length >= 2 && dingtalk.got.length >= 2, 5000, 'alerts');
    await new Promise((r) => setTimeout(r, 300));
    // A budget-projected alert may come too, depending on how far into today's window the test runs.
    const kinds = hook.got.map((g) => g.body.kind).filter((k) => k !== 'budget-projected').sort();
    // volc-glm (2,000,000 of 2.4M in the last 10 minutes) is demoted by its projection on the first cycle: at that
    // rate its rest goes in ~2 minutes, within one-api's default routing_delay of 600 s.
    expect(kinds).toEqual(['budget-warning', 'budget-warning', 'channel-demoted', 'channel-demoted']);
    const sent = hook.got.length;
    expect(hook.got.filter((g) => g.body.kind === 'channel-demoted').map((g) => (g.body.fields as { channel: number }).channel).sort()).toEqual([1, 3]);
    expect(hook.got.find((g) => g.body.kind === 'channel-demoted' && (g.body.fields as { channel: number }).channel === 1)!.body).toMatchObject({ source: 'quota-pilot', severity: 'warning', fields: { channel: 1, from: 100, to: 10 } });
    expect(dingtalk.got[0].url).toMatch(/^\/robot\/send\?access_token=abc&timestamp=\d+&sign=/);

    // Another cycle over the same world: nothing new to say.
    child.kill('SIGHUP');
    await waitFor(() => events(child!.out()).filter((e) => e.msg === 'cycle done').length >= 2, 5000, 'the second cycle');
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.got).toHaveLength(sent);
    expect(child.out()).not.toContain('access_token=abc');

    child.kill('SIGTERM');
    expect((await finished(child, 10_000)).code).toBe(0);
  });

  it('/healthz turns 503 after the configured number of failed cycles', async () => {
    const w = await world();
    await w.sim.close();
    child = t.start(['run', '--interval', '5', '--listen', '127.0.0.1:0', '--unhealthy-after', '1'], { ...w.env, ONEAPI_TIMEOUT: '1' });
    await waitFor(() => events(child!.out()).some((e) => e.msg === 'cycle failed'), 15_000, 'a failed cycle');
    const base = String(events(child.out()).find((e) => e.msg === 'quota-pilot started')!.listen);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'failing', consecutiveFailures: 1 });
    child.kill('SIGTERM');
    expect((await finished(child, 10_000)).code).toBe(0);
  });
});
