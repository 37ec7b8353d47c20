import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** Who holds the state lock, as written in the lock file. */
export interface LockOwner {
  pid: number;
  host: string;
  /** The command holding it: "run", "once", "reset". */
  command: string;
  /** Unix ms when taken. */
  since: number;
}

/** The state dir is locked by another quota-pilot process and stayed so for as long as we waited. */
export class StateLockedError extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockOwner | null,
    waitedMs: number,
  ) {
    const who = owner ? `quota-pilot ${owner.command} (pid ${owner.pid} on ${owner.host}, since ${new Date(owner.since).toISOString()})` : 'another process';
    const advice =
      owner?.command === 'run'
        ? 'the daemon is using this state dir: its cycles already do what `once` does; use `status` to look, or stop the daemon first'
        : 'wait for it to finish, then try again';
    super(`state dir is locked by ${who}; waited ${Math.round(waitedMs / 1000)} s (${path}): ${advice}`);
    this.name = 'StateLockedError';
  }
}

const LOCK = 'state.lock';
const POLL_MS = 100;

/**
 * Takes the state dir's writer lock: `<dir>/state.lock`, created exclusively and naming its owner. A lock whose
 * owner process is gone (same host, pid not alive) is stale and taken over. Waits up to `waitMs` for a live owner
 * to let go. Returns the function that releases it.
 */
export async function acquireStateLock(dir: string, command: string, waitMs: number, nowMs: () => number = Date.now): Promise<() => Promise<void>> {
  const path = join(dir, LOCK);
  const started = nowMs();
  const me: LockOwner = { pid: process.pid, host: hostname(), command, since: started };
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      return async () => {
        // Only remove our own lock (never one a stale-lock breaker gave to someone else).
        const owner = await readOwner(path);
        if (owner?.pid === me.pid && owner.since === me.since) await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(path);
    if (await isStale(path, owner)) {
      await breakLock(path, owner);
      continue;
    }
    if (nowMs() - started >= waitMs) throw new StateLockedError(path, owner, nowMs() - started);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    return typeof o?.pid === 'number' ? o : null;
  } catch {
    return null;
  }
}

async function isStale(path: string, owner: LockOwner | null): Promise<boolean> {
  if (owner === null) {
    // Unreadable or half-written: its writer is between open and write, or died there. Give it a few seconds.
    const st = await stat(path).catch(() => null);
    return st !== null && Date.now() - st.mtimeMs > 5000;
  }
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Moves a stale lock aside under a unique name, then checks that what moved is the stale one: if another process
 * broke it first and took a fresh lock, that fresh lock is what we moved, and it is put back.
 */
async function breakLock(path: string, stale: LockOwner | null): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${Date.now()}`;
  try {
    await rename(path, aside);
  } catch {
    return; // already gone: someone else broke it
  }
  const moved = await readOwner(aside);
  if (moved && stale && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    // link, not rename: never overwrite a lock a third process may have taken meanwhile.
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return;
  }
  await unlink(aside).catch(() => undefined);
}
