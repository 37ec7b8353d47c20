import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios, { AxiosHeaders } from 'axios';
import type { Logger } from 'pino';
import { createRateLimiter } from './rate-limiter.js';
import { interpret } from './response.js';
import { OneApiError } from './types.js';

/** Everything the HTTP layer needs; defaults are filled in by createClient. */
export interface HttpOptions {
  baseUrl: string;
  accessToken: string;
  userId?: number;
  maxRequestsPerMinute: number;
  timeoutMs: number;
  retries: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  logger?: Logger;
  onRequest?: (endpoint: string, result: string) => void;
}

/**
 * One call: the concrete path, an optional metrics label, and how `data` is checked: a plain function that returns
 * what the caller keeps of it or throws a message naming the bad place (see schemas.ts and log-reader.ts).
 */
export interface RequestSpec<T> {
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  /** Low-cardinality label for onRequest, e.g. 'GET /api/channel/:id'. Defaults to `METHOD path`. */
  route?: string;
  params?: Record<string, string | number | boolean>;
  body?: unknown;
  check: (data: unknown) => T;
}

/** Sends requests with auth, rate limit, retries and envelope checks; every failure is a clean OneApiError. */
export interface Http {
  request<T>(spec: RequestSpec<T>): Promise<T>;
  readonly requestCount: number;
  /** ms spent waiting for the rate limiter and in back-off after a 429. */
  readonly throttledMs: number;
  /** OneAPI's clock from the newest answer with a Date header. */
  serverClock(): { serverMs: number; localMs: number } | undefined;
  /** Cancels reads in flight and every wait; a PUT in flight finishes; later requests fail ('cancelled'). */
  close(): void;
}

const FIRST_BACKOFF_MS = 500;
const MAX_DELAY_MS = 30_000;
/**
 * OneAPI's admin limiters count requests per client IP over 180 s windows; after a 429 only waiting lets the window
 * drain, so back-off starts at 30 s and doubles (30 + 60 + 120 s outlasts one window) unless Retry-After says.
 */
const RATE_LIMIT_BACKOFF_MS = 30_000;
const MAX_RATE_LIMIT_DELAY_MS = 180_000;
/** Pages are fetched a few at a time at most; more sockets would only queue at the rate limiter. */
const MAX_SOCKETS = 4;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: OneApiError; retryAfterMs?: number };

