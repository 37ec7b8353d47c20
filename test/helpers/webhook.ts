import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A webhook receiver on loopback that records the alerts it is sent; `cleanup.add` closes it after the test. */
export async function webhookReceiver(cleanup: { add(fn: () => Promise<void>): void }) {
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
  cleanup.add(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, kinds: () => got.map((g) => g.kind) };
}
