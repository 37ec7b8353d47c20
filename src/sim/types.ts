import type { Flavor } from '../oneapi/types.js';
import type { LogIndex } from './log-index.js';

/** A channel as the simulator stores it; each flavor renders it its own way on the way out. */
export interface SimChannel {
  id: number;
  name: string;
  /** null mimics old rows whose priority column was never set. */
  priority: number | null;
  status: number;
  type?: number;
  weight?: number;
  models?: string;
  group?: string;
  key?: string;
  tag?: string;
  used_quota?: number;
  base_url?: string;
}

/**
 * A log row as the simulator stores it. `channel` is the channel id. Filters and orders read these typed fields;
 * `raw` only changes what is rendered.
 */
export interface SimLog {
  id?: number;
  /** Unix seconds. */
  created_at: number;
  /** Defaults to 2 (consume). */
  type?: number;
  channel: number;
  /** What the flavor logs: the mapped upstream name on one-api/one-hub, the requested alias on new-api. */
  model_name: string;
  /** new-api only: the upstream model, rendered as `upstream_model_name` inside `other` when set. */
  upstream_model?: string;
  prompt_tokens: number;
  completion_tokens: number;
  token_name?: string;
  username?: string;
  quota?: number;
  content?: string;
  /**
   * How long the request took, ms: rendered as one-api's `elapsed_time` (ms), new-api's `use_time` (whole seconds)
   * and one-hub's `request_time` (ms). Defaults to 0.
   */
  elapsed_ms?: number;
  /**
   * Rendered by one-api and new-api (one-hub has no such column). Defaults to a stable value derived from
   * `id` and `created_at` (see defaultRequestId), so every read of a row shows the same request_id.
   */
  request_id?: string;
  /**
   * Merged over the rendered row, for hostile data: `{prompt_tokens: '12'}`, `{type: 9}`. A key whose value is
   * undefined removes that field from the row. Filters and order still use the typed fields.
   */
  raw?: Record<string, unknown>;
}

/** One request the simulator received, with the status it answered (0 when the socket was dropped). */
export interface SimRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON for PUT/POST; the raw text when it was not valid JSON. */
  body?: unknown;
  status: number;
  /** From the simulator's clock, in ms. */
  at: number;
}

/** A scripted misbehaviour: the first queued fault that matches a request answers it instead of the API. */
export interface Fault {
  method?: string;
  /** Exact pathname, e.g. '/api/channel/'. */
  path?: string;
  /** `body` is the parsed JSON of a PUT or POST (e.g. to fail the write of one channel). */
  match?: (req: { method: string; path: string; query: Record<string, string>; body?: unknown }) => boolean;
  /** Defaults to 1; Infinity for always. */
  times?: number;
  /**
   * A canned answer (a string body is sent as text, an absent body as an empty body), 'drop' to destroy
   * the socket, or a delay after which the request is served normally.
   */
  reply: { status: number; body?: unknown } | 'drop' | { delayMs: number };
}

/** How to start a simulator. Every field has a default. */
export interface SimulatorOptions {
  /** Defaults to 'one-api'. */
  flavor?: Flavor;
  /** The admin access token. Defaults to 'sim-token-0123456789abcdef0123456'. */
  token?: string;
  /** The token owner's id, checked against New-Api-User by new-api. Defaults to 1. */
  userId?: number;
  channels?: SimChannel[];
  logs?: SimLog[];
  /** Defaults to 0 (any free port). */
  port?: number;
  /**
   * Past `max` requests in any `windowSec` window: HTTP 429 with an empty body, like OneAPI's global limiter.
   * With `retryAfterSec`, the 429 also carries `Retry-After: <retryAfterSec>` (new-api since 2026-07).
   */
  rateLimit?: { max: number; windowSec: number; retryAfterSec?: number };
  /**
   * OneAPI's ms clock: request timestamps, the rate-limit window and the HTTP `Date` header of every answer.
   * Defaults to Date.now. A skewed server is `now: () => Date.now() + offsetMs`, or use `clockOffsetSec`.
   */
  now?: () => number;
  /** Added to `now()` (seconds; negative = OneAPI's clock behind ours). Defaults to 0. */
  clockOffsetSec?: number;
  /**
   * new-api only. 'clickhouse' mimics a ClickHouse log store (upstream since 2026-06): logs are ordered
   * `created_at desc, request_id desc` and each row's `id` is rewritten to its position in the result
   * (offset + i + 1), so ids repeat on every read; request_id stays stable. Defaults to 'sql'.
   */
  logStore?: 'sql' | 'clickhouse';
  /** The priority router behind `route()`: how OneAPI's channel cache refreshes. */
  routing?: RoutingOptions;
}

