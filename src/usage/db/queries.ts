import { sql, type ExpressionBuilder, type RawBuilder } from 'kysely';
import type { Flavor } from '../../oneapi/types.js';
import { MAX_TOKENS } from '../rows.js';
import { channelIn, idRanges, timeRanges, type IdRange, type TimeRange } from './chunks.js';
import type { LogDb } from './connect.js';
import type { Dialect } from './url.js';

/**
 * The columns of `logs` each flavor's reader needs (upstream model/log.go: GORM names the Go field ChannelId
 * `channel_id` in every flavor, though one-api and new-api call it `channel` in their JSON).
 */
export const NEEDED_COLUMNS: Record<Flavor, string[]> = {
  'one-api': ['id', 'created_at', 'type', 'channel_id', 'model_name', 'prompt_tokens', 'completion_tokens'],
  'new-api': ['id', 'created_at', 'type', 'channel_id', 'model_name', 'prompt_tokens', 'completion_tokens', 'other'],
  'one-hub': ['id', 'created_at', 'type', 'channel_id', 'model_name', 'prompt_tokens', 'completion_tokens'],
};

const CONSUME = 2;

/**
 * The model name budgets match: the upstream one. new-api logs the requested alias in model_name and the mapped
 * upstream name in `other` (JSON text). The LIKE test first spares a JSON parse on the many rows without a mapping;
 * PostgreSQL has no JSON validity test before 16, so a regular expression takes the value (a cast would fail the
 * whole read on one malformed `other`).
 */
function modelExpr(dialect: Dialect, flavor: Flavor): RawBuilder<string> {
  const name = modelName(dialect, flavor);
  // MySQL's default collations ignore case and trailing spaces, so GROUP BY would merge "GPT-4o" into "gpt-4o";
  // budgets match names exactly, as the API source does. Grouped as bytes, returned as a Buffer.
  return dialect === 'mysql' ? sql<string>`cast(${name} as binary)` : name;
}

function modelName(dialect: Dialect, flavor: Flavor): RawBuilder<string> {
  if (flavor !== 'new-api') return sql<string>`model_name`;
  const hasKey = sql`other like '%upstream_model_name%'`;
  const upstream =
    dialect === 'mysql'
      ? sql`case when ${hasKey} and json_valid(other) then json_unquote(json_extract(other, '$.upstream_model_name')) end`
      : dialect === 'sqlite'
        ? sql`case when ${hasKey} and json_valid(other) then json_extract(other, '$.upstream_model_name') end`
        : sql`case when ${hasKey} then substring(other from ${'"upstream_model_name"\\s*:\\s*"([^"]*)"'}) end`;
  return sql<string>`coalesce(nullif(${upstream}, ''), model_name)`;
}

/**
 * The quarantine rules of rows.ts checkRow, in SQL: token counts whole, 0..1e8 and present, a model name, a time and
 * a channel. Integer columns cannot hold fractions, but SQLite stores whatever it is given, hence typeof there.
 */
function goodExpr(dialect: Dialect): RawBuilder<boolean> {
  const tokens = (c: string) =>
    dialect === 'sqlite'
      ? sql`(typeof(${sql.ref(c)}) = 'integer' and ${sql.ref(c)} between 0 and ${sql.lit(MAX_TOKENS)})`
      : sql`coalesce(${sql.ref(c)}, -1) between 0 and ${sql.lit(MAX_TOKENS)}`;
  return sql<boolean>`(${tokens('prompt_tokens')} and ${tokens('completion_tokens')} and model_name is not null and created_at > 0 and channel_id >= 0)`;
}

/** Sums of one (channel, model, slot): slot i holds the rows with created_at in [edges[i-1], edges[i]). */
export interface SlotSum {
  channel: number;
  model: string;
  slot: number;
  tokens: number;
  requests: number;
  /** Quarantined rows with created_at ≥ `badFrom` (the ones not seen by an earlier cycle). */
  bad: number;
  /** The highest log id among the group's rows, good or bad (null when the column holds none). */
  maxId: number | null;
}

export interface SlotQuery {
  channels: number[];
  /** created_at range, inclusive, OneAPI's clock. */
  from: number;
  to: number;
  /** Ascending created_at values where slots 1, 2, … start (slot 0 starts at `from`). */
  edges: number[];
  badFrom: number;
  /**
   * Only rows with an id above this one: the rows inserted since the last cycle, whatever they are stamped with (ids
   * rise in insert order). The read then goes by the primary key (or the channel index, which holds the id too):
   * the created_at bounds are kept off their index, which would scan the whole range for a few new rows.
   */
  idAbove?: number;
}

/**
 * One indexed range scan (created_at, or the id), grouped by channel, model and slot: the database does the work, and
 * the answer has O(channels × models × slots) rows whatever the traffic. On SQLite it runs as short reads
 * (chunks.ts) whose sums add up.
 */
export async function sumSlots(db: LogDb, flavor: Flavor, q: SlotQuery): Promise<SlotSum[]> {
  if (q.channels.length === 0 || q.to < q.from) return [];
  const merged = new Map<string, SlotSum>();
  const add = (parts: SlotSum[]) => {
    for (const s of parts) {
      const key = `${s.channel}\u0000${s.model}\u0000${s.slot}`;
      const m = merged.get(key);
      if (!m) merged.set(key, s);
      else {
        m.tokens += s.tokens;
        m.requests += s.requests;
        m.bad += s.bad;
        if (s.maxId !== null && (m.maxId === null || s.maxId > m.maxId)) m.maxId = s.maxId;
      }
    }
  };
  if (q.idAbove === undefined) for await (const range of timeRanges(db, q.from, q.to)) add(await sumPart(db, flavor, q, range));
  else for (const range of idRanges(db, q.idAbove, db.dialect === 'sqlite' ? await maxLogId(db) : null)) add(await sumPart(db, flavor, q, range));
  return [...merged.values()];
}

