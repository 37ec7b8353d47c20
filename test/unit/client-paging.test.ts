import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { createClient, type ClientOptions } from '../../src/oneapi/client.js';
import type { RequestSpec } from '../../src/oneapi/http.js';
import { MAX_REPEAT_PAGES, pageNewApi, pageOneHub } from '../../src/oneapi/paging.js';
import { channelRow } from '../../src/oneapi/schemas.js';
import { OneApiError, type Flavor, type LogQuery, type LogReadOptions, type OneApiClient } from '../../src/oneapi/types.js';
import { useStrictNock } from '../helpers/strict-nock.js';

// Per-flavor endpoints, paging and row mapping of listChannels and readLogs.

const BASE = 'http://127.0.0.1:3000';
const RANGE = { start: 1_700_000_000, end: 1_700_003_600 };

const nockState = useStrictNock();
const make = (flavor: Flavor, over: Partial<ClientOptions> = {}) =>
  createClient({ baseUrl: BASE, accessToken: 'tok', userId: 1, flavor, sleep: async () => {}, ...over });
const api = () => nock(BASE);
const ok = (data: unknown) => ({ success: true, message: '', data });
const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** A channel row as the server sends it, with fields quota-pilot ignores (and the secret key). */
const aChannel = (id: number, over: Record<string, unknown> = {}) => ({
  id,
  name: `ch${id}`,
  priority: 10,
  status: 1,
  type: 1,
  models: 'gpt-4o',
  key: `sk-secret-${id}`,
  ...over,
});
const channel = (id: number, over: Record<string, unknown> = {}) => ({ id, name: `ch${id}`, priority: 10, status: 1, models: ['gpt-4o'], ...over });

/** A one-api/new-api log row; created_at inside RANGE unless told otherwise. */
const aLog = (id: number, over: Record<string, unknown> = {}) => ({
  id,
  user_id: 1,
  created_at: RANGE.start + id,
  type: 2,
  content: '倍率：1',
  model_name: 'gpt-4o',
  prompt_tokens: 10,
  completion_tokens: 5,
  channel: 3,
  ...over,
});
/** The ids of the raw rows a read delivers, in delivery order (checks and de-duplication are the fold's job). */
async function read(client: OneApiClient, opts: LogReadOptions = {}, q: LogQuery = RANGE): Promise<unknown[]> {
  const got: unknown[] = [];
  await client.readLogs(q, (rows) => got.push(...rows.map((r) => (r as { id: unknown }).id)), opts);
  return got;
}
const recent = { tryRecent: true };


