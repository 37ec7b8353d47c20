import { z } from '../platform/zod.js';
import { alertMemorySchema, emptyAlertMemory } from '../events/memory.js';
import type { Channel } from '../oneapi/types.js';
import { emptyMemory, memorySchema } from '../policy/memory.js';
import { delayLogSchema, emptyDelayLog } from '../policy/routing-delay.js';
import type { StateCodec } from '../state/store.js';
import { isNum, isStr, recordOf } from '../platform/checks.js';
import type { PaceLog } from '../usage/burn.js';
import { emptyUsage, type UsageState } from '../usage/ingest.js';
import { paceLogSchema, usageStateSchema } from '../usage/schema.js';

/** The version of the state file this code writes. */
export const STATE_VERSION = 3;

const cycleRecord = z.object({ at: z.number(), ok: z.boolean(), durationMs: z.number(), changes: z.number(), error: z.string().optional() });

/**
 * The state file, version 3. Safe to lose: it saves re-reading logs and remembers warnings, demotions and alerts;
 * priorities are always read from OneAPI. Each part belongs to the module that interprets it.
 */
const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  usage: usageStateSchema,
  memory: memorySchema,
  alerts: alertMemorySchema,
  /** Channel id -> name as OneAPI last listed them, so reports can name channels without asking OneAPI. */
  channelNames: recordOf<string>(isStr, 'a string'),
  /** Each budget's use over the last hour, for burn rates. */
  pace: paceLogSchema,
  lastCycle: cycleRecord.nullable(),
  lastSuccessAt: z.number().nullable(),
  /** The routing delay measured per OneAPI instance (policy/routing-delay.ts); absent in older files. */
  routing: delayLogSchema.default(emptyDelayLog),
  /** Windows already computed (see calendarSnapshot in usage/windows.ts); checked entry by entry when restored. */
  calendar: z.unknown().optional(),
});

/** The usage and pace parts are typed by their owners; the schema checks what a cycle computes with. */
export type State = Omit<z.infer<typeof stateSchema>, 'usage' | 'pace'> & { usage: UsageState; pace: PaceLog };
export type CycleRecord = z.infer<typeof cycleRecord>;

export function emptyState(): State {
  return {
    version: STATE_VERSION,
    usage: emptyUsage(),
    memory: emptyMemory(),
    alerts: emptyAlertMemory(),
    channelNames: {},
    pace: {},
    routing: emptyDelayLog(),
    lastCycle: null,
    lastSuccessAt: null,
  };
}

type Raw = Record<string, unknown>;

/** Migrations: MIGRATIONS[n] turns a version-n file into version n+1. */
const MIGRATIONS: Record<number, (s: Raw) => Raw> = {
  // 1 -> 2: alerts, channelNames and pace were added during 0.x and may be missing; memory.windows is new.
  1: (s) => ({
    ...s,
    version: 2,
    alerts: s.alerts ?? emptyAlertMemory(),
    channelNames: s.channelNames ?? {},
    pace: s.pace ?? {},
    memory: typeof s.memory === 'object' && s.memory !== null ? { windows: {}, ...(s.memory as Raw) } : s.memory,
  }),
  // 2 -> 3: each budget's pace samples ({at, used, windowStart} objects) become one track of parallel arrays, its
  // times counted from the window's start.
  2: (s) => ({ ...s, version: 3, pace: isRecord(s.pace) ? mapValues(s.pace, paceTrackOf) : s.pace }),
};

const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function mapValues(r: Raw, f: (v: unknown) => unknown): Raw {
  const out: Raw = {};
  for (const k in r) out[k] = f(r[k]);
  return out;
}

/**
 * A version-2 sample list as a track: the samples of the newest one's window, in time order, one per second (the later one). Other
 * values are left as they are, for the check to name.
 */
function paceTrackOf(v: unknown): unknown {
  if (!Array.isArray(v) || !v.every((p) => isRecord(p) && isNum(p.at) && isNum(p.used) && isNum(p.windowStart))) return v;
  const samples = v as Array<{ at: number; used: number; windowStart: number }>;
  const windowStart = samples.length > 0 ? samples[samples.length - 1].windowStart : 0;
  const track = { windowStart, at: [] as number[], used: [] as number[] };
  for (const p of samples.filter((x) => x.windowStart === windowStart).sort((a, b) => a.at - b.at)) {
    if (track.at.length > 0 && track.at[track.at.length - 1] === p.at - windowStart) track.used[track.used.length - 1] = p.used;
    else {
      track.at.push(p.at - windowStart);
      track.used.push(p.used);
    }
  }
  return track;
}

/** Validates a parsed state file, migrating older versions; a future version is refused (it may mean other things). */
export const stateCodec: StateCodec<State> = {
  version: STATE_VERSION,
  empty: emptyState,
  decode(raw) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: 'not a JSON object' };
    const from = (raw as Raw).version;
    if (typeof from !== 'number' || !Number.isInteger(from) || from < 1) return { problem: `no valid version (got ${JSON.stringify(from)})` };
    if (from > STATE_VERSION) return { problem: `written by a newer quota-pilot (version ${from}; this one reads up to ${STATE_VERSION})` };
    let s = raw as Raw;
    for (let v = from; v < STATE_VERSION; v++) s = MIGRATIONS[v](s);
    const parsed = stateSchema.safeParse(s);
    if (!parsed.success) {
      const first = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      return { problem: `wrong shape: ${first.join('; ')}${parsed.error.issues.length > 3 ? ` (+${parsed.error.issues.length - 3} more)` : ''}` };
    }
    return { value: parsed.data as unknown as State, from };
  },
};

/** The channels the last cycle saw, as far as names go (priority and status are not remembered). */
export function rememberedChannels(state: State): Channel[] {
  return Object.entries(state.channelNames).map(([id, name]) => ({ id: Number(id), name, priority: 0, status: 1, models: [] }));
}
