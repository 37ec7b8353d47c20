import { link, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { HEARTBEAT_MS, probeProcess, staleReason, type LockOwner, type ProcessInfo } from './lock-stale.js';

export type { LockOwner } from './lock-stale.js';

/** The state dir is locked by another quota-pilot process and stayed so for as long as we waited. */
export class StateLockedError extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockOwner | null,
    waitedMs: number,
    /** Set when the wait was cancelled (SIGTERM, SIGINT) rather than timed out: the reason given. */
    readonly cancelled?: string,
  ) {
    const who = owner ? `quota-pilot ${owner.command} (pid ${owner.pid} on ${owner.host}, since ${new Date(owner.since).toISOString()})` : 'another process';
    const advice =
      owner?.command === 'run'
        ? 'the daemon is using this state dir: its cycles already do what `once` does; use `status` to look, or stop the daemon first'
        : 'wait for it to finish, then try again';
    const waited = Math.round(waitedMs / 1000);
    super(
      cancelled
        ? `state dir is locked by ${who}; stopped waiting after ${waited} s (${cancelled}) (${path})`
        : `state dir is locked by ${who}; waited ${waited} s (${path}): ${advice}`,
    );
    this.name = 'StateLockedError';
  }
}

const LOCK = 'state.lock';
const POLL_MS = 100;

/** How a lock is waited for. */
export interface LockWait {
  /** Cancels the wait: the promise rejects with a StateLockedError whose `cancelled` is the signal's reason. */
  signal?: AbortSignal;
  /** Called at each poll while a live holder keeps the lock (null: a lock file that does not parse yet). */
  onBlocked?: (owner: LockOwner | null) => void;
  /** Where a broken stale lock is reported. */
  log?: Logger;
  nowMs?: () => number;
  /** Looks a pid up (tests inject one); /proc by default. */
  probe?: (pid: number) => ProcessInfo;
}

// Locks this process holds now, so that a second acquire in the same process waits instead of judging its own
// pid stale.
const heldHere = new Set<string>();
const heldKey = (path: string, o: LockOwner) => `${path}\0${o.pid}\0${o.since}`;

/**
 * Takes the state dir's writer lock: `<dir>/state.lock`, created exclusively and naming its owner (with its start
 * time from /proc, so a later process with the same pid is told apart). A stale lock (see staleReason) is broken
 * and logged. Waits up to `waitMs` for a live holder to let go. While held, the lock's mtime is refreshed every
 * HEARTBEAT_MS, which is how another host sharing the dir tells a live holder from a dead one. Returns the release.
 */
export async function acquireStateLock(dir: string, command: string, waitMs: number, wait: LockWait = {}): Promise<() => Promise<void>> {
  const { signal, log, nowMs = Date.now, probe = probeProcess } = wait;
  const path = join(dir, LOCK);
  const started = nowMs();
  const me: LockOwner = { pid: process.pid, host: hostname(), command, since: started, startTicks: probe(process.pid).startTicks };
  let owner: LockOwner | null = null;
  for (;;) {
    if (signal?.aborted) throw new StateLockedError(path, owner, nowMs() - started, String(signal.reason));
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      return holding(path, me);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    owner = await readOwner(path);
    const st = await stat(path).catch(() => null);
    if (st === null) continue; // let go meanwhile
    const reason = staleReason({ owner, mtimeMs: st.mtimeMs, nowMs: nowMs(), self: { pid: me.pid, host: me.host }, heldHere: owner !== null && heldHere.has(heldKey(path, owner)), probe });
    if (reason !== null) {
      if (await breakLock(path, owner)) log?.warn({ path, holder: owner, reason }, 'stale state lock broken');
      continue;
    }
    wait.onBlocked?.(owner);
    if (nowMs() - started >= waitMs) throw new StateLockedError(path, owner, nowMs() - started);
    await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
  }
}

/** The lock is ours: beat its heartbeat until released; release removes only our own lock. */
function holding(path: string, me: LockOwner): () => Promise<void> {
  const key = heldKey(path, me);
  heldHere.add(key);
  const ours = async () => {
    const o = await readOwner(path);
    return o?.pid === me.pid && o.since === me.since;
  };
  const beat = setInterval(() => {
    void ours().then((yes) => (yes ? utimes(path, new Date(), new Date()) : undefined)).catch(() => undefined);
  }, HEARTBEAT_MS);
  beat.unref();
  return async () => {
    clearInterval(beat);
    heldHere.delete(key);
    // Only remove our own lock (never one a stale-lock breaker gave to someone else).
    if (await ours()) await unlink(path).catch(() => undefined);
  };
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    return typeof o?.pid === 'number' ? o : null;
  } catch {
    return null;
  }
}

/**
 * Moves a stale lock aside under a unique name, then checks that what moved is the stale one: if another process
 * broke it first and took a fresh lock, that fresh lock is what we moved, and it is put back. True when the stale
 * one was removed by us.
 */
async function breakLock(path: string, stale: LockOwner | null): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}-${Date.now()}`;
  try {
    await rename(path, aside);
  } catch {
    return false; // already gone: someone else broke it
  }
  const moved = await readOwner(aside);
  if (moved && stale && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    // link, not rename: never overwrite a lock a third process may have taken meanwhile.
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return false;
  }
  await unlink(aside).catch(() => undefined);
  return true;
}
