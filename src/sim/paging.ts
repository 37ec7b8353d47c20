/** A slice of a result set: where it starts, how long it is, and the page number echoed back. */
export interface Page {
  page: number;
  size: number;
  offset: number;
}

/** Go's strconv.Atoi as the servers use it: anything that is not a plain integer reads as 0. */
export function intParam(query: Record<string, string>, name: string): number {
  const raw = query[name] ?? '';
  return /^[+-]?\d+$/.test(raw) ? Number(raw) : 0;
}

/** True when the text is a plain integer, as Atoi would accept it. */
export function isInt(text: string): boolean {
  return /^[+-]?\d+$/.test(text);
}

/** one-api: `p` is 0-based and the page size is the fixed ItemsPerPage (10). */
export function oneApiPage(query: Record<string, string>): Page {
  const page = Math.max(0, intParam(query, 'p'));
  return { page, size: 10, offset: page * 10 };
}

/** new-api GetPageQuery: `p` 1-based (below 1 reads as 1); page_size (or ps, size) defaults to 10, capped at 100. */
export function newApiPage(query: Record<string, string>): Page {
  const page = Math.max(1, intParam(query, 'p'));
  let size = intParam(query, 'page_size') || intParam(query, 'ps') || intParam(query, 'size');
  if (size < 1) size = 10;
  size = Math.min(size, 100);
  return { page, size, offset: (page - 1) * size };
}

/** one-hub: `page` 1-based, `size` defaults to 10; a size over 100 is an error, not a cap. */
export function oneHubPage(query: Record<string, string>): Page | { error: string } {
  const page = Math.max(1, intParam(query, 'page'));
  let size = intParam(query, 'size');
  if (size < 1) size = 10;
  if (size > 100) return { error: 'size 参数不能超过 100' };
  return { page, size, offset: (page - 1) * size };
}

/** The rows of one page. */
export function slice<T>(rows: T[], page: Page): T[] {
  return rows.slice(page.offset, page.offset + page.size);
}

/** SQL LIKE ('%' any run, '_' one character), case-insensitive as on MySQL and SQLite. */
export function like(value: string, pattern: string): boolean {
  return likeMatcher(pattern)(value);
}

/** A compiled SQL LIKE pattern, for matching many values. */
export function likeMatcher(pattern: string): (value: string) => boolean {
  const source = pattern
    .split('')
    .map((ch) => (ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 'is');
  return (value) => re.test(value);
}

/**
 * Sorts by a one-hub style order list ('-priority,id': '-' means descending), keeping only allowed fields.
 * With no usable field the order is `id desc`.
 */
export function sortByOrderParam<T extends object>(rows: T[], order: string, allowed: readonly string[]): T[] {
  const keys = order
    .split(',')
    .map((part) => part.trim())
    .filter((part) => allowed.includes(part.replace(/^-/, '')))
    .map((part) => ({ field: part.replace(/^-/, ''), desc: part.startsWith('-') }));
  if (keys.length === 0) keys.push({ field: 'id', desc: true });
  return [...rows].sort((a, b) => {
    for (const { field, desc } of keys) {
      const cmp = compare((a as Record<string, unknown>)[field], (b as Record<string, unknown>)[field]);
      if (cmp !== 0) return desc ? -cmp : cmp;
    }
    return 0;
  });
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'string' || typeof b === 'string') return String(a ?? '').localeCompare(String(b ?? ''));
  return Number(a ?? 0) - Number(b ?? 0);
}

/** Newest first, as every flavor orders logs and channels by default. */
export function byIdDesc<T extends { id?: number }>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => (b.id ?? 0) - (a.id ?? 0));
}