describe('one-api', () => {
  it('lists every channel with one empty-keyword search', async () => {
    api().get('/api/channel/search').query({ keyword: '' }).reply(200, ok([aChannel(2), aChannel(1, { priority: null })]));
    const client = make('one-api');
    expect(await client.listChannels()).toEqual([channel(1, { priority: 0 }), channel(2)]);
    expect(client.requestCount).toBe(1);
  });

  const search = () => api().get('/api/log/search').query({ keyword: '2' });
  const list = (p: number) =>
    api().get('/api/log/').query({ p, type: 2, start_timestamp: RANGE.start, end_timestamp: RANGE.end });

  it('answers from the log search alone when it reaches back past start', async () => {
    // 100 newest rows of `type = 2 OR content LIKE '2%'`, id desc; the oldest (a topup) is over a minute before
    // start (ids follow insert order, not created_at order, so a minute of slack is required).
    const rows = [
      aLog(300, { created_at: RANGE.end + 5 }),
      ...ids(200, 96).reverse().map((id) => aLog(id)),
      aLog(150, { type: 1, content: '20 元' }),
      aLog(100, { created_at: RANGE.start }),
      aLog(50, { type: 1, created_at: RANGE.start - 61 }),
    ];
    expect(rows).toHaveLength(100);
    search().reply(200, ok(rows));
    const client = make('one-api');
    // Only consume rows go on; the fold drops the one stamped after the range.
    expect(await read(client, recent)).toEqual([300, ...ids(200, 96).reverse(), 100]);
    expect(client.requestCount).toBe(1);
  });

  it('pages the list after the search when it reaches back less than a minute before start: its rows are the first pages', async () => {
    const rows = [...ids(201, 99).reverse().map((id) => aLog(id)), aLog(100, { created_at: RANGE.start - 30 })];
    search().reply(200, ok(rows));
    list(9).reply(200, ok([aLog(7)])); // 99 rows of the range came with the search: pages 0-8 are known
    const client = make('one-api');
    expect(await read(client, recent)).toEqual([...ids(201, 99).reverse(), 100, 7]);
    expect(client.requestCount).toBe(2);
  });

  it('answers from the log search alone when it has fewer than 100 rows', async () => {
    search().reply(200, ok([aLog(2), aLog(1)]));
    const client = make('one-api');
    expect(await read(client, recent)).toEqual([2, 1]);
    expect(client.requestCount).toBe(1);
  });

  it('pages the 10-row list when the search does not reach back to start (a repeated row goes on to the fold)', async () => {
    // The newest 100 are all stamped after the range: none is in it, and none reaches back to start.
    search().reply(200, ok(ids(1000, 100).reverse().map((id) => aLog(id, { created_at: RANGE.end + 10 }))));
    list(0).reply(200, ok(ids(11, 10).reverse().map((id) => aLog(id))));
    // A new row arrived between the pages: row 11 is served again at the top of page 1.
    list(1).reply(200, ok(ids(2, 10).reverse().map((id) => aLog(id))));
    list(2).reply(200, ok([aLog(1)]));
    const client = make('one-api');
    expect(await read(client, recent)).toEqual([...ids(1000, 100).reverse(), ...ids(11, 10).reverse(), ...ids(2, 10).reverse(), 1]);
    expect(client.requestCount).toBe(4);
  });

  it('falls back to paging when the search is refused (e.g. PostgreSQL)', async () => {
    search().reply(200, { success: false, message: 'pq: operator does not exist: bigint = text' });
    list(0).reply(200, ok([aLog(1)]));
    expect(await read(make('one-api'), recent)).toEqual([1]);
  });

  it('does not fall back when the search fails for auth', async () => {
    search().reply(200, { success: false, message: '无权进行此操作，权限不足' });
    expect(await kindOf(read(make('one-api'), recent))).toBe('auth');
  });

  it('throws, with no partial result, when a middle page fails after its retries', async () => {
    search().reply(200, ok(ids(1000, 100).map((id) => aLog(id, { created_at: RANGE.end + 10 }))));
    list(0).reply(200, ok(ids(11, 10).map((id) => aLog(id))));
    list(1).times(4).reply(503, '');
    const client = make('one-api');
    expect(await kindOf(read(client, recent))).toBe('server');
    expect(client.requestCount).toBe(6);
  });
});