/** Builds the HTTP layer. Nothing here ever logs or throws an object that carries the request headers. */
export function createHttp(opts: HttpOptions): Http {
  const origin = new URL(opts.baseUrl).origin; // drops any user:pass@ from messages
  const headers: Record<string, string> = {
    Accept: 'application/json',
    Authorization: `Bearer ${opts.accessToken}`,
  };
  // Classic new-api refuses admin calls without it; newer new-api and the other flavors ignore it.
  if (opts.userId !== undefined) headers['New-Api-User'] = String(opts.userId);

  // One configuration, one keep-alive agent: no TLS or TCP set-up per page, no proxy lookup, no redirects to follow
  // (an admin API that redirects is misconfigured, and following it would resend the token elsewhere).
  // The configuration is merged once, here, and each request goes straight to axios' HTTP adapter: the per-request
  // merge, header flattening and interceptor chain of axios.request() cost more CPU than the rest of a log page.
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
  const { headers: _defaultHeaders, ...defaults } = axios.defaults;
  const base = axios.mergeConfig(defaults, {
    baseURL: opts.baseUrl.replace(/\/+$/, ''),
    timeout: opts.timeoutMs,
    httpAgent: new http.Agent(agentOptions),
    httpsAgent: new https.Agent(agentOptions),
    proxy: false,
    maxRedirects: 0,
    // Every status is classified by `interpret`, and the body is parsed there, so axios never throws on a
    // status and never half-parses JSON.
    validateStatus: () => true,
    // The body is read here from the response stream (readBody): collecting it through axios' text path kept each
    // page reachable long enough to be promoted out of the young generation: ~100 MB promoted and 20 full
    // collections on a 200,000-row backfill, against ~16 MB and 1 this way.
    responseType: 'stream',
  });
  const send = axios.getAdapter(base.adapter);
  // Plain objects on purpose: the adapter copies them (AxiosHeaders.from) before adding Content-Length and the like;
  // an AxiosHeaders instance would be used as is and carry one request's headers into the next.
  const getHeaders = headers as unknown as AxiosHeaders;
  const jsonHeaders = { ...headers, 'Content-Type': 'application/json' } as unknown as AxiosHeaders;
  // A burst of a tenth of a minute's allowance (at least 5): a cycle's first pages go out at once.
  const burst = Math.max(5, Math.ceil(opts.maxRequestsPerMinute / 10));
  const limiter = createRateLimiter(opts.maxRequestsPerMinute, burst, opts.now, opts.sleep);
  const token = opts.accessToken;
  const scrub = (s: string): string => (token ? s.split(token).join('[redacted]') : s);
  let count = 0;
  let backoffMs = 0;
  let clock: { serverMs: number; localMs: number } | undefined;
  const stopper = stopSwitch();
  /** The reads in flight, aborted when the client closes. */
  const reads = new Set<AbortController>();
  stopper.signal.addEventListener('abort', () => reads.forEach((r) => r.abort()), { once: true });
  const cancelled = (endpoint: string) => new OneApiError(`request to OneAPI cancelled (${endpoint}): quota-pilot is stopping`, 'cancelled', endpoint);
  /** Waits for `p` unless the client is closed first. */
  const unlessClosed = <T>(p: Promise<T>, endpoint: string): Promise<T> => stopper.wait(p, () => cancelled(endpoint));

  async function attempt<T>(spec: RequestSpec<T>, endpoint: string): Promise<Outcome<T>> {
    let res;
    let body: string;
    // axios' own timeout is a socket idle timeout; a server that trickles bytes needs a hard deadline too. A read is
    // also cut short when the client closes (a write is left to finish, so its outcome is known). One controller and
    // one timer per request: cheaper than composing AbortSignal.timeout with AbortSignal.any on every page.
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(), opts.timeoutMs);
    if (spec.method === 'GET') reads.add(abort);
    try {
      res = await send({
        ...base,
        method: spec.method,
        url: spec.params ? `${spec.path}?${query(spec.params)}` : spec.path,
        headers: spec.body === undefined ? getHeaders : jsonHeaders,
        data: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: abort.signal,
      });
      body = await readBody(res.data as Readable);
    } catch (e) {
      if (spec.method === 'GET' && stopper.signal.aborted) return { ok: false, error: cancelled(endpoint) };
      // No response, or not all of it. The axios error holds config.headers (the token): keep only its code.
      const code = (e as { code?: unknown }).code;
      const why =
        abort.signal.aborted || code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED'
          ? `timed out after ${opts.timeoutMs} ms`
          : typeof code === 'string'
            ? code
            : 'network error';
      const message = `OneAPI at ${origin} unreachable on ${endpoint}: ${why}`;
      return { ok: false, error: new OneApiError(message, 'unreachable', endpoint) };
    } finally {
      clearTimeout(deadline);
      reads.delete(abort);
    }
    const date = Date.parse(String(res.headers.date ?? ''));
    // The header has whole seconds, truncated: half a second is the better guess of the instant it was sent.
    if (Number.isFinite(date)) clock = { serverMs: date + 500, localMs: opts.now() };
    const answer = interpret({ status: res.status, body }, endpoint, scrub);
    if (!answer.ok) return { ok: false, error: answer.error, retryAfterMs: retryAfter(res.headers['retry-after']) };
    const shaped = checkShape(spec, answer.data);
    if (!shaped.ok) {
      const msg = `OneAPI answered ${endpoint} with an unexpected shape at ${shaped.why}`;
      return { ok: false, error: new OneApiError(scrub(msg), 'bad-response', endpoint, res.status) };
    }
    return { ok: true, value: shaped.value };
  }

  return {
    get requestCount() {
      return count;
    },
    get throttledMs() {
      return limiter.waitedMs + backoffMs;
    },
    serverClock: () => clock,
    close: () => stopper.stop(),
    async request<T>(spec: RequestSpec<T>): Promise<T> {
      const endpoint = `${spec.method} ${spec.path}`;
      const route = spec.route ?? endpoint;
      for (let n = 0; ; n++) {
        await unlessClosed(limiter.acquire(), endpoint);
        count++;
        const out = await attempt(spec, endpoint);
        opts.onRequest?.(route, out.ok ? 'ok' : out.error.kind);
        if (out.ok) return out.value;
        if (!out.error.retryable || n >= opts.retries) throw out.error;
        const limited = out.error.kind === 'rate-limited';
        const delayMs = limited
          ? Math.min(out.retryAfterMs ?? RATE_LIMIT_BACKOFF_MS * 2 ** n, MAX_RATE_LIMIT_DELAY_MS)
          : Math.min(out.retryAfterMs ?? FIRST_BACKOFF_MS * 2 ** n, MAX_DELAY_MS);
        if (limited) {
          // Our own pace was too fast for this server: no burst after the pause either.
          limiter.drain();
          backoffMs += delayMs;
        }
        opts.logger?.warn(
          { endpoint, attempt: n + 1, delayMs, kind: out.error.kind, status: out.error.status },
          'oneapi request retry',
        );
        await unlessClosed(opts.sleep(delayMs), endpoint);
      }
    },
  };
}

