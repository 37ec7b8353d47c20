import type { Http } from './http.js';
import { ONE_API_PAGE_SIZE, PAGE_SIZE } from './paging.js';
import { OneApiError, type Flavor, type LogQuery, type LogReadOptions, type LogReadStats } from './types.js';

type Deliver = (rows: unknown[]) => void;
type Params = Record<string, string | number>;

const CONSUME = 2;
/** `/api/log/search` returns at most config.MaxRecentItems rows. */
const SEARCH_LIMIT = 100;
/**
 * one-api ids follow insert order, not quite created_at order (logs are written from goroutines): the newest-100
 * search counts as complete only when it reaches a minute before the range.
 */
const ID_ORDER_SLACK_SEC = 60;
/** Full pages in a row that start with the same row: the server is ignoring the page parameter. */
const MAX_REPEAT_PAGES = 3;
/** Pages in flight at once where the total is known (new-api, one-hub); the rate limiter still paces them. */
const PARALLEL_PAGES = 3;
/** A hard stop so a server that never returns a short page cannot keep the daemon paging forever. */
const MAX_PAGES = 200_000;

/** A page of raw rows and, where the flavor says, the result set's size and the page it served. */
interface Page {
  rows: unknown[];
  total?: number;
  page?: number;
  size?: number;
}

// ---- page shapes: checked once per page, cheaply; rows are left to the caller's per-row checks ----

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

function rowsOf(v: unknown, where: string): unknown[] {
  // Go serialises a nil slice as null: no rows.
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new Error(`${where}: expected an array of log rows`);
  return v;
}

function plainPage(data: unknown): Page {
  return { rows: rowsOf(data, 'data') };
}

function newApiPage(data: unknown): Page {
  if (Array.isArray(data) || data === null) return { rows: rowsOf(data, 'data') };
  const o = data as Record<string, unknown>;
  if (typeof o !== 'object' || !isInt(o.total)) throw new Error('data: expected an array or {items, total}');
  return {
    rows: rowsOf(o.items, 'data.items'),
    total: o.total,
    page: isInt(o.page) ? o.page : undefined,
    size: isInt(o.page_size) && o.page_size > 0 ? o.page_size : undefined,
  };
}

function oneHubPage(data: unknown): Page {
  const o = data as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || !isInt(o.total_count)) throw new Error('data: expected {data, total_count}');
  return { rows: rowsOf(o.data, 'data.data'), total: o.total_count };
}

/** Stops a read whose pages keep starting with the same row (a server that ignores the page parameter). */
class RepeatGuard {
  private last = '';
  private repeats = 0;

  constructor(private readonly endpoint: string) {}

  check(page: Page, size: number): void {
    if (page.rows.length < size) return;
    const first = JSON.stringify(page.rows[0]);
    this.repeats = first === this.last ? this.repeats + 1 : 0;
    this.last = first;
    if (this.repeats >= MAX_REPEAT_PAGES - 1)
      throw new OneApiError(
        `OneAPI ${this.endpoint} returned the same rows for ${MAX_REPEAT_PAGES} pages in a row; it seems to ignore the page parameter`,
        'bad-response',
        this.endpoint,
      );
  }
}

function tooManyPages(endpoint: string): OneApiError {
  return new OneApiError(`OneAPI ${endpoint} still returned full pages after ${MAX_PAGES} pages`, 'bad-response', endpoint);
}

const timeParams = (q: LogQuery) => ({ start_timestamp: q.start, end_timestamp: q.end });

