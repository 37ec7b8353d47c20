import { comparator, orderKey, type OrderKey } from './log-order.js';
import { likeMatcher } from './paging.js';
import type { SimLog } from './types.js';

/** The log filters the list endpoints share. A zero or empty filter is not applied, as in the servers. */
export interface LogFilter {
  type: number;
  /** Inclusive bounds on created_at. */
  start: number;
  end: number;
  channel: number;
  modelName: string;
  /** new-api matches model_name with LIKE; the others with '='. */
  modelLike: boolean;
  username: string;
  tokenName: string;
}

/** One page of a query's result, and how many rows the whole result holds. */
export interface LogPage {
  rows: SimLog[];
  total: number;
}

// Enough for a view per channel on a large gateway; each view holds only its own rows.
const MAX_VIEWS = 1024;
const MAX_RANGES = 16;

/**
 * Cached, sorted views of the stored logs, so that a page costs O(page size + log n) instead of a filter and a
 * sort of every row. One view per (filter without the time bounds, order), kept up to date as logs are added;
 * the time bounds are a binary search when the view's created_at is monotonic along its order (always for
 * created_at-led orders, and for id order while ids follow time), else a filtered copy cached until the next add.
 */
export class LogIndex {
  private readonly views = new Map<string, View>();
  private readonly ranges = new Map<string, SimLog[]>();

  constructor(private readonly logs: readonly SimLog[]) {}

  /** Tells the index that `log` was appended to the stored logs. */
  added(log: SimLog): void {
    for (const view of this.views.values()) view.offer(log);
    this.ranges.clear();
  }

  /** Rows [offset, offset + size) of the filtered, ordered result. */
  page(filter: LogFilter, order: readonly OrderKey[], offset: number, size: number): LogPage {
    const view = this.view(filter, order);
    if (view.timeDir !== 0 || (filter.start === 0 && filter.end === 0)) {
      const [lo, hi] = view.span(filter.start, filter.end);
      const rows: SimLog[] = [];
      for (let i = hi - 1 - Math.max(0, offset); i >= lo && rows.length < size; i--) rows.push(view.rows[i]);
      return { rows, total: hi - lo };
    }
    const all = this.inRange(view, filter.start, filter.end);
    return { rows: all.slice(offset, offset + size), total: all.length };
  }

  /** Visits the result rows in order until `visit` returns false. */
  scan(filter: LogFilter, order: readonly OrderKey[], visit: (log: SimLog) => boolean): void {
    const view = this.view({ ...filter, start: 0, end: 0 }, order);
    const inTime = (log: SimLog) =>
      (filter.start === 0 || log.created_at >= filter.start) && (filter.end === 0 || log.created_at <= filter.end);
    for (let i = view.rows.length - 1; i >= 0; i--) {
      const log = view.rows[i];
      if (inTime(log) && !visit(log)) return;
    }
  }

  private view(filter: LogFilter, order: readonly OrderKey[]): View {
    const key = JSON.stringify([filter.type, filter.channel, filter.modelName, filter.modelLike, filter.username, filter.tokenName, orderKey(order)]);
    let view = this.views.get(key);
    if (view) {
      // Most recently used last, so eviction drops the oldest.
      this.views.delete(key);
    } else {
      view = new View(key, matcher(filter), order, this.logs);
      if (this.views.size >= MAX_VIEWS) this.views.delete(this.views.keys().next().value as string);
    }
    this.views.set(key, view);
    return view;
  }

  private inRange(view: View, start: number, end: number): SimLog[] {
    const key = `${view.key}|${start}|${end}`;
    let rows = this.ranges.get(key);
    if (!rows) {
      rows = [];
      for (let i = view.rows.length - 1; i >= 0; i--) {
        const at = view.rows[i].created_at;
        if ((start === 0 || at >= start) && (end === 0 || at <= end)) rows.push(view.rows[i]);
      }
      if (this.ranges.size >= MAX_RANGES) this.ranges.delete(this.ranges.keys().next().value as string);
      this.ranges.set(key, rows);
    }
    return rows;
  }
}

