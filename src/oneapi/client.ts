import type { Logger } from 'pino';
import { consumeLogsIn, flavorApi, uniqueChannels } from './flavors.js';
import { createHttp } from './http.js';
import { channelRow, ignored, splitModels } from './schemas.js';
import type { Channel, Flavor, OneApiClient, TimeRange } from './types.js';

/** How to reach one OneAPI-family server. */
export interface ClientOptions {
  baseUrl: string;
  accessToken: string;
  /** The token owner's id; sent as New-Api-User, which classic new-api requires. */
  userId?: number;
  flavor: Flavor;
  /** Default 120; a token bucket with a burst of 10 (one-api's own limit is 480 per 180 s per IP). */
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
  const maxRequestsPerMinute = opts.maxRequestsPerMinute ?? 120;
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
    get requestCount() {
      return http.requestCount;
    },

    async listChannels(): Promise<Channel[]> {
      return uniqueChannels(await api.listChannels(http));
    },

    async getChannel(id: number): Promise<Channel> {
      assertInt('channel id', id);
      const row = await http.request({
        method: 'GET',
        path: `/api/channel/${id}`,
        route: 'GET /api/channel/:id',
        schema: channelRow,
      });
      return { id: row.id, name: row.name, priority: row.priority, status: row.status, models: splitModels(row.models) };
    },

    async setPriority(id: number, priority: number): Promise<void> {
      assertInt('channel id', id);
      assertInt('priority', priority);
      // Exactly these two keys: GORM's struct update skips zero values, so this touches only `priority`.
      // `models` would make one-hub rewrite every column; `status` is refused by newer new-api; `key` is secret.
      await http.request({ method: 'PUT', path: '/api/channel/', body: { id, priority }, schema: ignored });
    },

    async fetchConsumeLogs(range: TimeRange) {
      assertInt('range.start', range.start);
      assertInt('range.end', range.end);
      if (range.end < range.start) throw new RangeError(`empty time range: ${range.start} > ${range.end}`);
      return consumeLogsIn(await api.fetchLogs(http, range), range);
    },
  };
}

function assertInt(what: string, v: number): void {
  if (!Number.isSafeInteger(v)) throw new TypeError(`${what} must be an integer, got ${String(v)}`);
}
