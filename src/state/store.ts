import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import type { Logger } from 'pino';
import { emptyAlertMemory, type AlertMemory } from '../events/detect.js';
import type { Channel } from '../oneapi/types.js';
import type { PaceLog } from '../usage/burn.js';
import { emptyUsage, type UsageState } from '../usage/ingest.js';

/** What the policy remembers between cycles. */
export interface Memory {
  /** When the nightly reset last ran (unix seconds); null before the first cycle. */
  lastResetAt: number | null;
  /** Budget key -> start of the window in which its warning was given. */
  warned: Record<string, number>;
  /** Channel id -> when quota-pilot demoted it, so it can be restored when the quota renews. */
  demoted: Record<string, { at: number; reason: string }>;
}

export interface CycleRecord {
  /** Unix seconds. */
  at: number;
  ok: boolean;
  durationMs: number;
  changes: number;
  error?: string;
}

/** The state file. Safe to lose: it only saves re-reading logs and remembers warnings and demotions. */
export interface State {
  version: 1;
  usage: UsageState;
  memory: Memory;
  /** What alerting has announced (added in 0.2; filled in when missing). */
  alerts: AlertMemory;
  /** Channel id -> name as OneAPI last listed them, so reports can name channels without asking OneAPI. */
  channelNames: Record<string, string>;
  /** Each budget's use over the last hour, for burn rates. */
  pace: PaceLog;
  lastCycle: CycleRecord | null;
  lastSuccessAt: number | null;
}

/** The channels the last cycle saw, as far as names go (priority and status are not remembered). */
export function rememberedChannels(state: State): Channel[] {
  return Object.entries(state.channelNames).map(([id, name]) => ({ id: Number(id), name, priority: 0, status: 1, models: [] }));
}

export function emptyState(): State {
  return {
    version: 1,
    usage: emptyUsage(),
    memory: { lastResetAt: null, warned: {}, demoted: {} },
    alerts: emptyAlertMemory(),
    channelNames: {},
    pace: {},
    lastCycle: null,
    lastSuccessAt: null,
  };
}

export interface StateStore {
  readonly path: string;
  load(): Promise<State>;
  save(state: State): Promise<void>;
}

/**
 * A lowdb-backed store at <dir>/state.json. A corrupt or foreign file is moved aside and replaced, never fatal.
 * The adapter is injectable because lowdb's presets swap in memory storage under NODE_ENV=test.
 */
export function openStateStore(dir: string, logger?: Logger, adapter?: Adapter<State>): StateStore {
  const path = join(dir, 'state.json');
  const db = new Low<State>(adapter ?? new JSONFile<State>(path), emptyState());
  return {
    path,
    async load() {
      try {
        await db.read();
      } catch (err) {
        const aside = `${path}.corrupt-${Date.now()}`;
        logger?.warn({ err, path, movedTo: aside }, 'state file unreadable, starting afresh');
        await rename(path, aside).catch(() => undefined);
        db.data = emptyState();
      }
      if (!isState(db.data)) {
        logger?.warn({ path }, 'state file has an unknown shape, starting afresh');
        db.data = emptyState();
      }
      db.data.alerts ??= emptyAlertMemory();
      db.data.channelNames ??= {};
      db.data.pace ??= {};
      return structuredClone(db.data);
    },
    async save(state) {
      await mkdir(dir, { recursive: true });
      db.data = state;
      await db.write();
    },
  };
}

function isState(x: unknown): x is State {
  const s = x as State | null;
  return !!s && s.version === 1 && !!s.usage && Array.isArray(s.usage.buckets) && !!s.memory && !!s.memory.warned;
}
