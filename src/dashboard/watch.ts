import type { AlertEvent } from '../events/types.js';
import type { Channel, OneApiClient } from '../oneapi/types.js';
import type { Change } from '../reconcile/apply.js';
import type { CycleResult } from '../reconcile/cycle.js';

/** A priority change as the page lists it; `planned` in a dry run. Times in unix seconds. */
export interface ChangeRecord extends Change {
  at: number;
  planned: boolean;
}

/**
 * What the daemon's cycles saw, kept for the dashboard so that viewing the page sends no request to OneAPI: the
 * channels as last listed (with this cycle's confirmed writes applied), and the last priority changes and alerts.
 * The lists live in memory and start empty when the daemon starts.
 */
export class CycleWatch {
  private channels: Channel[] | null = null;
  private error: string | null = null;
  private readonly changeLog: ChangeRecord[] = [];
  private readonly alertLog: AlertEvent[] = [];
  /** Channel listings so far, successful or not: what `live()` and `listed()` show changes only with it. */
  listings = 0;

  constructor(private readonly keep = 20) {}

  /**
   * The client, with its channel listings remembered. A Proxy rather than a copy, so that every other member (and
   * any the client gains) stays the client's own, getters such as requestCount included.
   */
  wrap(client: OneApiClient): OneApiClient {
    const listChannels = async () => {
      try {
        const channels = await client.listChannels();
        this.channels = channels.map((c) => ({ ...c }));
        this.error = null;
        return channels;
      } catch (err) {
        this.error = (err as Error).message;
        throw err;
      } finally {
        this.listings++;
      }
    };
    return new Proxy(client, {
      get: (target, prop) => {
        if (prop === 'listChannels') return listChannels;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }

  /** After each cycle: the writes it confirmed change what the channels look like now. */
  onCycle(r: CycleResult, atMs: number, dryRun: boolean): void {
    for (const c of r.applied) {
      const ch = this.channels?.find((x) => x.id === c.id);
      if (ch) ch.priority = c.to;
    }
    const at = Math.floor(atMs / 1000);
    const shown = dryRun ? r.changes : r.applied;
    this.changeLog.unshift(...shown.map((c) => ({ ...c, at, planned: dryRun })).reverse());
    this.changeLog.splice(this.keep);
  }

  onAlert(e: AlertEvent): void {
    this.alertLog.unshift(e);
    this.alertLog.splice(this.keep);
  }

  /** The channels as `status` wants them: the last listing, or why there is none. */
  live(): { channels: Channel[] } | { error: string } {
    if (this.error !== null) return { error: this.error };
    if (this.channels === null) return { error: 'not read yet (the first cycle is running)' };
    return { channels: this.channels.map((c) => ({ ...c })) };
  }

  /** The channels as last listed, when the last listing succeeded. */
  listed(): Channel[] | undefined {
    return this.error === null && this.channels ? this.channels.map((c) => ({ ...c })) : undefined;
  }

  /** Newest first. */
  changes(): ChangeRecord[] {
    return [...this.changeLog];
  }

  /** Newest first. */
  alerts(): AlertEvent[] {
    return [...this.alertLog];
  }
}
