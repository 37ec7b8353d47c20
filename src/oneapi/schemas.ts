// Channel answers are checked with plain code, like log pages: a 500-channel list through zod cost ~5 ms and 1 MB
// of garbage every cycle. Only the fields quota-pilot reads are copied out of a row, so the secret `key` (sent in
// clear by one-hub's GET /api/channel/:id and tag list, and by one-api's PUT answer) never survives checking.
// A check throws an Error naming the first bad place (`data.items.3.priority: expected an integer, got "high"`).

/** A channel row as every flavor sends it; a null priority (old rows) reads as 0. */
export interface ChannelRow {
  id: number;
  name: string;
  priority: number;
  status: number;
  models: string | null;
  /** one-hub only: the tag its list collapses on (null elsewhere). */
  tag: string | null;
}

/** Checks one row found at `where`; returns what quota-pilot keeps of it. */
export type RowCheck<R> = (raw: unknown, where: string) => R;

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNullish = (v: unknown): v is null | undefined => v === null || v === undefined;

function bad(where: string, what: string, got: unknown): never {
  throw new Error(`${where}: expected ${what}, got ${JSON.stringify(got) ?? 'nothing'}`);
}

function record(v: unknown, where: string, what = 'an object'): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(where, what, v);
  return v as Record<string, unknown>;
}

function row(raw: unknown, where: string, withTag: boolean): ChannelRow {
  const r = record(raw, where, 'a channel');
  const { id, name, priority, status, models, tag } = r;
  if (!isInt(id)) bad(`${where}.id`, 'an integer', id);
  if (typeof name !== 'string') bad(`${where}.name`, 'a string', name);
  if (!isInt(priority) && !isNullish(priority)) bad(`${where}.priority`, 'an integer or null', priority);
  if (!isInt(status)) bad(`${where}.status`, 'an integer', status);
  if (typeof models !== 'string' && !isNullish(models)) bad(`${where}.models`, 'a string or null', models);
  if (withTag && typeof tag !== 'string' && !isNullish(tag)) bad(`${where}.tag`, 'a string or null', tag);
  return { id, name, priority: priority ?? 0, status, models: models ?? null, tag: withTag ? ((tag as string | null | undefined) ?? null) : null };
}

/** A channel row (one-api, new-api). */
export const channelRow: RowCheck<ChannelRow> = (raw, where) => row(raw, where, false);
/** one-hub's channel row: also the tag its list collapses on. */
export const oneHubChannelRow: RowCheck<ChannelRow> = (raw, where) => row(raw, where, true);

/** An array of rows at `where`; Go serialises an empty slice that was never allocated as null, meaning "no rows". */
function rows<R>(v: unknown, where: string, check: RowCheck<R>): R[] {
  if (isNullish(v)) return [];
  if (!Array.isArray(v)) bad(where, 'an array of rows', v);
  const out = new Array<R>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = check(v[i], `${where}.${i}`);
  return out;
}

/** A plain array of rows (one-api lists, one-api searches, classic new-api pages). */
export const plainPage =
  <R>(check: RowCheck<R>) =>
  (data: unknown): R[] =>
    rows(data, 'data', check);

/** A new-api page: a plain array (classic, p 0-based) or {items, total, page?, page_size?} (newer, p 1-based). */
export interface NewApiPage<R> {
  items: R[];
  total: number;
  page?: number;
  page_size?: number;
}
export const newApiPage =
  <R>(check: RowCheck<R>) =>
  (data: unknown): R[] | NewApiPage<R> => {
    if (isNullish(data) || Array.isArray(data)) return rows(data, 'data', check);
    const o = record(data, 'data', 'an array or {items, total}');
    if (!isInt(o.total)) bad('data.total', 'an integer', o.total);
    if (o.page !== undefined && !isInt(o.page)) bad('data.page', 'an integer', o.page);
    if (o.page_size !== undefined && !isInt(o.page_size)) bad('data.page_size', 'an integer', o.page_size);
    return { items: rows(o.items, 'data.items', check), total: o.total, page: o.page as number | undefined, page_size: o.page_size as number | undefined };
  };

/** A one-hub page: {data, page, size, total_count}. */
export const oneHubPage =
  <R>(check: RowCheck<R>) =>
  (data: unknown): { data: R[]; total_count: number } => {
    const o = record(data, 'data', '{data, total_count}');
    if (!isInt(o.total_count)) bad('data.total_count', 'an integer', o.total_count);
    return { data: rows(o.data, 'data.data', check), total_count: o.total_count };
  };

/** one-hub's tag list; its shape is unverified, so a plain array, {data} and {items} are all accepted. */
export const tagList =
  <R>(check: RowCheck<R>) =>
  (data: unknown): R[] => {
    if (isNullish(data) || Array.isArray(data)) return rows(data, 'data', check);
    const o = record(data, 'data', 'an array, {data} or {items}');
    if ('data' in o) return rows(o.data, 'data.data', check);
    if ('items' in o) return rows(o.items, 'data.items', check);
    return bad('data', 'an array, {data} or {items}', data);
  };

/** Answers whose data is not used (the PUT echoes the channel, key included: it is never read). */
export const ignored = (): null => null;

/** Model names the channel serves (OneAPI's comma-separated `models`), trimmed, empty entries dropped. */
export function splitModels(s: string | null | undefined): string[] {
  return (s ?? '').split(',').map((m) => m.trim()).filter(Boolean);
}
