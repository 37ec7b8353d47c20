/** Takes one token per request; waits (through the injected sleep) when the bucket is empty. */
export interface RateLimiter {
  acquire(): Promise<void>;
  /** Empties the bucket (after a 429: the server's window is full, so no burst either). */
  drain(): void;
  /** Total ms callers have waited for a token. */
  readonly waitedMs: number;
}

/**
 * A token bucket: `burst` requests at once, then `perMinute` spread evenly.
 * Callers are served one after another, so concurrent requests queue instead of racing for tokens.
 */
export function createRateLimiter(
  perMinute: number,
  burst: number,
  now: () => number,
  sleep: (ms: number) => Promise<void>,
): RateLimiter {
  const perMs = perMinute / 60_000;
  let tokens = burst;
  let last = now();
  let queue: Promise<void> = Promise.resolve();
  let waitedMs = 0;

  const refill = (): void => {
    const t = now();
    tokens = Math.min(burst, tokens + Math.max(0, t - last) * perMs);
    last = t;
  };

  // One wait, then the token is taken even if the clock did not move (a test's no-op sleep):
  // the bucket goes into debt rather than spinning on a clock that never advances.
  const take = async (): Promise<void> => {
    refill();
    if (tokens < 1) {
      const ms = Math.ceil((1 - tokens) / perMs);
      waitedMs += ms;
      await sleep(ms);
      refill();
    }
    tokens -= 1;
  };

  return {
    acquire() {
      queue = queue.then(take, take);
      return queue;
    },
    drain() {
      refill();
      tokens = Math.min(tokens, 0);
    },
    get waitedMs() {
      return waitedMs;
    },
  };
}
