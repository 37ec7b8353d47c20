import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import type { Logger } from 'pino';
import { writeFileDurable } from './durable.js';
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

export interface StateStore<T> {
  readonly path: string;
  readonly dir: string;
  /** The stored state; an empty one when there is none, or when the file cannot be trusted (moved aside). */
  load(): Promise<T>;
  /** Writes the state atomically and durably; throws when it cannot (the caller must then not act on it). */
  save(state: T): Promise<void>;
  /**
   * Takes the one-writer lock of the state dir, waiting up to `waitMs` (or until `wait.signal` cancels it);
   * resolves with its release. A stale lock is broken and logged to the store's logger.
   */
  lock(command: string, waitMs: number, wait?: LockWait): Promise<() => Promise<void>>;
}

/** A store at `<dir>/state.json`. A file that does not parse or fit the codec is moved aside and logged, never fatal. */
export function openStateStore<T>(dir: string, codec: StateCodec<T>, logger?: Logger, nowMs: () => number = Date.now): StateStore<T> {
  const path = join(dir, 'state.json');
  const setAside = async (why: string, err?: unknown): Promise<null> => {
    const aside = `${path}.corrupt-${nowMs()}`;
    const moved = await rename(path, aside).then(() => true, () => false);
    logger?.error({ err, path, movedTo: moved ? aside : undefined, problem: why }, 'state file not usable; moved aside, rebuilding from OneAPI');
    return null;
  };
  // lowdb's own JSONFile writes through one fixed temp name and never fsyncs: two writers can interleave and a power
  // cut can lose the rename. This adapter checks what it reads and writes durably; lowdb keeps the data.
  const file: Adapter<T> = {
    async read() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        return setAside(`not JSON (${(err as Error).message})`, err);
      }
      const got = codec.decode(raw);
      if ('problem' in got) return setAside(got.problem);
      if (got.from !== codec.version) logger?.info({ path, from: got.from, to: codec.version }, 'state file migrated');
      return got.value;
    },
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
    async save(state) {
      await new Low<T>(file, state).write();
    },
    async lock(command, waitMs, wait) {
      await mkdir(dir, { recursive: true });
      return acquireStateLock(dir, command, waitMs, { log: logger, ...wait });
    },
  };
}