function checkShape<T>(spec: RequestSpec<T>, data: unknown): { ok: true; value: T } | { ok: false; why: string } {
  try {
    return { ok: true, value: spec.check(data) };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
}

/**
 * The whole body of a response stream, as UTF-8 text; rejects when the stream fails or is cut short (a response
 * cut short emits 'error'). Every listener is removed when it settles: listeners left on a finished response kept
 * each page reachable until the next one, long enough to be promoted out of the young generation. Neither a
 * 'close' listener nor destroying the response: either closed the kept-alive socket after every answer.
 */
function readBody(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    const settle = (err?: Error) => {
      stream.off('data', onData).off('end', onEnd).off('error', settle);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onEnd = () => settle();
    stream.on('data', onData).once('end', onEnd).once('error', settle);
  });
}

/** The query string, built here: axios' own params serializer walks each value through several helpers. */
function query(params: Record<string, string | number | boolean>): string {
  let q = '';
  for (const k in params) q += `${q ? '&' : ''}${encodeURIComponent(k)}=${encodeURIComponent(params[k]!)}`;
  return q;
}

/** Retry-After in seconds (the only form OneAPI's limiters could send); anything else falls back to back-off. */
function retryAfter(header: unknown): number | undefined {
  if (typeof header !== 'string' || !/^\s*\d+(\.\d+)?\s*$/.test(header)) return undefined;
  return Math.round(Number(header) * 1000);
}

/**
 * A stop switch for many waits (requests queued behind the rate cap, back-offs): one listener on its signal however
 * many wait. A listener each made Node warn (MaxListenersExceededWarning) past 10 queued requests.
 */
export function stopSwitch() {
  const controller = new AbortController();
  const waits = new Set<() => void>();
  controller.signal.addEventListener('abort', () => waits.forEach((stop) => stop()), { once: true });
  return {
    signal: controller.signal,
    stop: () => controller.abort(),
    /** Waits for `p`, unless stopped first: then rejects with `onStop()`. */
    wait<T>(p: Promise<T>, onStop: () => Error): Promise<T> {
      if (controller.signal.aborted) return Promise.reject(onStop());
      return new Promise<T>((resolve, reject) => {
        const stop = () => {
          waits.delete(stop);
          reject(onStop());
        };
        waits.add(stop);
        p.then(resolve, reject).finally(() => waits.delete(stop));
      });
    },
    /** How many waits are pending. */
    get waiting(): number {
      return waits.size;
    },
  };
}
