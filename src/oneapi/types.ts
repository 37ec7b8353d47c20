/** OneAPI-family flavors quota-pilot speaks. */
export type Flavor = 'one-api' | 'new-api' | 'one-hub';
export const FLAVORS: readonly Flavor[] = ['one-api', 'new-api', 'one-hub'];

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

/** One consume (type 2) log row, normalised across flavors. */
export interface ConsumeLog {
  id: number;
  /** Unix seconds. */
  createdAt: number;
  channelId: number;
  modelName: string;
  promptTokens: number;
  completionTokens: number;
}

/** Closed time range in unix seconds, inclusive at both ends (as OneAPI's filters are). */
export interface TimeRange {
  start: number;
  end: number;
}

/** Everything the daemon needs from OneAPI. The only code that speaks HTTP implements it. */
export interface OneApiClient {
  /** Every channel, across all pages. Throws OneApiError on any failure. */
  listChannels(): Promise<Channel[]>;
  /** One channel, read back from OneAPI. */
  getChannel(id: number): Promise<Channel>;
  /** PUT /api/channel/ with a body of exactly {id, priority}. */
  setPriority(id: number, priority: number): Promise<void>;
  /** Every consume log with created_at in range, across all pages; throws if any page fails. */
  fetchConsumeLogs(range: TimeRange): Promise<ConsumeLog[]>;
  /** HTTP requests sent so far (retries included). */
  readonly requestCount: number;
}

export type OneApiErrorKind =
  | 'auth' // token refused, missing New-Api-User, insufficient role
  | 'unreachable' // connection refused, DNS, timeout
  | 'rate-limited' // HTTP 429
  | 'server' // HTTP 5xx
  | 'rejected' // success:false for a reason other than auth, or a 4xx
  | 'bad-response'; // a body that does not have the expected shape

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
