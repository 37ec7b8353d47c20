import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { refusal, type Access } from './access.js';
import type { Metrics } from './metrics.js';

/** What startHttpServer needs: where to listen, what to serve, where to log. */
export interface HttpServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  health: () => { ok: boolean; body: Record<string, unknown> };
  log: Logger;
  /** Host check and credential (access.ts listenAccess); none when undefined. */
  access?: Access;
  /** More read-only routes (the dashboard); undefined for a path they do not serve. */
  routes?: (url: URL) => Promise<{ status: number; type: string; body: string } | undefined>;
}

/** A listening metrics server. */
export interface HttpServer {
  /** e.g. http://127.0.0.1:9464 (the real port when 0 was asked for). */
  url: string;
  /** Stops listening and closes every open connection, keep-alive ones included. */
  close(): Promise<void>;
}

const FORMS = 'expected host:port, [ipv6]:port, :port or port';

/**
 * Parses a --listen value: `host:port`, `[::1]:port`, or `:port` and a bare `port` (both loopback, 127.0.0.1).
 * Throws an Error saying what is wrong.
 */
export function parseListen(s: string): { host: string; port: number } {
  let v = s.trim();
  // A bare port stays on loopback, like ':port': metrics are not for the whole network by default.
  if (/^\d+$/.test(v)) v = `:${v}`;
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(v);
  if (bracketed) {
    [, host, portText] = bracketed;
    if (host !== '' && !host.includes(':')) throw new Error(`listen address "${s}": brackets are only for IPv6 addresses`);
  } else {
    const i = v.lastIndexOf(':');
    if (i < 0) throw new Error(`listen address "${s}": no port; ${FORMS}`);
    host = v.slice(0, i);
    portText = v.slice(i + 1);
    if (host.includes(':')) throw new Error(`listen address "${s}": write an IPv6 address in brackets, e.g. [::1]:9464`);
    if (host === '') host = '127.0.0.1'; // ':port' stays on loopback: metrics are not for the whole network by default.
  }
  if (host === '') throw new Error(`listen address "${s}": empty host; ${FORMS}`);
  if (!/^\d{1,5}$/.test(portText)) throw new Error(`listen address "${s}": port "${portText}" is not a number; ${FORMS}`);
  const port = Number(portText);
  if (port > 65535) throw new Error(`listen address "${s}": port ${port} is out of range (0-65535)`);
  return { host, port };
}

/**
 * Serves GET /metrics (Prometheus text), GET /healthz (200 or 503 JSON) and `routes`; 404 otherwise; with
 * `access`, a foreign Host is refused (403) and a missing or wrong credential too (401, except on /healthz). Never
 * throws on a request.
 */
export function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const { metrics, health, log, routes, access } = opts;
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, method: req.method, path: req.url }, 'metrics server request failed');
      if (res.headersSent) return void res.destroy();
      send(res, 500, 'application/json', JSON.stringify({ error: 'internal error' }));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const refused = access && refusal(access, path, req.headers);
    if (refused) {
      if (refused.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="quota-pilot", charset="UTF-8"');
      return send(res, refused.status, 'text/plain; charset=utf-8', refused.body);
    }
    if (method !== 'GET' && method !== 'HEAD') return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    // Encoded once: measuring a string's bytes and then writing it reads all of it twice (2 MB with 2,000 budgets).
    if (path === '/metrics') return send(res, 200, metrics.registry.contentType, Buffer.from(await metrics.registry.metrics()));
    if (path === '/healthz') {
      const h = health();
      return send(res, h.ok ? 200 : 503, 'application/json', JSON.stringify(h.body));
    }
    const reply = await routes?.(url);
    if (reply) return send(res, reply.status, reply.type, reply.body);
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error({ err }, 'metrics server error'));
      const { port } = server.address() as AddressInfo;
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolve({
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
