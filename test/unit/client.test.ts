import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import { inspect } from 'node:util';
import nock from 'nock';
import { pino } from 'pino';
import { createClient, type ClientOptions } from '../../src/oneapi/client.js';
import { OneApiError } from '../../src/oneapi/types.js';
import { useStrictNock } from '../helpers/strict-nock.js';

// The transport: headers, envelope and error classification, retries, rate limit, secrecy of the token.

const BASE = 'http://127.0.0.1:3000';
const TOKEN = 'tok5ecret0a1b2c3d4e5f60718293a4b5';

const nockState = useStrictNock();
let sleeps: number[] = [];
const sleep = async (ms: number): Promise<void> => {
  sleeps.push(ms);
};
const make = (over: Partial<ClientOptions> = {}) =>
  createClient({ baseUrl: BASE, accessToken: TOKEN, flavor: 'new-api', userId: 42, sleep, ...over });
const api = () => nock(BASE);
const ok = (data: unknown) => ({ success: true, message: '', data });
const aChannel = { id: 7, name: 'free-tier', priority: 100, status: 1 };

async function failure(p: Promise<unknown>): Promise<OneApiError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OneApiError);
  return e as OneApiError;
}

beforeEach(() => {
  sleeps = [];
});

describe('headers', () => {
  it('sends the bearer token and New-Api-User when a user id is set', async () => {
    api()
      .get('/api/channel/7')
      .matchHeader('authorization', `Bearer ${TOKEN}`)
      .matchHeader('new-api-user', '42')
      .reply(200, ok(aChannel));
    await expect(make().getChannel(7)).resolves.toEqual({ ...aChannel, models: [] });
  });

  it('sends no New-Api-User without a user id', async () => {
    api()
      .get('/api/channel/7')
      .matchHeader('authorization', `Bearer ${TOKEN}`)
      .matchHeader('new-api-user', (v: string | undefined) => v === undefined)
      .reply(200, ok(aChannel));
    await make({ userId: undefined, flavor: 'one-hub' }).getChannel(7);
  });
});

describe('getChannel', () => {
  it('drops the clear-text key one-hub sends and reads a null priority as 0', async () => {
    api()
      .get('/api/channel/7')
      .reply(200, ok({ ...aChannel, priority: null, key: 'sk-upstream-secret', models: 'gpt-4o, ,o1', weight: 1 }));
    const ch = await make({ flavor: 'one-hub' }).getChannel(7);
    expect(ch).toEqual({ id: 7, name: 'free-tier', priority: 0, status: 1, models: ['gpt-4o', 'o1'] });
    expect(JSON.stringify(ch)).not.toContain('sk-upstream-secret');
  });
});

describe('setPriority', () => {
  it('PUTs a body of exactly {"id","priority"}', async () => {
    api()
      .put('/api/channel/', '{"id":7,"priority":50}')
      .reply(200, ok({ ...aChannel, priority: 50, key: 'sk-upstream-secret' }));
    const client = make();
    await expect(client.setPriority(7, 50)).resolves.toBeUndefined();
    expect(client.requestCount).toBe(1);
  });

  it('sends each body whole, with its own Content-Length and JSON type, one write after another', async () => {
    const seen: Array<{ type: unknown; length: unknown }> = [];
    for (const body of ['{"id":7,"priority":0}', '{"id":123,"priority":10000}', '{"id":7,"priority":5}'])
      api()
        .put('/api/channel/', body)
        .reply(function () {
          seen.push({ type: this.req.headers['content-type'], length: this.req.headers['content-length'] });
          return [200, ok(null)];
        });
    const client = make();
    await client.setPriority(7, 0);
    await client.setPriority(123, 10000);
    await client.setPriority(7, 5);
    expect(seen).toEqual([
      { type: 'application/json', length: '21' },
      { type: 'application/json', length: '27' },
      { type: 'application/json', length: '21' },
    ]);
  });

  it('throws on success:false', async () => {
    api().put('/api/channel/', { id: 7, priority: 0 }).reply(200, { success: false, message: '渠道不存在' });
    const e = await failure(make().setPriority(7, 0));
    expect(e.kind).toBe('rejected');
    expect(e.endpoint).toBe('PUT /api/channel/');
    expect(e.message).toContain('渠道不存在');
  });
});