describe('new-api', () => {
  const channels = (p: number) => api().get('/api/channel/').query({ p, page_size: 100, id_sort: true });
  const logs = (p: number) =>
    api().get('/api/log/').query({ p, page_size: 100, type: 2, start_timestamp: RANGE.start, end_timestamp: RANGE.end });

  it('pages the classic plain-array list from p=0', async () => {
    channels(0).reply(200, ok(ids(101, 100).map((id) => aChannel(id))));
    channels(1).reply(200, ok(ids(1, 100).map((id) => aChannel(id))));
    channels(2).reply(200, ok([]));
    const client = make('new-api');
    expect(await client.listChannels()).toEqual(ids(1, 200).map((id) => channel(id)));
    expect(client.requestCount).toBe(3);
  });

  it('pages the newer {items, total} list: p=0 is served as page 1, so the next is p=2', async () => {
    const page = (items: unknown[], page: number) => ok({ items, total: 150, page, page_size: 100, type_counts: {} });
    channels(0).reply(200, page(ids(51, 100).map((id) => aChannel(id)), 1));
    channels(2).reply(200, page(ids(1, 50).map((id) => aChannel(id)), 2));
    const client = make('new-api');
    expect(await client.listChannels()).toEqual(ids(1, 150).map((id) => channel(id)));
    expect(client.requestCount).toBe(2);
  });

  it('stops at total without asking for an empty page', async () => {
    channels(0).reply(200, ok({ items: ids(1, 100).map((id) => aChannel(id)), total: 100, page: 1, page_size: 100 }));
    expect(await make('new-api').listChannels()).toHaveLength(100);
  });

  it('pages logs in both shapes; a row repeated by offset paging goes on to the fold', async () => {
    logs(0).reply(200, ok({ items: ids(3, 100).reverse().map((id) => aLog(id)), total: 102, page: 1, page_size: 100 }));
    logs(2).reply(200, ok({ items: [aLog(3), aLog(2), aLog(1)], total: 103, page: 2, page_size: 100 }));
    expect(await read(make('new-api'))).toEqual([...ids(3, 100).reverse(), 3, 2, 1]);
    logs(0).reply(200, ok([aLog(2, { channel: 9 }), aLog(1)]));
    expect(await read(make('new-api'))).toEqual([2, 1]);
  });

  it('does not believe a total of 0 beside a full page', async () => {
    logs(0).reply(200, ok({ items: ids(2, 100).map((id) => aLog(id)), total: 0, page: 1, page_size: 100 }));
    logs(2).reply(200, ok({ items: [aLog(1)], total: 0, page: 2, page_size: 100 }));
    expect(await read(make('new-api'))).toHaveLength(101);
  });

  it('accepts null items as an empty page', async () => {
    logs(0).reply(200, ok({ items: null, total: 0, page: 1, page_size: 100 }));
    expect(await read(make('new-api'))).toEqual([]);
  });

  it('throws, with no partial result, when a middle page fails', async () => {
    logs(0).reply(200, ok(ids(1, 100).map((id) => aLog(id))));
    logs(1).reply(200, { success: false, message: 'database is locked' });
    expect(await kindOf(read(make('new-api')))).toBe('rejected');
  });
});

describe('one-hub', () => {
  const channels = (page: number) => api().get('/api/channel/').query({ page, size: 100 });

  it('pages 1-based and expands each tag through /api/channel_tag/:tag/list', async () => {
    const tagged = (id: number, tag: string) => aChannel(id, { tag });
    // Page 1: untagged rows 21..118 plus the representatives of tags "free" (120) and "a b" (119).
    const untagged = ids(21, 98).reverse().map((id) => aChannel(id, { tag: '' }));
    channels(1).reply(200, ok({ data: [tagged(120, 'free'), tagged(119, 'a b'), ...untagged], page: 1, size: 100, total_count: 120 }));
    channels(2).reply(200, ok({ data: ids(1, 20).map((id) => aChannel(id)), page: 2, size: 100, total_count: 120 }));
    // The tag list answers a plain array today (key included); {data: [...]} is accepted too.
    api().get('/api/channel_tag/free/list').reply(200, ok([tagged(120, 'free'), tagged(200, 'free')]));
    api()
      .get('/api/channel_tag/a%20b/list')
      .reply(200, ok({ data: [tagged(119, 'a b'), tagged(201, 'a b'), tagged(202, 'a b')] }));
    const routes: string[] = [];
    const client = make('one-hub', { onRequest: (route) => routes.push(route) });
    const list = await client.listChannels();
    expect(list).toEqual([...ids(1, 120), 200, 201, 202].map((id) => channel(id)));
    expect(JSON.stringify(list)).not.toContain('sk-secret');
    expect(routes).toEqual([
      'GET /api/channel/',
      'GET /api/channel/',
      'GET /api/channel_tag/:tag/list',
      'GET /api/channel_tag/:tag/list',
    ]);
  });

  it('does not ask for a tag whose name has a "/" (one-hub routes on the decoded path: a 404); its row stays', async () => {
    channels(1).reply(200, ok({ data: [aChannel(3, { tag: 'volc/free' }), aChannel(2, { tag: '' })], page: 1, size: 100, total_count: 2 }));
    const routes: string[] = [];
    const list = await make('one-hub', { onRequest: (route) => routes.push(route) }).listChannels();
    expect(list).toEqual([channel(2), channel(3)]);
    expect(routes).toEqual(['GET /api/channel/']);
  });

  it('pages logs with log_type=2 and reads channel_id, ignoring the preloaded channel object', async () => {
    const row = (id: number) => {
      const { channel: _ignored, ...rest } = aLog(id);
      return { ...rest, channel_id: 4, channel: { id: 4, name: 'x', key: '' } };
    };
    const logs = (page: number) =>
      api()
        .get('/api/log/')
        .query({ page, size: 100, log_type: 2, start_timestamp: RANGE.start, end_timestamp: RANGE.end });
    logs(1).reply(200, ok({ data: ids(2, 100).map(row), page: 1, size: 100, total_count: 101 }));
    logs(2).reply(200, ok({ data: [row(1)], page: 2, size: 100, total_count: 101 }));
    expect(await read(make('one-hub'))).toEqual([...ids(2, 100), 1]);
  });
});

