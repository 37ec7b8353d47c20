import type { SimLog } from './types.js';

/** The log columns the list endpoints filter and order on. */
export type LogField = 'id' | 'created_at' | 'channel' | 'user_id' | 'token_name' | 'model_name' | 'type' | 'source_ip' | 'request_id';

/** One `ORDER BY` term. */
export interface OrderKey {
  field: LogField;
  desc: boolean;
}

/** `ORDER BY id DESC`: one-api, one-hub's default, new-api before 2026-05-30. */
export const ID_DESC: readonly OrderKey[] = [{ field: 'id', desc: true }];
/** new-api since 2026-05-30: `created_at desc, id desc`. */
export const CREATED_ID_DESC: readonly OrderKey[] = [
  { field: 'created_at', desc: true },
  { field: 'id', desc: true },
];
/** new-api with a ClickHouse log store: `created_at desc, request_id desc`. */
export const CREATED_REQUEST_DESC: readonly OrderKey[] = [
  { field: 'created_at', desc: true },
  { field: 'request_id', desc: true },
];

/**
 * The request_id a row shows unless it was given one: like upstream's GetTimeString() + 8 random characters
 * (time to the second, a 9-digit counter, a suffix), derived from id and created_at so re-reads agree and ids
 * differ. Within one second it sorts as the id does.
 */
export function defaultRequestId(id: number, createdAt: number): string {
  const stamp = timeString(createdAt);
  let h = (id * 2654435761) >>> 0;
  let suffix = '';
  for (let i = 0; i < 8; i++) {
    h = (Math.imul(h ^ (h >>> 15), 2246822519) + i) >>> 0;
    suffix += ALNUM[h % ALNUM.length];
  }
  return `${stamp}${String(id).padStart(9, '0')}${suffix}`;
}
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

// yyyyMMddHHmmss (UTC) of a unix second; the day part is cached, as pages hold rows of few distinct days.
let cachedDay = NaN;
let cachedDayText = '';
function timeString(sec: number): string {
  const day = Math.floor(sec / 86400);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDayText = new Date(day * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
  }
  const s = sec - day * 86400;
  const two = (n: number) => (n < 10 ? '0' : '') + n;
  return cachedDayText + two(Math.floor(s / 3600)) + two(Math.floor(s / 60) % 60) + two(s % 60);
}

/** The request_id a stored row renders with. */
export function requestIdOf(log: SimLog): string {
  return log.request_id ?? defaultRequestId(log.id ?? 0, log.created_at);
}

/** A column's value as the database would compare it. */
export function fieldOf(log: SimLog, field: LogField): string | number {
  switch (field) {
    case 'id':
      return log.id ?? 0;
    case 'created_at':
      return log.created_at;
    case 'channel':
      return log.channel;
    case 'user_id':
      return 1;
    case 'token_name':
      return log.token_name ?? 'default';
    case 'model_name':
      return log.model_name;
    case 'type':
      return log.type ?? 2;
    case 'source_ip':
      return '';
    case 'request_id':
      return requestIdOf(log);
  }
}

/**
 * A total order for result rows (negative: `a` is served before `b`). Ties on the given keys fall back to
 * `id desc`, which is what the simulator has always done and what a database usually returns.
 */
export function comparator(order: readonly OrderKey[]): (a: SimLog, b: SimLog) => number {
  const keys = order.some((k) => k.field === 'id') ? order : [...order, ...ID_DESC];
  return (a, b) => {
    for (const { field, desc } of keys) {
      const x = fieldOf(a, field);
      const y = fieldOf(b, field);
      if (x !== y) return (x < y ? -1 : 1) * (desc ? -1 : 1);
    }
    return 0;
  };
}

/** A stable text key for an order, for caching. */
export function orderKey(order: readonly OrderKey[]): string {
  return order.map((k) => (k.desc ? '-' : '') + k.field).join(',');
}
