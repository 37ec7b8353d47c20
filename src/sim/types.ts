import type { Flavor } from '../oneapi/types.js';

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

/** A log row as the simulator stores it. `channel` is the channel id. */
export interface SimLog {
  id?: number;
  /** Unix seconds. */
  created_at: number;
  /** Defaults to 2 (consume). */
  type?: number;
  channel: number;
  model_name: string;
  prompt_tokens: number;
  completion_tokens: number;
  token_name?: string;
  username?: string;
  quota?: number;
  content?: string;
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
  match?: (req: { method: string; path: string; query: Record<string, string> }) => boolean;
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
  /** Past `max` requests in any `windowSec` window: HTTP 429 with an empty body, like OneAPI's global limiter. */
  rateLimit?: { max: number; windowSec: number };
  /** ms clock for request timestamps and the rate-limit window. Defaults to Date.now. */
  now?: () => number;
}

/** A running OneAPI simulator. */
export interface Simulator {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly flavor: Flavor;
  readonly token: string;
  /** Live: tests may read and mutate it (an operator editing a channel by hand). */
  channels: SimChannel[];
  readonly logs: SimLog[];
  /** Every request received, in order. Clear with `requests.length = 0`. */
  requests: SimRequest[];
  /** Stores a log, giving it the next id unless it has one; returns the stored row. */
  addLog(log: SimLog): SimLog;
  addLogs(logs: SimLog[]): void;
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
}

/** The live data the routes read and write. */
export interface SimState {
  readonly flavor: Flavor;
  channels: SimChannel[];
  readonly logs: SimLog[];
}