/** Calls `fn` for each item, at most `limit` at a time; rejects with the first failure. */
async function inParallel(items: number[], limit: number, fn: (item: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---- one-api: p is 0-based, 10 rows a page, no total ----

async function readOneApi(http: Http, q: LogQuery, deliver: Deliver, opts: LogReadOptions): Promise<LogReadStats> {
  let estimate: number | undefined;
  let pages = 0;
  let skip = 0;
  if (opts.tryRecent && q.channel === undefined) {
    const recent = await searchRecent(http);
    pages++;
    if (recent) {
      const consume = recent.filter((r) => (r as { type?: unknown }).type === CONSUME);
      const times = recent.map((r) => (r as { created_at?: unknown }).created_at).filter(isInt);
      const oldest = Math.min(...times);
      const inRange = consume.filter((r) => {
        const at = (r as { created_at?: unknown }).created_at;
        return isInt(at) && at >= q.start && at <= q.end;
      }).length;
      // Fewer than 100 rows in all, or reaching back past the range: they hold every consume log of the range,
      // and nothing is left to decide.
      if (recent.length < SEARCH_LIMIT || oldest < q.start - ID_ORDER_SLACK_SEC) {
        deliver(consume);
        return { pages, rows: consume.length, declined: false, total: inRange };
      }
      // Otherwise they are the range's newest rows by id, which is the list's order: the list's first `inRange`
      // rows are these, so paging starts after them (a row inserted meanwhile only makes a repeat, never a gap).
      // What is left is the part of the range older than the search reached, at the pace the search shows.
      const perSec = recent.length / Math.max(1, Math.max(...times) - oldest);
      estimate = Math.round(perSec * Math.max(0, oldest - q.start));
      if (opts.onFirst && !opts.onFirst(estimate, consume)) return { pages, rows: 0, declined: true, total: estimate + inRange };
      deliver(consume);
      skip = Math.floor(inRange / ONE_API_PAGE_SIZE);
    }
  }
  const asked = estimate !== undefined;
  const params: Params = { type: CONSUME, ...timeParams(q), ...(q.channel === undefined ? {} : { channel: q.channel }) };
  const guard = new RepeatGuard('GET /api/log/');
  let rows = 0;
  for (let p = skip; p < MAX_PAGES; p++) {
    const page = await http.request({ method: 'GET', path: '/api/log/', params: { ...params, p }, check: plainPage });
    pages++;
    if (p === 0 && !asked && opts.onFirst && !opts.onFirst(page.rows.length < ONE_API_PAGE_SIZE ? 0 : undefined, page.rows))
      return { pages, rows: 0, declined: true, total: estimate };
    guard.check(page, ONE_API_PAGE_SIZE);
    deliver(page.rows);
    rows += page.rows.length;
    if (page.rows.length < ONE_API_PAGE_SIZE) return { pages, rows, declined: false, total: estimate };
  }
  throw tooManyPages('GET /api/log/');
}

/** The newest 100 rows where `type = 2 OR content LIKE '2%'`; undefined where the server refuses the search. */
async function searchRecent(http: Http): Promise<unknown[] | undefined> {
  try {
    const page = await http.request({ method: 'GET', path: '/api/log/search', params: { keyword: String(CONSUME) }, check: plainPage });
    return page.rows;
  } catch (e) {
    // Comparing the integer `type` with a string may fail on PostgreSQL: fall back to the list, not give up.
    if (e instanceof OneApiError && (e.kind === 'rejected' || e.kind === 'bad-response')) return undefined;
    throw e;
  }
}

// ---- new-api and one-hub: pages of 100 with a total, so pages after the first can go out together ----

interface TotalPaging {
  path: string;
  params: Params;
  /** The request parameters of page number n (the flavor's first page is `first`). */
  pageParams: (n: number) => Params;
  first: number;
  check: (data: unknown) => Page;
}

async function readWithTotal(http: Http, s: TotalPaging, deliver: Deliver, opts: LogReadOptions): Promise<LogReadStats> {
  const endpoint = `GET ${s.path}`;
  const get = (n: number) => http.request({ method: 'GET', path: s.path, params: { ...s.params, ...s.pageParams(n) }, check: s.check });
  const answer = await get(s.first);
  // A total below the rows already served (0 beside a full page) is not believed: paging on to a short page is safe.
  const first = answer.total !== undefined && answer.total < answer.rows.length ? { ...answer, total: undefined } : answer;
  let pages = 1;
  const left = first.total !== undefined ? Math.max(0, first.total - first.rows.length) : first.rows.length < PAGE_SIZE ? 0 : undefined;
  if (opts.onFirst && !opts.onFirst(left, first.rows)) return { pages, rows: 0, declined: true, total: first.total };
  // Classic new-api answers a plain array and counts p from 0; versions before 2024-03 ignore page_size and
  // serve 10 rows: the first page's length is then the page size.
  const size = first.size ?? (first.total === undefined && first.rows.length === ONE_API_PAGE_SIZE ? ONE_API_PAGE_SIZE : PAGE_SIZE);
  const guard = new RepeatGuard(endpoint);
  guard.check(first, size);
  deliver(first.rows);
  let rows = first.rows.length;
  let at = first.page ?? s.first;
  if (first.rows.length < size || (first.total !== undefined && rows >= first.total)) return { pages, rows, declined: false, total: first.total };

  // The total is known: fetch the rest of the pages it implies a few at a time (the range's end is in the past,
  // so the set is stable; a late row only shifts rows to a later page, which the sequential tail then reads).
  if (first.total !== undefined) {
    const last = at + Math.ceil(first.total / size) - 1;
    const numbers = Array.from({ length: Math.max(0, last - at) }, (_, i) => at + 1 + i);
    let short = false;
    await inParallel(numbers, PARALLEL_PAGES, async (n) => {
      const page = await get(n);
      pages++;
      deliver(page.rows);
      rows += page.rows.length;
      if (page.rows.length < size) short = true;
    });
    at = last;
    if (short || rows >= first.total) return { pages, rows, declined: false, total: first.total };
  }
  for (let i = 0; i < MAX_PAGES; i++) {
    const page = await get(++at);
    pages++;
    guard.check(page, size);
    deliver(page.rows);
    rows += page.rows.length;
    if (page.rows.length < size) return { pages, rows, declined: false, total: first.total };
  }
  throw tooManyPages(endpoint);
}

function readNewApi(http: Http, q: LogQuery, deliver: Deliver, opts: LogReadOptions): Promise<LogReadStats> {
  // p=0 is the first page in both generations (newer code clamps it to 1).
  return readWithTotal(
    http,
    {
      path: '/api/log/',
      params: { type: CONSUME, ...timeParams(q), ...(q.channel === undefined ? {} : { channel: q.channel }) },
      pageParams: (p) => ({ p, page_size: PAGE_SIZE }),
      first: 0,
      check: newApiPage,
    },
    deliver,
    opts,
  );
}

function readOneHub(http: Http, q: LogQuery, deliver: Deliver, opts: LogReadOptions): Promise<LogReadStats> {
  return readWithTotal(
    http,
    {
      path: '/api/log/',
      params: { log_type: CONSUME, ...timeParams(q), ...(q.channel === undefined ? {} : { channel_id: q.channel }) },
      pageParams: (page) => ({ page, size: PAGE_SIZE }),
      first: 1,
      check: oneHubPage,
    },
    deliver,
    opts,
  );
}

const READERS: Record<Flavor, typeof readOneApi> = { 'one-api': readOneApi, 'new-api': readNewApi, 'one-hub': readOneHub };

/** Streams a consume-log query in the flavor's paging, newest first, page by page. */
export function readLogs(flavor: Flavor, http: Http, q: LogQuery, deliver: Deliver, opts: LogReadOptions = {}): Promise<LogReadStats> {
  return READERS[flavor](http, q, deliver, opts);
}