describe('readLogs: channel filter, the first answer decides, pages in parallel, OneAPI clock', () => {
  const Q = { ...RANGE, channel: 7 };
  it.each([
    ['one-api', { p: 0, type: 2, channel: 7 }],
    ['new-api', { p: 0, page_size: 100, type: 2, channel: 7 }],
    ['one-hub', { page: 1, size: 100, log_type: 2, channel_id: 7 }],
  ] as const)('%s filters one channel with its own parameter', async (flavor, params) => {
    const data = flavor === 'one-hub' ? { data: [aLog(1)], total_count: 1 } : [aLog(1)];
    api().get('/api/log/').query({ ...params, start_timestamp: RANGE.start, end_timestamp: RANGE.end }).reply(200, ok(data));
    expect(await read(make(flavor), {}, Q)).toEqual([1]);
  });

  it('declines after the first answer when its total is too large, delivering nothing', async () => {
    api()
      .get('/api/log/')
      .query({ p: 0, page_size: 100, type: 2, start_timestamp: RANGE.start, end_timestamp: RANGE.end })
      .reply(200, ok({ items: ids(1, 100).map((id) => aLog(id)), total: 5000, page: 1, page_size: 100 }));
    const totals: Array<number | undefined> = [];
    const client = make('new-api');
    const got: unknown[] = [];
    const stats = await client.readLogs(RANGE, (rows) => got.push(...rows), { onFirst: (t) => (totals.push(t), false) });
    expect(stats).toMatchObject({ declined: true, pages: 1, rows: 0, total: 5000 });
    expect(got).toEqual([]);
    expect(totals).toEqual([4900]); // rows still to come after the first page
  });

  it('one-api estimates the size of a read from the newest-100 search before paging', async () => {
    // 100 rows over the last 100 s before end: about one a second, so ~3,500 rows are left before the oldest.
    const rows = ids(1, 100).reverse().map((id) => aLog(id, { created_at: RANGE.end - 100 + id }));
    api().get('/api/log/search').query({ keyword: '2' }).reply(200, ok(rows));
    let total: number | undefined;
    const stats = await make('one-api').readLogs(RANGE, () => undefined, { tryRecent: true, onFirst: (t) => ((total = t), false) });
    expect(total).toBeGreaterThan(3000);
    expect(stats.declined).toBe(true);
  });

  it('fetches the pages a total implies a few at a time, and stops at the total', async () => {
    const q = (p: number) =>
      api().get('/api/log/').query({ p, page_size: 100, type: 2, start_timestamp: RANGE.start, end_timestamp: RANGE.end });
    const page = (n: number, rows: number) => ok({ items: ids(n * 100 + 1, rows).map((id) => aLog(id)), total: 450, page: n === 0 ? 1 : n, page_size: 100 });
    q(0).reply(200, page(0, 100));
    for (const p of [2, 3, 4]) q(p).delay(30).reply(200, page(p, 100));
    q(5).reply(200, page(5, 50));
    const client = make('new-api');
    const got = await read(client);
    expect(got).toHaveLength(450);
    expect(client.requestCount).toBe(5);
  });

  it('one-api reads ahead only on a long read from a window start: in order, at most two pages past the end', async () => {
    const q = (p: number) => api().get('/api/log/').query({ p, type: 2, start_timestamp: RANGE.start, end_timestamp: RANGE.end });
    // 9 full pages, then a short one; the pages asked past it answer empty.
    for (let p = 0; p < 9; p++) q(p).delay(p % 3 === 0 ? 20 : 0).reply(200, ok(ids(1000 - 10 * (p + 1), 10).reverse().map((id) => aLog(id))));
    q(9).reply(200, ok([aLog(5)]));
    q(10).optionally().reply(200, ok([]));
    q(11).optionally().reply(200, ok([]));
    const client = make('one-api');
    const got = await read(client, { readAhead: true });
    expect(got).toEqual([...ids(910, 90).reverse(), 5]); // delivered in page order
    expect(client.requestCount).toBeGreaterThanOrEqual(10);
    expect(client.requestCount).toBeLessThanOrEqual(12);
    nock.cleanAll();

    // A steady read (no readAhead) asks for exactly the pages it needs.
    for (let p = 0; p < 9; p++) q(p).reply(200, ok(ids(1000 - 10 * (p + 1), 10).map((id) => aLog(id))));
    q(9).reply(200, ok([aLog(5)]));
    const steady = make('one-api');
    expect(await read(steady)).toHaveLength(91);
    expect(steady.requestCount).toBe(10);
  });

  it('one-api read-ahead: a failed page fails the read, and no page asked ahead is left running', async () => {
    const q = (p: number) => api().get('/api/log/').query({ p, type: 2, start_timestamp: RANGE.start, end_timestamp: RANGE.end });
    for (let p = 0; p < 4; p++) q(p).reply(200, ok(ids(100 - 10 * (p + 1), 10).map((id) => aLog(id))));
    q(4).reply(401, { success: false, message: '无权进行此操作，未登录且未提供 access token' });
    q(5).delay(200).reply(200, ok(ids(1, 10).map((id) => aLog(id))));
    q(6).optionally().delay(200).reply(200, ok([]));
    const client = make('one-api');
    const started = Date.now();
    expect(await kindOf(read(client, { readAhead: true }))).toBe('auth');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190); // waited for the pages in flight
  });

  it("remembers OneAPI's clock from the Date header", async () => {
    const client = make('one-api', { now: () => 1_000_000 });
    api().get('/api/channel/search').query({ keyword: '' }).reply(200, ok([]), { Date: 'Thu, 01 Jan 1970 00:20:00 GMT' });
    await client.listChannels();
    expect(client.serverClock()).toEqual({ serverMs: 1_200_500, localMs: 1_000_000 });
  });
});