describe('classification', () => {
  const cases: Array<[string, number, unknown, OneApiError['kind']]> = [
    ['token refused with HTTP 200', 200, { success: false, message: '无权进行此操作，access token 无效' }, 'auth'],
    ['no New-Api-User (HTTP 401)', 401, { success: false, message: '无权进行此操作，未提供 New-Api-User' }, 'auth'],
    ['New-Api-User mismatch', 200, { success: false, message: '无权进行此操作，New-Api-User 与登录用户不匹配' }, 'auth'],
    ['newer new-api code', 200, { success: false, code: 'AUTH_TOKEN_EXPIRED', message: 'expired' }, 'auth'],
    ['HTTP 403 without a body', 403, '', 'auth'],
    ['other success:false', 200, { success: false, message: '数据库错误' }, 'rejected'],
    ['HTTP 404 with an envelope', 404, { success: false, code: 'channel_not_found', message: 'gone' }, 'rejected'],
    ['HTTP 400 without a body', 400, '', 'rejected'],
    ['not JSON', 200, '<html>login</html>', 'bad-response'],
    ['no envelope', 200, { id: 7 }, 'bad-response'],
    ['success without data', 200, { success: true, message: '' }, 'bad-response'],
    ['ill-shaped row', 200, ok({ ...aChannel, priority: 'high' }), 'bad-response'],
  ];
  it.each(cases)('%s → not retried', async (_name, status, body, kind) => {
    api().get('/api/channel/7').reply(status, body as string);
    const client = make();
    const e = await failure(client.getChannel(7));
    expect({ kind: e.kind, status: e.status, retryable: e.retryable }).toEqual({ kind, status, retryable: false });
    expect(client.requestCount).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('says which credential was refused, with the server message', async () => {
    api().get('/api/channel/7').reply(401, { success: false, message: '无权进行此操作，未提供 New-Api-User' });
    const e = await failure(make().getChannel(7));
    expect(e.message).toMatch(/refused the access token .*ONEAPI_ACCESS_TOKEN.*ONEAPI_USER_ID.*未提供 New-Api-User/);
  });

  it('names the unexpected field of an ill-shaped answer', async () => {
    api().get('/api/channel/7').reply(200, ok({ ...aChannel, priority: 'high' }));
    const e = await failure(make().getChannel(7));
    expect(e.message).toContain('data.priority');
  });
});

describe('retries', () => {
  it('retries a 429 after its Retry-After, then succeeds; logs and reports each attempt', async () => {
    api().get('/api/channel/7').reply(429, '', { 'Retry-After': '2' });
    api().get('/api/channel/7').reply(200, ok(aChannel));
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(s) });
    const results: string[] = [];
    const client = make({ logger, onRequest: (route, result) => results.push(`${route} ${result}`) });
    await expect(client.getChannel(7)).resolves.toEqual({ ...aChannel, models: [] });
    expect(sleeps[0]).toBe(2000); // then a pacing wait: after a 429 no burst
    expect(client.requestCount).toBe(2);
    expect(results).toEqual(['GET /api/channel/:id rate-limited', 'GET /api/channel/:id ok']);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        msg: 'oneapi request retry',
        endpoint: 'GET /api/channel/7',
        attempt: 1,
        delayMs: 2000,
        kind: 'rate-limited',
        status: 429,
      }),
    ]);
  });

  it('caps a long Retry-After at 180 s (one admin rate-limit window), then paces instead of bursting', async () => {
    api().get('/api/channel/7').reply(429, '', { 'Retry-After': '600' });
    api().get('/api/channel/7').reply(200, ok(aChannel));
    await make().getChannel(7);
    expect(sleeps[0]).toBe(180_000);
    expect(sleeps).toHaveLength(2); // the bucket was emptied: the retry waits for a token
  });

  it('without Retry-After, backs off 30 s, 60 s, 120 s on 429: longer than a 180 s limiter window in all', async () => {
    api().get('/api/channel/7').times(4).reply(429, '');
    const client = make({ maxRequestsPerMinute: 1e9 });
    const e = await failure(client.getChannel(7));
    expect(e.kind).toBe('rate-limited');
    expect(sleeps.filter((ms) => ms >= 1000)).toEqual([30_000, 60_000, 120_000]);
    expect(client.throttledMs).toBeGreaterThanOrEqual(210_000);
  });

  it('backs off 500 ms, 1 s, 2 s on 5xx, then throws a retryable server error', async () => {
    api().get('/api/channel/7').times(4).reply(500, { success: false, message: 'db down' });
    const client = make();
    const e = await failure(client.getChannel(7));
    expect({ kind: e.kind, status: e.status, retryable: e.retryable }).toEqual({
      kind: 'server',
      status: 500,
      retryable: true,
    });
    expect(e.message).toContain('db down');
    expect(sleeps).toEqual([500, 1000, 2000]);
    expect(client.requestCount).toBe(4);
  });

  it('honours retries: 0', async () => {
    api().get('/api/channel/7').reply(502, '');
    const client = make({ retries: 0 });
    expect((await failure(client.getChannel(7))).kind).toBe('server');
    expect(client.requestCount).toBe(1);
  });
});

