import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Flavor } from '../oneapi/types.js';
import { LogIndex } from './log-index.js';
import { fail } from './render.js';
import { PriorityRouter } from './router.js';
import { matchRoute } from './routes.js';
import type { Fault, Reply, RoutedRequest, SimChannel, SimLog, SimRequest, Simulator, SimulatorOptions } from './types.js';

export type { Fault, RoutedRequest, RoutingOptions, SimChannel, SimLog, SimRequest, Simulator, SimulatorOptions } from './types.js';
export { defaultRequestId } from './log-order.js';

/** The access token a simulator accepts unless told otherwise (32 characters, like OneAPI's). */
export const DEFAULT_SIM_TOKEN = 'sim-token-0123456789abcdef0123456';

const WRITE_METHODS = ['PUT', 'POST', 'PATCH', 'DELETE'];

/** Starts a OneAPI admin-API simulator on 127.0.0.1 and resolves once it listens. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const sim = new HttpSimulator(opts);
  await sim.listen(opts.port ?? 0);
  return sim;
}

class HttpSimulator implements Simulator {
  readonly flavor: Flavor;
  readonly token: string;
  channels: SimChannel[];
  readonly logs: SimLog[] = [];
  readonly logIndex = new LogIndex(this.logs);
  readonly logStore: 'sql' | 'clickhouse';
  requests: SimRequest[] = [];

  private readonly userId: number;
  private readonly clock: () => number;
  private readonly offsetMs: number;
  private readonly rateLimit?: SimulatorOptions['rateLimit'];
  private readonly router: PriorityRouter;
  private readonly faults: { fault: Fault; left: number }[] = [];
  private readonly hits: number[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private nextLogId = 1;
  /** Routed requests still running: their logs, stamped when they end, in order of that end. */
  private readonly inflight: SimLog[] = [];
  private port = 0;

  constructor(opts: SimulatorOptions) {
    this.flavor = opts.flavor ?? 'one-api';
    this.token = opts.token ?? DEFAULT_SIM_TOKEN;
    this.userId = opts.userId ?? 1;
    this.clock = opts.now ?? Date.now;
    this.offsetMs = (opts.clockOffsetSec ?? 0) * 1000;
    this.rateLimit = opts.rateLimit;
    this.logStore = opts.logStore ?? 'sql';
    if (this.logStore === 'clickhouse' && this.flavor !== 'new-api') throw new TypeError(`logStore 'clickhouse' is new-api only, not ${this.flavor}`);
    this.router = new PriorityRouter(() => this.channels, opts.routing);
    // Copies, so a test's fixtures are not changed by the simulated PUTs.
    this.channels = (opts.channels ?? []).map((c) => ({ ...c }));
    this.addLogs(opts.logs ?? []);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  now(): number {
    return this.clock() + this.offsetMs;
  }

  addLog(log: SimLog): SimLog {
    const stored = { ...log, id: log.id ?? this.nextLogId };
    this.nextLogId = Math.max(this.nextLogId, stored.id + 1);
    this.logs.push(stored);
    this.logIndex.added(stored);
    return stored;
  }

  route(model: string, req: RoutedRequest): number | undefined {
    this.flush(req.at);
    // Routed at its start; logged at its end.
    const channel = this.router.pick(model, req.at);
    if (channel === undefined) return undefined;
    const elapsed = req.elapsedSec ?? 0;
    const log: SimLog = {
      ...req.log,
      created_at: Math.floor(req.at + elapsed),
      channel,
      model_name: model,
      prompt_tokens: req.promptTokens,
      completion_tokens: req.completionTokens,
    };
    if (elapsed > 0) log.elapsed_ms = Math.round(elapsed * 1000);
    if (elapsed <= 0) this.addLog(log);
    else {
      let i = this.inflight.length;
      while (i > 0 && this.inflight[i - 1].created_at > log.created_at) i--;
      this.inflight.splice(i, 0, log);
    }
    return channel;
  }

  flush(untilSec = Infinity): void {
    let n = 0;
    while (n < this.inflight.length && this.inflight[n].created_at <= untilSec) n++;
    for (const log of this.inflight.splice(0, n)) this.addLog(log);
  }

  addLogs(logs: SimLog[]): void {
    for (const log of logs) this.addLog(log);
  }

  fail(fault: Fault): void {
    this.faults.push({ fault, left: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  writes(): SimRequest[] {
    return this.requests.filter((r) => WRITE_METHODS.includes(r.method));
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = firstValues(url.searchParams);
    const raw = await readBody(req);
    const { body, bodyError } = parseBody(method, raw);
    const record: SimRequest = { method, path: url.pathname, query, body, status: 0, at: this.now() };
    this.requests.push(record);
    this.flush(record.at / 1000);

    try {
      const fault = this.takeFault(method, url.pathname, query, body);
      if (fault === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault && 'delayMs' in fault) {
        await this.sleep(fault.delayMs);
        if (res.destroyed) return;
      } else if (fault) {
        return this.send(res, record, fault);
      }
      if (!this.allowedByRateLimit(record.at)) return this.send(res, record, this.tooMany());
      const route = matchRoute(this.flavor, method, url.pathname);
      if (!route) return this.send(res, record, fail('not found', 404));
      const denied = this.checkAuth(req.headers);
      if (denied) return this.send(res, record, denied);
      this.send(res, record, route.handle({ method, path: url.pathname, query, params: route.params, body, bodyError }, this));
    } catch (err) {
      this.send(res, record, fail(`simulator error: ${(err as Error).message}`, 500));
    }
  }

  /** Every answer carries OneAPI's clock in its Date header: the client under test reads its read end from it. */
  private send(res: http.ServerResponse, record: SimRequest, reply: Reply): void {
    res.sendDate = false;
    send(res, record, { ...reply, headers: { ...reply.headers, date: new Date(this.now()).toUTCString() } });
  }

  private tooMany(): Reply {
    const retryAfter = this.rateLimit?.retryAfterSec;
    return retryAfter === undefined ? { status: 429 } : { status: 429, headers: { 'retry-after': String(retryAfter) } };
  }

  private takeFault(method: string, path: string, query: Record<string, string>, body: unknown): Fault['reply'] | undefined {
    const index = this.faults.findIndex(
      ({ fault }) =>
        (fault.method === undefined || fault.method.toUpperCase() === method) &&
        (fault.path === undefined || fault.path === path) &&
        (fault.match === undefined || fault.match({ method, path, query, body })),
    );
    if (index < 0) return undefined;
    const entry = this.faults[index];
    entry.left -= 1;
    if (entry.left <= 0) this.faults.splice(index, 1);
    return entry.fault.reply;
  }

  /** One-api's in-memory limiter: a sliding window of accepted requests; refused ones are not counted. */
  private allowedByRateLimit(at: number): boolean {
    if (!this.rateLimit) return true;
    const windowMs = this.rateLimit.windowSec * 1000;
    while (this.hits.length > 0 && at - this.hits[0] >= windowMs) this.hits.shift();
    if (this.hits.length >= this.rateLimit.max) return false;
    this.hits.push(at);
    return true;
  }

  /**
   * Missing credential → 401; a wrong token → HTTP 200 with success:false (OneAPI's quirk).
   * new-api then also wants New-Api-User to be the token owner's id, refusing with 401.
   */
  private checkAuth(headers: http.IncomingHttpHeaders): Reply | undefined {
    const header = headers.authorization;
    if (!header) return fail('无权进行此操作，未登录且未提供 access token', 401);
    const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : header;
    if (presented !== this.token) return fail('无权进行此操作，access token 无效');
    if (this.flavor !== 'new-api') return undefined;
    const rawUser = headers['new-api-user'];
    const user = Array.isArray(rawUser) ? rawUser[0] : rawUser;
    if (!user) return fail('无权进行此操作，未提供 New-Api-User', 401);
    if (!/^[+-]?\d+$/.test(user)) return fail('无权进行此操作，New-Api-User 格式错误', 401);
    if (Number(user) !== this.userId) return fail('无权进行此操作，New-Api-User 与登录用户不匹配', 401);
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

/** Gin's c.Query returns the first value of a repeated parameter. */
function firstValues(params: URLSearchParams): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of params) if (!(name in query)) query[name] = value;
  return query;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function parseBody(method: string, raw: string): { body?: unknown; bodyError?: string } {
  if (!WRITE_METHODS.includes(method) || raw === '') return {};
  try {
    return { body: JSON.parse(raw) };
  } catch (err) {
    return { body: raw, bodyError: `invalid JSON body: ${(err as Error).message}` };
  }
}

/** Sends a reply and records its status. A string body goes out as text, an undefined one as nothing. */
function send(res: http.ServerResponse, record: SimRequest, reply: Reply): void {
  record.status = reply.status;
  if (res.destroyed) return;
  if (reply.body === undefined) {
    res.writeHead(reply.status, { ...reply.headers, 'content-length': '0' });
    res.end();
    return;
  }
  const isText = typeof reply.body === 'string';
  const text = isText ? (reply.body as string) : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
