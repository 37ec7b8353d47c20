import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { acquireStateLock, StateLockedError } from '../../src/state/lock.js';
import { FOREIGN_STALE_MS, parseProcStat, staleReason, type LockFacts, type LockOwner, type ProcessInfo } from '../../src/state/lock-stale.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const SINCE = NOW - 60_000;
const HOST = 'box-a';
const ME = 4242;

const anOwner = (o: Partial<LockOwner> = {}): LockOwner => ({ pid: 77, host: HOST, command: 'run', since: SINCE, ...o });
const running = (p: Partial<ProcessInfo> = {}) => (): ProcessInfo => ({ alive: true, ...p });

function facts(f: Partial<LockFacts>): LockFacts {
  return { owner: anOwner(), mtimeMs: NOW - 1000, nowMs: NOW, self: { pid: ME, host: HOST }, heldHere: false, probe: running({ startTicks: 500, startedAtMs: SINCE - 5000 }), ...f };
}

describe('staleReason', () => {
  const rows: Array<[string, Partial<LockFacts>, RegExp | null]> = [
    ['live holder, started before the lock, same start ticks', { owner: anOwner({ startTicks: 500 }) }, null],
    ['live holder of an older lock without start ticks, started before it', {}, null],
    ['holder pid gone', { probe: () => ({ alive: false }) }, /^pid 77 is not running$/],
    ['our own pid, not held by this process (a previous PID 1)', { owner: anOwner({ pid: ME }) }, /names our own pid 4242/],
    ['our own pid, held by this very process', { owner: anOwner({ pid: ME }), heldHere: true }, null],
    ['pid alive, but another process: start ticks differ', { owner: anOwner({ startTicks: 400 }) }, /pid 77 is another process now \(started at tick 500, the holder at tick 400\)/],
    ['pid alive, started after the lock was taken (no start ticks recorded)', { probe: running({ startTicks: 900, startedAtMs: SINCE + 30_000 }) }, /pid 77 started at 2026-03-01T11:59:30.000Z, after the lock was taken/],
    ['pid alive, started within the boot-time rounding of the lock', { probe: running({ startedAtMs: SINCE + 1500 }) }, null],
    ['pid alive, no /proc: the pid check alone', { probe: running() }, null],
    ['other host, fresh heartbeat', { owner: anOwner({ host: 'box-b' }), mtimeMs: NOW - 60_000 }, null],
    ['other host, heartbeat older than the bound', { owner: anOwner({ host: 'box-b' }), mtimeMs: NOW - FOREIGN_STALE_MS - 1000 }, /another host \(box-b\) whose heartbeat stopped 301 s ago/],
    ['other host, pid that happens to be ours: the host decides', { owner: anOwner({ host: 'box-b', pid: ME }) }, null],
    ['unreadable lock, just written', { owner: null, mtimeMs: NOW - 1000 }, null],
    ['unreadable lock, left for a while', { owner: null, mtimeMs: NOW - 10_000 }, /^unreadable lock file, unchanged for 10 s$/],
  ];
  it.each(rows)('%s', (_name, f, want) => {
    const got = staleReason(facts(f));
    if (want === null) expect(got).toBeNull();
    else expect(got).toMatch(want);
  });

  it('does not look the pid up for a lock from another host', () => {
    expect(staleReason(facts({ owner: anOwner({ host: 'box-b' }), probe: () => { throw new Error('looked up'); } }))).toBeNull();
  });
});

describe('parseProcStat', () => {
  it.each([
    ['4 (node) S 1 4 4 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 11 0 33236 1 2', { state: 'S', startTicks: 33236 }],
    ['9 (a b) c)) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 1 2', { state: 'R', startTicks: 77 }],
    ['garbage', null],
  ])('%s', (line, want) => expect(parseProcStat(line)).toEqual(want));
});

describe('acquireStateLock: stale locks and cancelled waits', () => {
  const dir = () => mkdtemp(join(tmpdir(), 'qp-lock-'));

  it('breaks a lock naming our own pid, and logs who held it and why', async () => {
    const d = await dir();
    await writeFile(join(d, 'state.lock'), JSON.stringify({ pid: process.pid, host: hostname(), command: 'run', since: 1 }));
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const release = await acquireStateLock(d, 'once', 0, { log });
    expect(lines).toMatchObject([{ level: 40, msg: 'stale state lock broken', holder: { pid: process.pid, command: 'run', since: 1 }, reason: expect.stringMatching(/names our own pid/) }]);
    expect(JSON.parse(await readFile(join(d, 'state.lock'), 'utf8'))).toMatchObject({ pid: process.pid, command: 'once', startTicks: expect.any(Number) });
    await release();
  });

  it('a wait is cancelled by its signal, promptly, and says so', async () => {
    const d = await dir();
    const release = await acquireStateLock(d, 'run', 0);
    const ac = new AbortController();
    const blocked: unknown[] = [];
    setTimeout(() => ac.abort('SIGTERM'), 300);
    const t0 = Date.now();
    const err = await acquireStateLock(d, 'once', 60_000, { signal: ac.signal, onBlocked: (o) => blocked.push(o) }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(err).toBeInstanceOf(StateLockedError);
    expect(err).toMatchObject({ cancelled: 'SIGTERM', message: expect.stringMatching(/locked by quota-pilot run .*; stopped waiting after 0 s \(SIGTERM\)/) });
    expect(blocked[0]).toMatchObject({ pid: process.pid, command: 'run' });
    await release();
  });
});
