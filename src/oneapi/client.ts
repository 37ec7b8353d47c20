import type { Logger } from 'pino';
import { flavorApi, toChannel, uniqueChannels } from './flavors.js';
import { createHttp } from './http.js';
import { readLogs } from './log-reader.js';
import { channelRow, ignored } from './schemas.js';
import { DEFAULT_RATE_LIMIT, OneApiError, type Channel, type Flavor, type LogQuery, type LogReadOptions, type OneApiClient } from './types.js';

/** How to reach one OneAPI-family server. */
export interface ClientOptions {
  baseUrl: string;
  accessToken: string;
  /** The token owner's id; sent as New-Api-User, which classic new-api requires. */
  userId?: number;
  flavor: Flavor;
  /** Default: the flavor's (see defaultRateLimit); a token bucket with a burst of a tenth of it. */
  maxRequestsPerMinute?: number;
  /** Default 15000, per request. */
  timeoutMs?: number;
  /** Default 3 extra attempts on unreachable, 429, 5xx; back-off 500 ms, 1 s, 2 s…; Retry-After honoured; ≤ 30 s. */
  retries?: number;
  /** Injected for tests (default setTimeout); the rate limiter uses it too. */
  sleep?: (ms: number) => Promise<void>;
  /** ms clock for the rate limiter (default Date.now). */
  now?: () => number;
  /** Each retry is logged at warn as {endpoint, attempt, delayMs, kind, status}. */
  logger?: Logger;
  /** Called once per HTTP attempt with a route label ('GET /api/log/') and 'ok' or the error kind. */
  onRequest?: (endpoint: string, result: string) => void;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A OneApiClient for one flavor; every failure is thrown as a OneApiError that never contains the token. */
export function createClient(opts: ClientOptions): OneApiClient {
  const maxRequestsPerMinute = opts.maxRequestsPerMinute ?? DEFAULT_RATE_LIMIT[opts.flavor] ?? 120;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const retries = opts.retries ?? 3;
  if (!(maxRequestsPerMinute > 0)) throw new TypeError('maxRequestsPerMinute must be > 0');
  if (!(timeoutMs > 0)) throw new TypeError('timeoutMs must be > 0');
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError('retries must be an integer ≥ 0');
  const http = createHttp({
    baseUrl: opts.baseUrl,
    accessToken: opts.accessToken,
    userId: opts.userId,
    maxRequestsPerMinute,
    timeoutMs,
    retries,
    sleep: opts.sleep ?? defaultSleep,
    now: opts.now ?? Date.now,
    logger: opts.logger,
    onRequest: opts.onRequest,
  });
  const api = flavorApi(opts.flavor);

  return {
    baseUrl: opts.baseUrl,
    get requestCount() {
      return http.requestCount;
    },
    get throttledMs() {
      return http.throttledMs;
    },
    serverClock: () => http.serverClock(),
    close: () => http.close(),

    async listChannels(): Promise<Channel[]> {
      return uniqueChannels(await api.listChannels(http, opts.logger));
    },

    async getChannel(id: number): Promise<Channel> {
      assertInt('channel id', id);
      const row = await http.request({
        method: 'GET',
        path: `/api/channel/${id}`,
        route: 'GET /api/channel/:id',
        check: (data) => channelRow(data, 'data'),
      });
      return toChannel(row);
    },

    async setPriority(id: number, priority: number): Promise<void> {
      assertInt('channel id', id);
      assertInt('priority', priority);
      // Exactly these two keys: GORM's struct update skips zero values, so this touches only `priority`.
      // `models` would make one-hub rewrite every column; `status` is refused by newer new-api; `key` is secret.
      await http.request({ method: 'PUT', path: '/api/channel/', body: { id, priority }, check: ignored });
    },

    async enableChannel(id: number): Promise<void> {
      assertInt('channel id', id);
      const put = () => http.request({ method: 'PUT', path: '/api/channel/', body: { id, status: 1 }, check: ignored });
      if (opts.flavor !== 'new-api') return void (await put());
      try {
        await http.request({ method: 'POST', path: `/api/channel/${id}/status`, route: 'POST /api/channel/:id/status', body: { status: 1 }, check: ignored });
      } catch (err) {
        if (!(err instanceof OneApiError && err.status === 404)) throw err;
        await put();
      }
    },

    readLogs(q: LogQuery, onPage: (rows: unknown[]) => void, readOpts?: LogReadOptions) {
      assertInt('range.start', q.start);
      assertInt('range.end', q.end);
      if (q.channel !== undefined) assertInt('channel', q.channel);
      if (q.end < q.start) throw new RangeError(`empty time range: ${q.start} > ${q.end}`);
      return readLogs(opts.flavor, http, q, onPage, readOpts);
    },
  };
}

function assertInt(what: string, v: number): void {
  if (!Number.isSafeInteger(v)) throw new TypeError(`${what} must be an integer, got ${String(v)}`);
}
