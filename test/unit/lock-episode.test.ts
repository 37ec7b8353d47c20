import { describe, expect, it } from '@jest/globals';
import { LockEpisode } from '../../src/schedule/lock-episode.js';
import type { LockOwner } from '../../src/state/lock.js';

const T0 = Date.parse('2026-11-24T07:00:00Z');
const holder: LockOwner = { pid: 12, host: 'box', command: 'once', since: T0 - 600_000 };

describe('LockEpisode (interval 60 s)', () => {
  it('reports nothing while the wait is within the interval', () => {
    const e = new LockEpisode(60_000);
    expect(e.blocked(holder, T0)).toBeNull();
    expect(e.blocked(holder, T0 + 60_000)).toBeNull();
    expect(e.current(T0 + 60_000)).toBeNull();
    expect(e.obtained(T0 + 61_000)).toBeNull(); // never reported: no recovery line
  });

  it('alerts once per episode past the interval, reports it for /healthz, and ends it when the lock is obtained', () => {
    const e = new LockEpisode(60_000);
    e.blocked(holder, T0);
    expect(e.blocked(holder, T0 + 61_000)).toEqual({
      kind: 'state-locked', severity: 'critical', at: Math.floor((T0 + 61_000) / 1000), title: 'State dir locked for 61 s',
      text: 'The state lock is held by quota-pilot once (pid 12 on box, since 2026-11-24T06:50:00.000Z); no cycle runs and no priority is changed until it is released. If that process is not quota-pilot\'s, stop it or remove state.lock.',
      fields: { waitedSeconds: 61, waitingSince: T0 / 1000, pid: 12, host: 'box', command: 'once', heldSince: (T0 - 600_000) / 1000 },
    });
    expect(e.blocked(holder, T0 + 700_000)).toBeNull(); // a later cycle's wait, same episode
    expect(e.current(T0 + 700_000)).toEqual({ holder, waitingSince: T0 });
    expect(e.obtained(T0 + 720_000)).toEqual({ waitedMs: 720_000, holder });
    expect(e.current(T0 + 720_000)).toBeNull();
    // A new episode alerts again.
    e.blocked(null, T0 + 800_000);
    expect(e.blocked(null, T0 + 900_000)).toMatchObject({ kind: 'state-locked', fields: { pid: null, waitedSeconds: 100 } });
  });
});