describe('unreachable', () => {
  it('maps a refused connection to a retryable unreachable error', async () => {
    const port = await closedPort();
    nock.enableNetConnect('127.0.0.1');
    try {
      const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, accessToken: TOKEN, flavor: 'one-api', sleep });
      const e = await failure(client.getChannel(7));
      expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'unreachable', retryable: true });
      expect(e.message).toContain('ECONNREFUSED');
      expect([e.message, JSON.stringify(e), inspect(e, { depth: 5 })].join('\n')).not.toContain(TOKEN);
      expect(client.requestCount).toBe(4);
    } finally {
      nock.disableNetConnect();
    }
    // nock reports requests it let through as unmatched: these were meant to reach the closed port.
    expect(nockState.unmatched.length).toBe(4);
    nockState.unmatched.length = 0;
  });

  /** A real server on 127.0.0.1 that sends headers and half a body, then does `then` with the socket. */
  async function halfBody(then: 'hang' | 'cut', run: (base: string) => Promise<void>): Promise<void> {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"success":true,"message":"","data":{"id":7,');
      if (then === 'cut') setTimeout(() => res.socket?.destroy(), 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    nock.enableNetConnect('127.0.0.1');
    try {
      await run(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    } finally {
      nock.disableNetConnect();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    nockState.unmatched.length = 0;
  }

  it('times out a body that never ends (the deadline covers the whole answer, not only its headers)', async () => {
    await halfBody('hang', async (base) => {
      const e = await failure(createClient({ baseUrl: base, accessToken: TOKEN, flavor: 'one-api', sleep, timeoutMs: 200, retries: 0 }).getChannel(7));
      expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'unreachable', retryable: true });
      expect(e.message).toContain('timed out after 200 ms');
    });
  });

  it('treats a body cut short as unreachable, never as a half-read answer', async () => {
    await halfBody('cut', async (base) => {
      const client = createClient({ baseUrl: base, accessToken: TOKEN, flavor: 'one-api', sleep, retries: 1 });
      const e = await failure(client.getChannel(7));
      expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'unreachable', retryable: true });
      expect(client.requestCount).toBe(2);
      expect(inspect(e, { depth: 5 })).not.toContain(TOKEN);
    });
  });

  it('maps a timeout to unreachable', async () => {
    api().get('/api/channel/7').delay(300).reply(200, ok(aChannel));
    const e = await failure(make({ timeoutMs: 30, retries: 0 }).getChannel(7));
    expect(e.kind).toBe('unreachable');
    expect(e.message).toContain('timed out after 30 ms');
  });
});

