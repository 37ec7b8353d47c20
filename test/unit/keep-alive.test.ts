import { expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '../../src/oneapi/client.js';

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
