/**
 * The yardstick for the ingestion bench: the least a client can do to fetch the same pages. Replays a list of
 * requests (a JSON file: [{method, path, query, body?}]) one after another with plain http.request, a keep-alive
 * agent and JSON.parse of each body, nothing else. Prints {"ms": <loop time>, "requests": n} on stdout.
 * Env: REPLAY_BASE_URL, REPLAY_TOKEN, REPLAY_USER_ID (optional, sent as New-Api-User).
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';

interface Replayed {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
}

const requests = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Replayed[];
const base = new URL(process.env.REPLAY_BASE_URL ?? '');
const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${process.env.REPLAY_TOKEN}` };
if (process.env.REPLAY_USER_ID) headers['New-Api-User'] = process.env.REPLAY_USER_ID;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(r: Replayed): Promise<unknown> {
  const query = new URLSearchParams(r.query).toString();
  const body = r.body === undefined ? undefined : JSON.stringify(r.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: query ? `${r.path}?${query}` : r.path,
        agent,
        headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve(text === '' ? undefined : JSON.parse(text));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const started = process.hrtime.bigint();
for (const r of requests) await send(r);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
agent.destroy();
process.stdout.write(JSON.stringify({ ms, requests: requests.length }) + '\n');
