import axios from 'axios';
import type { Logger } from 'pino';
import type { AlertEvent } from '../events/types.js';
import { payload } from './formats.js';
import type { WebhookTarget } from './targets.js';

/** Delivers alerts in the background; `sent` and `failed` count deliveries (one per event and target). */
export interface Notifier {
  /** Queues the event for every target; never throws, never waits. */
  send(event: AlertEvent): void;
  /** Resolves once the queue is drained, or after maxWaitMs (default 10 s), whichever comes first. */
  flush(maxWaitMs?: number): Promise<void>;
  readonly sent: number;
  readonly failed: number;
}

/** Options of createNotifier; everything but targets and log has a default. */
export interface NotifierOptions {
  targets: WebhookTarget[];
  log: Logger;
  timeoutMs?: number;
  retries?: number;
  maxQueue?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

type Attempt = { ok: true } | { ok: false; retryable: boolean; error: string };

const FIRST_BACKOFF_MS = 1000;

/** Builds a notifier; it owns no timer until send() is called, so it needs no stop(). */
export function createNotifier(opts: NotifierOptions): Notifier {
  const { targets, log } = opts;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const retries = opts.retries ?? 3;
  const maxQueue = opts.maxQueue ?? 1000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const queue: AlertEvent[] = [];
  const idle: Array<() => void> = [];
  let busy = false;
  let sent = 0;
  let failed = 0;

  async function attempt(target: WebhookTarget, event: AlertEvent): Promise<Attempt> {
    const { url, body } = payload(target, event, now()); // signed afresh each attempt: the timestamps expire
    let res;
    try {
      res = await axios.post(url, body, {
        timeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs), // axios' timeout is per socket idle; this is a hard deadline
        validateStatus: () => true,
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
      });
    } catch (e) {
      // The axios error carries the request config (the URL with its token): keep only its code.
      const code = (e as { code?: unknown }).code;
      const timedOut = code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED';
      const error = timedOut ? `timed out after ${timeoutMs} ms` : typeof code === 'string' ? code : 'network error';
      return { ok: false, retryable: true, error };
    }
    const text = typeof res.data === 'string' ? res.data.slice(0, 200) : '';
    if (res.status < 200 || res.status >= 300) {
      const retryable = res.status === 429 || res.status >= 500;
      return { ok: false, retryable, error: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
    }
    // Feishu, DingTalk and WeCom answer HTTP 200 even when they reject the message; the verdict is in the body.
    const refusal = bodyRefusal(res.data);
    return refusal === undefined ? { ok: true } : { ok: false, retryable: false, error: refusal };
  }

  async function deliver(target: WebhookTarget, event: AlertEvent): Promise<void> {
    let attempts = 0;
    let out: Attempt = { ok: false, retryable: false, error: 'not attempted' };
    try {
      for (;;) {
        attempts++;
        out = await attempt(target, event);
        if (out.ok || !out.retryable || attempts > retries) break;
        await sleep(FIRST_BACKOFF_MS * 2 ** (attempts - 1));
      }
    } catch (e) {
      out = { ok: false, retryable: false, error: e instanceof Error ? e.message : String(e) };
    }
    if (out.ok) {
      sent++;
      log.debug({ target: target.name, kind: event.kind, attempts }, 'alert delivered');
    } else {
      failed++;
      log.warn({ target: target.name, kind: event.kind, attempts, error: out.error }, 'alert delivery failed');
    }
  }

  async function drain(): Promise<void> {
    try {
      for (let event = queue.shift(); event !== undefined; event = queue.shift()) {
        for (const target of targets) await deliver(target, event);
      }
    } finally {
      busy = false;
      for (const resolve of idle.splice(0)) resolve();
    }
  }

  return {
    get sent() {
      return sent;
    },
    get failed() {
      return failed;
    },
    send(event) {
      if (targets.length === 0) return;
      try {
        // A dead webhook must not grow memory forever; the newest events matter most.
        if (queue.length >= maxQueue) {
          const dropped = queue.shift();
          log.warn({ kind: dropped?.kind, maxQueue }, 'alert queue full, oldest dropped');
        }
        queue.push(event);
        if (!busy) {
          busy = true;
          // An unhandled rejection would end the daemon; a throwing logger is the only way to get one here.
          Promise.resolve().then(drain).catch(() => undefined);
        }
      } catch {
        // Never into the caller: a logger that throws must not stop a reconcile cycle.
      }
    },
    flush(maxWaitMs = 10_000) {
      if (!busy && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, maxWaitMs);
        idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** The error message of a 200 answer that reports failure (Feishu `code`, DingTalk/WeCom `errcode`), if any. */
function bodyRefusal(text: unknown): string | undefined {
  let d: Record<string, unknown> | null;
  try {
    d = typeof text === 'string' ? (JSON.parse(text) as Record<string, unknown> | null) : null;
  } catch {
    return undefined; // Slack answers a plain "ok"
  }
  if (typeof d !== 'object' || d === null) return undefined;
  if (typeof d.code === 'number' && d.code !== 0) return `code ${d.code}: ${String(d.msg ?? '')}`;
  if (typeof d.errcode === 'number' && d.errcode !== 0) return `errcode ${d.errcode}: ${String(d.errmsg ?? '')}`;
  return undefined;
}
