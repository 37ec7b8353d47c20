/** Takes one token per request; waits (through the injected sleep) when the bucket is empty. */
export interface RateLimiter {
  acquire(): Promise<void>;
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
      await sleep(Math.ceil((1 - tokens) / perMs));
      refill();
    }
    tokens -= 1;
  };

  return {
    acquire() {
      queue = queue.then(take, take);
      return queue;
    },
  };
}
