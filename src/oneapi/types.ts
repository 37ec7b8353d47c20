/** OneAPI-family flavors quota-pilot speaks. */
export type Flavor = 'one-api' | 'new-api' | 'one-hub';
export const FLAVORS: readonly Flavor[] = ['one-api', 'new-api', 'one-hub'];

/**
 * Requests per minute quota-pilot allows itself by default: about 85% of each flavor's own admin limit per client
 * IP (one-api 480, one-hub 300, new-api 180 — raised to 360 in later releases — per 180 s), leaving room for the
 * admin UI behind the same IP.
 */
export const DEFAULT_RATE_LIMIT: Record<Flavor, number> = { 'one-api': 136, 'new-api': 51, 'one-hub': 85 };

/** The few channel fields quota-pilot reads. The secret `key` is never kept. */
export interface Channel {
  id: number;
  name: string;
  /** Higher wins in OneAPI routing. A null priority from old rows is read as 0. */
  priority: number;
  /** 1 enabled, 2 manually disabled, 3 auto-disabled. */
  status: number;
  /** Model names the channel serves (OneAPI's comma-separated `models`), trimmed, empty entries dropped. */
  models: string[];
}

/** Closed time range in unix seconds, inclusive at both ends (as OneAPI's filters are). */
export interface TimeRange {
  start: number;
  end: number;
}

/** A consume-log query: a range of OneAPI's created_at, optionally one channel (each flavor's channel filter). */
export interface LogQuery extends TimeRange {
  channel?: number;
}

/** How a log read went: pages fetched, and the size of the result set when the server said (or estimated it). */
export interface LogReadStats {
  pages: number;
  rows: number;
  /** True when `onFirst` declined after the first request: no row was delivered. */
  declined: boolean;
  /** Rows in the query's result set, from the server's total (new-api, one-hub) or the one-api estimate. */
  total?: number;
}

export interface LogReadOptions {
  /**
   * Called once after the first request, before any row is delivered, with how many rows are still to come (exact
   * where the server gives a total, estimated on one-api, undefined when unknown) and the rows of that first answer
   * as a sample; returning false stops the read there.
   */
  onFirst?: (remaining: number | undefined, sample: unknown[]) => boolean;
  /** one-api only: try the newest-100 search first (it serves a small all-channel read in one request). */
  tryRecent?: boolean;
  /**
   * one-api only: a long read (from a window's start) may keep a few pages in flight once it has seen several full
   * pages; it may then ask for up to two pages past the end. Steady reads leave it off and cost exactly their pages.
   */
  readAhead?: boolean;
}

/** OneAPI's clock as last seen in a response's Date header, beside ours at that moment. */
export interface ServerClock {
  serverMs: number;
  localMs: number;
}

/** Everything the daemon needs from OneAPI. The only code that speaks HTTP implements it. */
export interface OneApiClient {
  /** Every channel, across all pages. Throws OneApiError on any failure. */
  listChannels(): Promise<Channel[]>;
  /** One channel, read back from OneAPI. */
  getChannel(id: number): Promise<Channel>;
  /** PUT /api/channel/ with a body of exactly {id, priority}. */
  setPriority(id: number, priority: number): Promise<void>;
  /**
   * Enables a channel (status 1): `PUT /api/channel/ {id, status: 1}` on one-api and one-hub; on new-api
   * `POST /api/channel/:id/status {status: 1}`, the only way newer versions take, and the PUT where that route is
   * missing (404, older versions).
   */
  enableChannel(id: number): Promise<void>;
  /**
   * Streams the raw rows of consume logs in `q`, newest first, page by page, to `onPage` (rows are not checked:
   * the caller quarantines bad ones). Throws if any page fails; rows already delivered must then be discarded.
   */
  readLogs(q: LogQuery, onPage: (rows: unknown[]) => void, opts?: LogReadOptions): Promise<LogReadStats>;
  /** OneAPI's clock from the most recent answer that carried a Date header. */
  serverClock(): ServerClock | undefined;
  /**
   * Stops the client for good: reads in flight and every wait (rate limiter, back-off) end at once with a
   * 'cancelled' error, a write in flight finishes, and later calls fail. The daemon calls it on SIGTERM.
   */
  close(): void;
  /** HTTP requests sent so far (retries included). */
  readonly requestCount: number;
  /** The OneAPI it speaks to (ONEAPI_BASE_URL): what is measured of its routing is kept per instance. */
  readonly baseUrl?: string;
  /** Milliseconds spent waiting for the rate limiter (including back-off after 429). */
  readonly throttledMs: number;
}


export type OneApiErrorKind =
  | 'auth' // token refused, missing New-Api-User, insufficient role
  | 'unreachable' // connection refused, DNS, timeout
  | 'rate-limited' // HTTP 429
  | 'server' // HTTP 5xx
  | 'rejected' // success:false for a reason other than auth, or a 4xx
  | 'bad-response' // a body that does not have the expected shape
  | 'cancelled'; // the client was closed (the daemon is stopping)

/** A failed OneAPI call: what was called, how it failed, and whether trying again may help. */
export class OneApiError extends Error {
  constructor(
    message: string,
    readonly kind: OneApiErrorKind,
    readonly endpoint: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OneApiError';
  }

  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'rate-limited' || this.kind === 'server';
  }
}
