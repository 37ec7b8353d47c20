import { afterEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { pino } from 'pino';
import { healthOf, type HealthInput } from '../../src/metrics/health.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { parseListen, startHttpServer } from '../../src/metrics/server.js';

const NOW = Date.parse('2026-11-24T07:00:00Z');

describe('health', () => {
  const base: HealthInput = { lastCycle: null, consecutiveFailures: 0, lastSuccessAt: null, startedAt: NOW - 5000, nowMs: NOW, failThreshold: 3, staleAfterMs: 300_000 };
  const at = (failures: number, ok = failures === 0): HealthInput => ({
    ...base, consecutiveFailures: failures, staleAfterMs: 300_000, lastSuccessAt: NOW - 60_000 * (failures + 1), lastCycle: { at: NOW, ok, error: ok ? undefined : 'OneAPI unreachable' },
  });
  it.each([
    ['before the first cycle', base, true, 'starting'],
    ['while cycles succeed', at(0), true, 'ok'],
    ['after one failure', at(1), true, 'ok'],
    ['after N-1 failures', at(2), true, 'ok'],
    ['after N failures', at(3), false, 'failing'],
    ['when the last success is older than a few intervals, though nothing failed', { ...at(0), lastSuccessAt: NOW - 301_000 }, false, 'stale'],
    ['when the first cycle has not finished a few intervals after start', { ...base, startedAt: NOW - 301_000 }, false, 'stale'],
    ['while waiting longer than the interval for the state lock', { ...at(0), stateLock: { holder: null, waitingSince: NOW - 90_000 } }, false, 'locked'],
    ['locked rather than failing: the lock is why cycles fail', { ...at(3), stateLock: { holder: null, waitingSince: NOW - 90_000 } }, false, 'locked'],
    ['no lock wait reported', { ...at(0), stateLock: null }, true, 'ok'],
    ['cycles succeed but a budget is not enforced (its channel does not resolve)', { ...at(0), unresolved: ['volc-deepseek'] }, false, 'degraded'],
    ['failing rather than degraded', { ...at(3), unresolved: ['volc-deepseek'] }, false, 'failing'],
  ])('%s', (_, input, ok, status) => {
    const h = healthOf(input);
    expect([h.ok, h.body.status]).toEqual([ok, status]);
  });
  it('names the budgets it does not enforce', () => {
    expect(healthOf({ ...at(0), unresolved: ['volc-deepseek/DeepSeek-V3-2-251201'] }).body.unresolved).toEqual(['volc-deepseek/DeepSeek-V3-2-251201']);
    expect(healthOf(at(0)).body).not.toHaveProperty('unresolved');
  });
  it('says when it last succeeded and why it failed', () => {
    expect(healthOf(at(3)).body).toMatchObject({
      lastSuccessAt: new Date(NOW - 240_000).toISOString(), consecutiveFailures: 3, lastError: 'OneAPI unreachable', uptimeSeconds: 5,
    });
    expect(healthOf(base).body).toMatchObject({ lastSuccessAt: null, lastError: null });
  });
  it('says who holds the state lock and since when', () => {
    const holder = { pid: 12, host: 'box', command: 'once', since: NOW - 600_000 };
    expect(healthOf({ ...at(0), stateLock: { holder, waitingSince: NOW - 90_000 } }).body.stateLock).toEqual({
      holder: { pid: 12, host: 'box', command: 'once', since: '2026-11-24T06:50:00.000Z' }, waitingSince: '2026-11-24T06:58:30.000Z',
    });
    expect(healthOf(at(0)).body).not.toHaveProperty('stateLock');
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:9464', '127.0.0.1', 9464],
    ['0.0.0.0:80', '0.0.0.0', 80],
    ['localhost:9464', 'localhost', 9464],
    ['[::1]:9464', '::1', 9464],
    ['[::]:0', '::', 0],
    [':9464', '127.0.0.1', 9464],
    ['9464', '127.0.0.1', 9464],
  ])('%s', (s, host, port) => expect(parseListen(s)).toEqual({ host, port }));
  it.each([
    ['localhost', /no port/],
    ['99999', /out of range/],
    ['host:', /port "" is not a number/],
    ['host:abc', /port "abc" is not a number/],
    ['host:70000', /out of range/],
    ['::1:9464', /brackets/],
    ['[127.0.0.1]:9464', /only for IPv6/],
    ['[]:9464', /empty host/],
  ])('rejects %s', (s, message) => expect(() => parseListen(s)).toThrow(message));
});

describe('http server', () => {
  let server: { url: string; close(): Promise<void> } | undefined;
  afterEach(async () => server?.close());
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const get = (path: string) =>
    new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      http.get(server!.url + path, { agent: new http.Agent({ keepAlive: true }) }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      }).on('error', reject);
    });

  it('serves /metrics, /healthz (503 after N failures) and 404, and closes with keep-alive clients', async () => {
    const m = createMetrics();
    let failures = 0;
    const health = () => healthOf({ lastCycle: { at: NOW, ok: failures === 0 }, consecutiveFailures: failures, staleAfterMs: 300_000, lastSuccessAt: NOW, startedAt: NOW, nowMs: NOW, failThreshold: 3 });
    server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: m, health, log });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    m.recordRequest('GET /api/log/', 'ok');
    const metrics = await get('/metrics');
    expect([metrics.status, metrics.type]).toEqual([200, m.registry.contentType]);
    expect(metrics.body).toContain('quota_pilot_oneapi_requests_total{endpoint="GET /api/log/",result="ok"} 1');
    expect((await get('/healthz')).status).toBe(200);
    failures = 2;
    expect((await get('/healthz')).status).toBe(200);
    failures = 3;
    const sick = await get('/healthz');
    expect([sick.status, sick.type, JSON.parse(sick.body).status]).toEqual([503, 'application/json', 'failing']);
    expect((await get('/nope')).status).toBe(404);
  });

  it('answers 500 and logs when building the answer fails', async () => {
    server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: createMetrics(), log, health: () => { throw new Error('boom'); } });
    expect((await get('/healthz')).status).toBe(500);
    expect(lines.some((l) => l.includes('metrics server request failed') && l.includes('boom'))).toBe(true);
  });
});