describe('page cap', () => {
  // A stub transport that always answers a full page: 1000 real round trips through nock would take seconds.
  const endless = (page: (n: number) => unknown) => {
    let n = 0;
    const http = {
      get requestCount() {
        return n;
      },
      throttledMs: 0,
      serverClock: () => undefined,
      close: () => undefined,
      request: async (spec: RequestSpec<unknown>) => spec.check(page(n++)) as never,
    };
    return http;
  };
  const rows = (n: number) => ids(n * 100 + 1, 100).map((id) => aChannel(id));

  const few = { maxPages: 50 };
  it.each([
    ['new-api plain', () => pageNewApi(endless((n) => rows(n)), '/x', {}, channelRow, few)],
    ['new-api items', () => pageNewApi(endless((n) => ({ items: rows(n), total: 1e9, page: 1 })), '/x', {}, channelRow, few)],
    ['one-hub', () => pageOneHub(endless((n) => ({ data: rows(n), total_count: 1e9 })), '/x', {}, channelRow, few)],
  ])('%s gives up with bad-response after the page cap', async (_name, run) => {
    expect(await kindOf(run())).toBe('bad-response');
  });

  it.each([
    ['new-api', (h: ReturnType<typeof endless>) => pageNewApi(h, '/x', {}, channelRow)],
    ['one-hub', (h: ReturnType<typeof endless>) => pageOneHub(h, '/x', {}, channelRow)],
  ])(`%s stops after ${MAX_REPEAT_PAGES} pages that repeat the same rows (a server ignoring the page)`, async (name, run) => {
    const same = rows(0);
    const h = endless(() => (name === 'one-hub' ? { data: same, total_count: 1e9 } : same));
    expect(await kindOf(run(h))).toBe('bad-response');
    expect(h.requestCount).toBe(MAX_REPEAT_PAGES + 1);
  });
});

async function kindOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OneApiError);
  return (e as OneApiError).kind;
}
