import type { RoutingOptions, SimChannel } from './types.js';

interface Cached {
  id: number;
  priority: number;
  models: string[];
}

/**
 * OneAPI's priority routing through a channel cache (one-api's memory cache, a new-api/one-hub node's copy):
 * the cache is a snapshot of the enabled channels taken at instants phaseSec + k * cacheSec; a request goes to
 * a channel of the highest priority in the snapshot that serves its model, chosen at random among ties.
 */
export class PriorityRouter {
  private readonly cacheSec: number;
  private readonly phaseSec: number;
  private readonly random: () => number;
  private snapshot: Cached[] = [];
  private epoch: number | undefined;

  constructor(
    private readonly channels: () => readonly SimChannel[],
    opts: RoutingOptions = {},
  ) {
    if (opts.cacheSec !== undefined && !(opts.cacheSec >= 0)) throw new RangeError(`routing.cacheSec must be >= 0, got ${opts.cacheSec}`);
    this.cacheSec = opts.cacheSec ?? 0;
    this.phaseSec = opts.phaseSec ?? 0;
    this.random = mulberry32(opts.seed ?? 1);
  }

  /** The channel id a request for `model` at `at` (unix seconds) goes to, or undefined when none serves it. */
  pick(model: string, at: number): number | undefined {
    const seen = this.view(at);
    let best: number[] = [];
    let top = -Infinity;
    for (const c of seen) {
      if (!c.models.includes(model)) continue;
      if (c.priority > top) {
        top = c.priority;
        best = [c.id];
      } else if (c.priority === top) {
        best.push(c.id);
      }
    }
    if (best.length === 0) return undefined;
    return best.length === 1 ? best[0] : best[Math.floor(this.random() * best.length)];
  }

  /** The channels as the cache shows them at `at`, refreshed lazily when a refresh instant has passed. */
  private view(at: number): Cached[] {
    if (this.cacheSec === 0) return snapshot(this.channels());
    const epoch = Math.floor((at - this.phaseSec) / this.cacheSec);
    if (epoch !== this.epoch) {
      this.snapshot = snapshot(this.channels());
      this.epoch = epoch;
    }
    return this.snapshot;
  }
}

/** The enabled channels, copied (a null priority routes as 0, as the servers read it). */
function snapshot(channels: readonly SimChannel[]): Cached[] {
  return channels
    .filter((c) => c.status === 1)
    .map((c) => ({ id: c.id, priority: c.priority ?? 0, models: (c.models ?? '').split(',').map((m) => m.trim()) }));
}

/** A small seedable PRNG (mulberry32): the same seed gives the same tie-breaks. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