describe('the token never leaks', () => {
  // (Network errors are checked in the closed-port test: nock's replyWithError is flaky under nock 14.)
  it('is absent from errors and log lines, even when the server echoes it', async () => {
    api().get('/api/channel/7').reply(502, { success: false, message: `bad upstream for ${TOKEN}` });
    api().get('/api/channel/7').reply(401, { success: false, message: `access token ${TOKEN} 无效` });
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (s: string) => lines.push(s) });
    const e = await failure(make({ logger }).getChannel(7));
    expect(e.kind).toBe('auth');
    const seen = [e.message, String(e), e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 5 }), ...lines].join('\n');
    expect(seen).not.toContain(TOKEN);
    expect(e.message).toContain('[redacted]');
    expect(lines).toHaveLength(1);
  });
});

describe('rate limit', () => {
  it('lets a burst of a tenth of the minute allowance through, then spaces requests by 60/maxRequestsPerMinute seconds', async () => {
    let t = 1_000_000;
    const sent: number[] = [];
    const client = make({
      maxRequestsPerMinute: 60,
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
      onRequest: () => sent.push(t - 1_000_000),
    });
    api().get('/api/channel/7').times(13).reply(200, ok(aChannel));
    for (let i = 0; i < 12; i++) await client.getChannel(7);
    t += 5000; // idle time refills the bucket
    await client.getChannel(7);
    // A burst of a tenth of a minute's allowance (6 here), then one a second.
    expect(sent).toEqual([0, 0, 0, 0, 0, 0, 1000, 2000, 3000, 4000, 5000, 6000, 11000]);
    expect(sleeps).toEqual([1000, 1000, 1000, 1000, 1000, 1000]);
  });

  it('queues concurrent callers instead of letting them race for tokens', async () => {
    let t = 0;
    const client = make({
      maxRequestsPerMinute: 120,
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    api().get('/api/channel/7').times(14).reply(200, ok(aChannel));
    await Promise.all(Array.from({ length: 14 }, () => client.getChannel(7)));
    expect(sleeps).toEqual([500, 500]);
  });
});

describe('close (the daemon stopping)', () => {
  it('cancels a read in flight and a 429 back-off at once; later calls fail the same way', async () => {
    api().get('/api/channel/7').delay(5000).reply(200, ok(aChannel));
    const client = make();
    const inFlight = failure(client.getChannel(7));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    client.close();
    const e = await inFlight;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'cancelled', retryable: false });
    expect((await failure(client.listChannels())).kind).toBe('cancelled');
    nock.abortPendingRequests();
  });

  it('ends a long back-off sleep without waiting for it', async () => {
    api().get('/api/channel/7').reply(429, '', { 'Retry-After': '120' });
    let wake: () => void = () => undefined;
    const client = make({ sleep: (ms) => (ms >= 1000 ? new Promise<void>((r) => (wake = r)) : Promise.resolve()) });
    const pending = failure(client.getChannel(7));
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    expect((await pending).kind).toBe('cancelled');
    wake();
  });

  it('lets a write in flight finish, so its outcome is known', async () => {
    api().put('/api/channel/', { id: 7, priority: 0 }).delay(200).reply(200, ok(null));
    const client = make();
    const write = client.setPriority(7, 0);
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    await expect(write).resolves.toBeUndefined();
  });
});

it('rejects an unknown flavor and impossible limits at construction', () => {
  expect(() => make({ flavor: 'two-api' as never })).toThrow(TypeError);
  expect(() => make({ flavor: 'toString' as never })).toThrow(TypeError);
  expect(() => make({ maxRequestsPerMinute: 0 })).toThrow(TypeError);
  expect(() => make({ retries: -1 })).toThrow(TypeError);
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
