import { expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { createClient } from '../../src/oneapi/client.js';
import { stopSwitch } from '../../src/oneapi/http.js';

// Without nock (its pass-through opens a connection per request): the client reads each body itself, and must
// still hand the socket back to the keep-alive pool after every answer.

it('reads answers one after another over one kept-alive connection', async () => {
  let connections = 0;
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ success: true, message: '', data: { id: 7, name: 'free-tier', priority: 100, status: 1 } }));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const client = createClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, accessToken: 'tok', flavor: 'one-api', sleep: async () => undefined });
    for (let i = 0; i < 5; i++) expect((await client.getChannel(7)).name).toBe('free-tier');
    expect(connections).toBe(1);
    client.close();
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

it('queues many requests behind the rate cap with one listener on the stop signal, and close() ends them all', async () => {
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ success: true, message: '', data: { id: 7, name: 'free-tier', priority: 100, status: 1 } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    // 6 a minute: a burst of 5, then one every 10 s; the other 25 wait in the rate limiter.
    // The rate limiter's own waits are left to run out after close(): unref'd, so they do not keep jest alive.
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
    const client = createClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, accessToken: 'tok', flavor: 'one-api', maxRequestsPerMinute: 6, sleep });
    const all = Array.from({ length: 30 }, () => client.getChannel(7).then(() => 'ok', (e: Error) => e.message));
    await new Promise((r) => setTimeout(r, 200));
    client.close();
    const out = await Promise.all(all);
    expect(out.filter((o) => o === 'ok')).toHaveLength(5);
    expect(out.filter((o) => o.includes('cancelled'))).toHaveLength(25);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

it('a stop switch keeps one listener on its signal however many wait', async () => {
  const sw = stopSwitch();
  const never = new Promise<never>(() => undefined);
  const waits = Array.from({ length: 30 }, () => sw.wait(never, () => new Error('stopped')).catch((e: Error) => e.message));
  expect(sw.waiting).toBe(30);
  expect(getEventListeners(sw.signal, 'abort')).toHaveLength(1);
  sw.stop();
  expect(await Promise.all(waits)).toEqual(Array(30).fill('stopped'));
  expect(sw.waiting).toBe(0);
  await expect(sw.wait(Promise.resolve(1), () => new Error('late'))).rejects.toThrow('late');
});
