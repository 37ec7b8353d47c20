import axios from 'axios';
import type { Logger } from 'pino';
import type { z } from 'zod';
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

/** One call: the concrete path, an optional metrics label, and the schema `data` must match. */
export interface RequestSpec<T> {
  method: 'GET' | 'PUT';
  path: string;
  /** Low-cardinality label for onRequest, e.g. 'GET /api/channel/:id'. Defaults to `METHOD path`. */
  route?: string;
  params?: Record<string, string | number | boolean>;
  body?: unknown;
  schema: z.ZodType<T>;
}

/** Sends requests with auth, rate limit, retries and envelope checks; every failure is a clean OneApiError. */
export interface Http {
  request<T>(spec: RequestSpec<T>): Promise<T>;
  readonly requestCount: number;
}

const BURST = 10;
const FIRST_BACKOFF_MS = 500;
const MAX_DELAY_MS = 30_000;

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

  const ax = axios.create({
    baseURL: opts.baseUrl.replace(/\/+$/, ''),
    timeout: opts.timeoutMs,
    headers,
    // Every status is classified by `interpret`, and the body is parsed there, so axios never throws on a
    // status and never half-parses JSON.
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
  });
  const limiter = createRateLimiter(opts.maxRequestsPerMinute, BURST, opts.now, opts.sleep);
  const token = opts.accessToken;
  const scrub = (s: string): string => (token ? s.split(token).join('[redacted]') : s);
  let count = 0;

  async function attempt<T>(spec: RequestSpec<T>, endpoint: string): Promise<Outcome<T>> {
    let res;
    try {
      res = await ax.request({
        method: spec.method,
        url: spec.path,
        params: spec.params,
        data: spec.body,
        // axios' own timeout is a socket idle timeout; a server that trickles bytes needs a hard deadline too.
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (e) {
      // No response at all. The axios error holds config.headers (the token): keep only its code.
      const code = (e as { code?: unknown }).code;
      const why =
        code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED'
          ? `timed out after ${opts.timeoutMs} ms`
          : typeof code === 'string'
            ? code
            : 'network error';
      const message = `OneAPI at ${origin} unreachable on ${endpoint}: ${why}`;
      return { ok: false, error: new OneApiError(message, 'unreachable', endpoint) };
    }
    const body = typeof res.data === 'string' ? res.data : '';
    const answer = interpret({ status: res.status, body }, endpoint, scrub);
    if (!answer.ok) return { ok: false, error: answer.error, retryAfterMs: retryAfter(res.headers['retry-after']) };
    const parsed = spec.schema.safeParse(answer.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `data.${issue.path.join('.')}` : 'data';
      const msg = `OneAPI answered ${endpoint} with an unexpected shape at ${where}: ${issue?.message ?? 'invalid'}`;
      return { ok: false, error: new OneApiError(scrub(msg), 'bad-response', endpoint, res.status) };
    }
    return { ok: true, value: parsed.data };
  }

  return {
    get requestCount() {
      return count;
    },
    async request<T>(spec: RequestSpec<T>): Promise<T> {
      const endpoint = `${spec.method} ${spec.path}`;
      const route = spec.route ?? endpoint;
      for (let n = 0; ; n++) {
        await limiter.acquire();
        count++;
        const out = await attempt(spec, endpoint);
        opts.onRequest?.(route, out.ok ? 'ok' : out.error.kind);
        if (out.ok) return out.value;
        if (!out.error.retryable || n >= opts.retries) throw out.error;
        const delayMs = Math.min(out.retryAfterMs ?? FIRST_BACKOFF_MS * 2 ** n, MAX_DELAY_MS);
        opts.logger?.warn(
          { endpoint, attempt: n + 1, delayMs, kind: out.error.kind, status: out.error.status },
          'oneapi request retry',
        );
        await opts.sleep(delayMs);
      }
    },
  };
}

/** Retry-After in seconds (the only form OneAPI's limiters could send); anything else falls back to back-off. */
function retryAfter(header: unknown): number | undefined {
  if (typeof header !== 'string' || !/^\s*\d+(\.\d+)?\s*$/.test(header)) return undefined;
  return Math.round(Number(header) * 1000);
}