/** OneAPI's routing cache: refreshed from `channels` at instants phaseSec + k * cacheSec (unix seconds). */
export interface RoutingOptions {
  /** Refresh period in seconds; 0 (the default) routes from live channel data. */
  cacheSec?: number;
  /** Offset of the refresh grid, in seconds. Defaults to 0. */
  phaseSec?: number;
  /** Seed of the tie-breaking random choice among channels of equal priority. Defaults to 1. */
  seed?: number;
}

/** One routed request: its token counts and when it was served (unix seconds, may be fractional). */
export interface RoutedRequest {
  promptTokens: number;
  completionTokens: number;
  at: number;
  /**
   * How long the request lasts, seconds (default 0): it is routed at `at`, and its log is written, stamped and given
   * its id when it ends, at `at + elapsedSec` (as OneAPI does, after the response), with that duration.
   */
  elapsedSec?: number;
  /** Extra fields for the consume log written (e.g. upstream_model, token_name). */
  log?: Partial<Omit<SimLog, 'channel' | 'created_at' | 'prompt_tokens' | 'completion_tokens'>>;
}

/** A running OneAPI simulator. */
export interface Simulator {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly flavor: Flavor;
  readonly token: string;
  /** Live: tests may read and mutate it (an operator editing a channel by hand). */
  channels: SimChannel[];
  /** Every stored log, in the order added. Add logs only through addLog/addLogs (the read views are indexed). */
  readonly logs: readonly SimLog[];
  /** Every request received, in order. Clear with `requests.length = 0`. */
  requests: SimRequest[];
  /** Stores a log, giving it the next id unless it has one; returns the stored row. */
  addLog(log: SimLog): SimLog;
  addLogs(logs: SimLog[]): void;
  /** OneAPI's clock (ms), as sent in the Date header: the `now` option plus `clockOffsetSec`. */
  now(): number;
  /**
   * Routes one request as OneAPI would: among enabled channels whose `models` lists `model`, those with the
   * highest priority as seen by the routing cache (see RoutingOptions), one at random among ties. Appends a
   * consume log stamped `at` on the chosen channel and returns its id; undefined (and no log) when none serves
   * the model. Time is passed in, so a bench can simulate a day in milliseconds; the cache refreshes lazily,
   * at the first route() at or after each refresh instant, from the channels as they are then.
   */
  route(model: string, req: RoutedRequest): number | undefined;
  /**
   * Writes the logs of the routed requests that have ended by `untilSec` (default: all of them). Done by itself at
   * each route() and each HTTP request (at OneAPI's clock): call it to see the rest in `logs`.
   */
  flush(untilSec?: number): void;
  /** Queues a fault; the first matching fault answers, and its `times` counts down. */
  fail(fault: Fault): void;
  clearFaults(): void;
  /** The PUT/POST/PATCH/DELETE requests, in order. */
  writes(): SimRequest[];
  /** Stops listening and destroys every open socket. */
  close(): Promise<void>;
}

/** What a route handler sees of a request. */
export interface RouteRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  params: Record<string, string>;
  body: unknown;
  /** Set when the body was present but not valid JSON. */
  bodyError?: string;
}

/** What a route handler answers. An undefined body is sent as an empty body. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The live data the routes read and write. */
export interface SimState {
  readonly flavor: Flavor;
  channels: SimChannel[];
  readonly logs: readonly SimLog[];
  /** Indexed, cached views of `logs` for the list endpoints. */
  readonly logIndex: LogIndex;
  readonly logStore: 'sql' | 'clickhouse';
}