/** The rows of one filter, in reverse result order, so that the usual new row (the newest) is a push. */
class View {
  readonly rows: SimLog[];
  /** +1: created_at never decreases along `rows`; -1: never increases; 0: neither. */
  timeDir: 1 | -1 | 0;
  private readonly before: (a: SimLog, b: SimLog) => number;
  private readonly timeLed: boolean;

  constructor(
    readonly key: string,
    private readonly match: (log: SimLog) => boolean,
    order: readonly OrderKey[],
    logs: readonly SimLog[],
  ) {
    const served = comparator(order);
    this.before = (a, b) => served(b, a);
    this.rows = logs.filter(match);
    if (!isSorted(this.rows, this.before)) this.rows.sort(this.before);
    this.timeLed = order[0]?.field === 'created_at';
    this.timeDir = this.timeLed ? (order[0].desc ? 1 : -1) : monotonic(this.rows);
  }

  offer(log: SimLog): void {
    if (!this.match(log)) return;
    const rows = this.rows;
    let at = rows.length;
    if (at > 0 && this.before(rows[at - 1], log) > 0) at = firstIndex(rows, (r) => this.before(r, log) > 0);
    rows.splice(at, 0, log);
    if (this.timeLed || this.timeDir === 0) return;
    const prev = rows[at - 1]?.created_at ?? -Infinity;
    const next = rows[at + 1]?.created_at ?? Infinity;
    const t = log.created_at;
    const ordered = this.timeDir === 1 ? prev <= t && t <= next : (at === 0 || prev >= t) && (at === rows.length - 1 || t >= next);
    if (!ordered) this.timeDir = 0;
  }

  /** The index range [lo, hi) of rows with start <= created_at <= end (0 = unbounded). Needs timeDir != 0. */
  span(start: number, end: number): [number, number] {
    const rows = this.rows;
    if (this.timeDir === -1) {
      const lo = end === 0 ? 0 : firstIndex(rows, (r) => r.created_at <= end);
      const hi = start === 0 ? rows.length : firstIndex(rows, (r) => r.created_at < start);
      return [lo, Math.max(lo, hi)];
    }
    const lo = start === 0 ? 0 : firstIndex(rows, (r) => r.created_at >= start);
    const hi = end === 0 ? rows.length : firstIndex(rows, (r) => r.created_at > end);
    return [lo, Math.max(lo, hi)];
  }
}

function matcher(f: LogFilter): (log: SimLog) => boolean {
  const model = f.modelName === '' ? undefined : f.modelLike ? likeMatcher(f.modelName) : (name: string) => name === f.modelName;
  return (log) =>
    (f.type === 0 || (log.type ?? 2) === f.type) &&
    (f.channel === 0 || log.channel === f.channel) &&
    (model === undefined || model(log.model_name)) &&
    (f.username === '' || (log.username ?? 'root') === f.username) &&
    (f.tokenName === '' || (log.token_name ?? 'default') === f.tokenName);
}

/** The first index where `pred` holds, for a predicate that is false then true along `rows`. */
function firstIndex<T>(rows: readonly T[], pred: (row: T) => boolean): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(rows[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function isSorted<T>(rows: readonly T[], cmp: (a: T, b: T) => number): boolean {
  for (let i = 1; i < rows.length; i++) if (cmp(rows[i - 1], rows[i]) > 0) return false;
  return true;
}

function monotonic(rows: readonly SimLog[]): 1 | -1 | 0 {
  let up = true;
  let down = true;
  for (let i = 1; i < rows.length && (up || down); i++) {
    if (rows[i].created_at < rows[i - 1].created_at) up = false;
    if (rows[i].created_at > rows[i - 1].created_at) down = false;
  }
  return up ? 1 : down ? -1 : 0;
}
