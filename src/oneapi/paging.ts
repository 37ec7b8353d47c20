import type { Http } from './http.js';
import { newApiPage, oneHubPage, type RowCheck } from './schemas.js';
import { OneApiError } from './types.js';

/** Page size asked of new-api and one-hub (one-hub refuses more than 100; newer new-api caps at 100). */
export const PAGE_SIZE = 100;
/** one-api's list pages are fixed at config.ItemsPerPage = 10 rows; there is no parameter to change it. */
export const ONE_API_PAGE_SIZE = 10;
/**
 * A hard stop so a server that never returns a short page cannot keep the daemon paging forever. It is high
 * because one-api's 10-row pages need 1,000 requests for just 10,000 logs; the repeat check below is the real guard.
 */
export const MAX_PAGES = 100_000;
/** Full pages in a row that bring no new row: the server is ignoring the page parameter. */
export const MAX_REPEAT_PAGES = 3;

type Params = Record<string, string | number | boolean>;
export interface PageLimits {
  maxPages: number;
}
const LIMITS: PageLimits = { maxPages: MAX_PAGES };

function tooManyPages(path: string, limits: PageLimits): OneApiError {
  return new OneApiError(
    `OneAPI GET ${path} still returned full pages after ${limits.maxPages} pages; refusing to page further`,
    'bad-response',
    `GET ${path}`,
  );
}

/** Collects rows across pages; throws when pages keep repeating rows already collected. */
class Collector<R> {
  readonly rows: R[] = [];
  private ids = new Set<unknown>();
  private repeats = 0;

  constructor(private path: string) {}

  add(page: R[]): void {
    let fresh = 0;
    for (const r of page) {
      const id = (r as { id?: unknown }).id;
      if (id === undefined || !this.ids.has(id)) fresh++;
      this.ids.add(id);
      this.rows.push(r);
    }
    this.repeats = page.length > 0 && fresh === 0 ? this.repeats + 1 : 0;
    if (this.repeats >= MAX_REPEAT_PAGES)
      throw new OneApiError(
        `OneAPI GET ${this.path} returned the same rows for ${MAX_REPEAT_PAGES} pages in a row; it seems to ignore the page parameter`,
        'bad-response',
        `GET ${this.path}`,
      );
  }
}

/**
 * new-api, both generations. Classic code answers a plain array and counts `p` from 0; newer code answers
 * {items, total, page, page_size}, counts from 1 and clamps p=0 to 1 (common.GetPageQuery). So the first request
 * is p=0, which is the first page in both; after that the answer's shape (and its echoed `page`) says what comes next.
 */
export async function pageNewApi<R>(http: Http, path: string, params: Params, row: RowCheck<R>, limits = LIMITS): Promise<R[]> {
  const out = new Collector<R>(path);
  let p = 0;
  let seen = 0;
  for (let i = 0; i < limits.maxPages; i++) {
    const page = await http.request({
      method: 'GET',
      path,
      params: { ...params, p, page_size: PAGE_SIZE },
      check: newApiPage(row),
    });
    if (Array.isArray(page)) {
      out.add(page);
      if (page.length < PAGE_SIZE) return out.rows;
      p += 1;
      continue;
    }
    out.add(page.items);
    seen += page.items.length;
    const size = page.page_size && page.page_size > 0 ? page.page_size : PAGE_SIZE;
    // A total of 0 beside a full page is not believed: paging on to a short page is the safe reading.
    if (page.items.length < size || (page.total > 0 && seen >= page.total)) return out.rows;
    const served = page.page ?? Math.max(p, 1);
    p = Math.max(served, p) + 1;
  }
  throw tooManyPages(path, limits);
}

/** one-hub: `page` is 1-based, `data` is {data, page, size, total_count}; stop on a short page or at the total. */
export async function pageOneHub<R>(http: Http, path: string, params: Params, row: RowCheck<R>, limits = LIMITS): Promise<R[]> {
  const out = new Collector<R>(path);
  let seen = 0;
  for (let page = 1; page <= limits.maxPages; page++) {
    const res = await http.request({
      method: 'GET',
      path,
      params: { ...params, page, size: PAGE_SIZE },
      check: oneHubPage(row),
    });
    out.add(res.data);
    seen += res.data.length;
    if (res.data.length < PAGE_SIZE || (res.total_count > 0 && seen >= res.total_count)) return out.rows;
  }
  throw tooManyPages(path, limits);
}
