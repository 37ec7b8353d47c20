import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import type { Logger } from 'pino';
import { readFileNoFollow, writeFileDurable } from '../platform/files.js';
import { acquireStateLock, type LockWait } from './lock.js';

/**
 * How one state shape is read and written. The store knows files, versions and locks, not what the state means:
 * the owners of each part (usage, policy, alerts) give their schemas to whoever builds the codec.
 */
export interface StateCodec<T> {
  /** The version this code writes. */
  version: number;
  empty(): T;
  /**
   * Checks a parsed file and brings an older version up to `version`. Returns the value, or why it cannot be
   * used (wrong shape, a version this code does not know).
   */
  decode(raw: unknown): { value: T; from: number } | { problem: string };
}

/** A state.json that is a symbolic link: refused, never followed (another user may have pointed it anywhere). */
export class StateFileRefused extends Error {
  constructor(readonly path: string) {
    super(`state file ${path} is a symbolic link; quota-pilot does not follow it (remove the link; a cycle moves it aside)`);
    this.name = 'StateFileRefused';
  }
}

export interface StateStore<T> {
  readonly path: string;
  readonly dir: string;
  /**
   * The writer's read, under the lock (a cycle): the stored state; an empty one when there is none, or when the
   * file cannot be trusted (then moved aside: a symlink, not JSON, a shape the codec refuses).
   */
  load(): Promise<T>;
  /**
   * The readers' read (status, report, the dashboard, run's start): the same state, but nothing is moved or written.
   * A file that cannot be trusted reads as empty and is logged; a symbolic link throws StateFileRefused.
   */
  peek(): Promise<T>;
  /** Writes the state atomically and durably; throws when it cannot (the caller must then not act on it). */
  save(state: T): Promise<void>;
  /**
   * Takes the one-writer lock of the state dir, waiting up to `waitMs` (or until `wait.signal` cancels it);
   * resolves with its release. A stale lock is broken and logged to the store's logger.
   */
  lock(command: string, waitMs: number, wait?: LockWait): Promise<() => Promise<void>>;
}

/**
 * A store at `<dir>/state.json`. A file that is a symlink, does not parse or does not fit the codec is moved aside
 * by the writer and logged, never fatal; readers leave it where it is.
 */
export function openStateStore<T>(dir: string, codec: StateCodec<T>, logger?: Logger, nowMs: () => number = Date.now): StateStore<T> {
  const path = join(dir, 'state.json');
  const setAside = async (why: string): Promise<null> => {
    // rename moves a symlink itself, never its target.
    const aside = `${path}.corrupt-${nowMs()}`;
    const moved = await rename(path, aside).then(() => true, () => false);
    logger?.error({ path, movedTo: moved ? aside : undefined, problem: why }, 'state file not usable; moved aside, rebuilding from OneAPI');
    return null;
  };
  const leave = async (why: string): Promise<null> => {
    logger?.warn({ path, problem: why }, 'state file not usable; left as it is, reading as empty');
    return null;
  };
  const read = async (unusable: (why: string) => Promise<null>, link: () => Promise<null>): Promise<T | null> => {
    let text: string;
    try {
      text = await readFileNoFollow(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'ELOOP') return link();
      throw err;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the text it choked on: never put the file's content into a log.
      return unusable('not JSON');
    }
    const got = codec.decode(raw);
    if ('problem' in got) return unusable(got.problem);
    if (got.from !== codec.version) logger?.info({ path, from: got.from, to: codec.version }, 'state file migrated');
    return got.value;
  };
  // lowdb's own JSONFile writes through one fixed temp name and never fsyncs: two writers can interleave and a power
  // cut can lose the rename. This adapter checks what it reads and writes durably; lowdb keeps the data.
  const file: Adapter<T> = {
    read: () => read(setAside, () => setAside('a symbolic link, not followed')),
    async write(state) {
      await mkdir(dir, { recursive: true });
      await writeFileDurable(path, JSON.stringify(state));
    },
  };
  return {
    path,
    dir,
    async load() {
      const db = new Low<T>(file, codec.empty());
      await db.read();
      return db.data;
    },
    async peek() {
      const got = await read(leave, () => Promise.reject(new StateFileRefused(path)));
      return got ?? codec.empty();
    },
    async save(state) {
      await new Low<T>(file, state).write();
    },
    async lock(command, waitMs, wait) {
      await mkdir(dir, { recursive: true });
      return acquireStateLock(dir, command, waitMs, { log: logger, ...wait });
    },
  };
}