/** One statement of sumSlots: a created_at range, or an id range whose rows are then kept to [from, to]. */
async function sumPart(db: LogDb, flavor: Flavor, q: SlotQuery, range: TimeRange | IdRange): Promise<SlotSum[]> {
  const good = goodExpr(db.dialect);
  const slot = q.edges.length === 0 ? sql<number>`0` : sql<number>`case ${sql.join(q.edges.map((e, i) => sql`when created_at < ${e} then ${sql.lit(i)}`), sql` `)} else ${sql.lit(q.edges.length)} end`;
  const rows = await db.run('sum logs', (k) =>
    k
      .selectFrom('logs')
      .select([
        'channel_id',
        modelExpr(db.dialect, flavor).as('model_key'),
        slot.as('slot'),
        sql<number>`sum(case when ${good} then prompt_tokens + completion_tokens else 0 end)`.as('tokens'),
        sql<number>`sum(case when ${good} then 1 else 0 end)`.as('requests'),
        sql<number>`sum(case when ${good} then 0 when created_at >= ${q.badFrom} then 1 else 0 end)`.as('bad'),
        sql<number>`max(id)`.as('max_id'),
      ])
      .where('type', '=', CONSUME)
      .where((w) => ('above' in range ? byId(w, range, q) : byTime(w, range)))
      .where(channelIn(db, q.channels))
      .groupBy(['channel_id', sql`model_key`, sql`slot`])
      .execute(),
  );
  return rows.map((r) => ({
    channel: Number(r.channel_id),
    model: Buffer.isBuffer(r.model_key) ? r.model_key.toString('utf8') : String(r.model_key ?? ''),
    slot: Number(r.slot),
    tokens: Number(r.tokens ?? 0),
    requests: Number(r.requests ?? 0),
    bad: Number(r.bad ?? 0),
    maxId: r.max_id === null || r.max_id === undefined ? null : Number(r.max_id),
  }));
}

type Where = ExpressionBuilder<any, 'logs'>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** On the (created_at, type) index. */
function byTime(w: Where, r: TimeRange) {
  return w.and([w('created_at', '>=', r.from), r.below === undefined ? w('created_at', '<=', r.to) : w('created_at', '<', r.below)]);
}

/**
 * On the primary key (or the channel index, which holds the id too): the created_at bounds are kept off their index,
 * which would scan the whole range for a few new rows.
 */
function byId(w: Where, r: IdRange, q: SlotQuery) {
  return w.and([w('id', '>', r.above), ...(r.upTo === undefined ? [] : [w('id', '<=', r.upTo)]), sql<boolean>`created_at + 0 between ${q.from} and ${q.to}`]);
}

/** The highest log id in the table (the primary key's last entry); null when the table is empty. */
export async function maxLogId(db: LogDb): Promise<number | null> {
  const rows = await db.run('read the newest log id', (k) => k.selectFrom('logs').select(sql<number>`max(id)`.as('max_id')).execute());
  const v = rows[0]?.max_id;
  return v === null || v === undefined ? null : Number(v);
}

/**
 * Up to `limit` quarantined rows of the range, shaped as the flavor's API sends them, so that rows.ts names the
 * field at fault exactly as it does for the API source.
 */
export async function badRows(db: LogDb, flavor: Flavor, q: { channels: number[]; from: number; to: number; limit: number }): Promise<Record<string, unknown>[]> {
  if (q.channels.length === 0 || q.to < q.from) return [];
  const rows: Record<string, unknown>[] = [];
  for await (const range of timeRanges(db, q.from, q.to)) {
    const part = await db.run('read quarantined logs', (k) =>
      k
        .selectFrom('logs')
        .select(['id', 'created_at', 'type', 'channel_id', 'model_name', 'prompt_tokens', 'completion_tokens'])
        .where('type', '=', CONSUME)
        .where((w) => byTime(w, range))
        .where(channelIn(db, q.channels))
        .where(sql<boolean>`not ${goodExpr(db.dialect)}`)
        .orderBy('created_at')
        .limit(q.limit - rows.length)
        .execute(),
    );
    rows.push(...part);
    if (rows.length >= q.limit) break;
  }
  // PostgreSQL's bigint comes as a string: make whole-number strings numbers again, leave anything else as it is.
  const num = (v: unknown) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : typeof v === 'bigint' ? Number(v) : v);
  return rows.map((r) => ({
    id: num(r.id),
    created_at: num(r.created_at),
    type: num(r.type),
    [flavor === 'one-hub' ? 'channel_id' : 'channel']: num(r.channel_id),
    model_name: r.model_name,
    prompt_tokens: num(r.prompt_tokens),
    completion_tokens: num(r.completion_tokens),
  }));
}

/** What is wrong with the database for this flavor: no `logs` table, or the columns it lacks. Empty when fine. */
export async function schemaProblems(db: LogDb, flavor: Flavor): Promise<string[]> {
  const tables = await db.run('read the schema', (k) => k.introspection.getTables());
  const logs = tables.find((t) => t.name === 'logs');
  if (!logs) return [`${db.identity} has no table "logs" visible to this user (is it OneAPI's database, and does the user have SELECT on logs?)`];
  const have = new Set(logs.columns.map((c) => c.name));
  const missing = NEEDED_COLUMNS[flavor].filter((c) => !have.has(c));
  return missing.length === 0
    ? []
    : [`${db.identity}: table "logs" has no column ${missing.map((c) => `"${c}"`).join(', ')}, which ${flavor} writes; is ONEAPI_FLAVOR right?`];
}
