import { afterEach, describe, expect, it } from '@jest/globals';
import type { Flavor } from '../../src/oneapi/types.js';
import { startSimulator, type SimChannel, type SimLog, type Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';

const TOKEN = 'sim-token-0123456789abcdef0123456';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(opts: SimulatorOptions): Promise<Simulator> {
  sim = await startSimulator(opts);
  return sim;
}

function aChannel(id: number, extra: Partial<SimChannel> = {}): SimChannel {
  return { id, name: `ch-${id}`, priority: 100, status: 1, key: `sk-secret-${id}`, models: 'gpt-4o', ...extra };
}

function channels(n: number): SimChannel[] {
  return Array.from({ length: n }, (_, i) => aChannel(i + 1));
}

function aLog(extra: Partial<SimLog> = {}): SimLog {
  return { created_at: 1_700_000_000, channel: 1, model_name: 'gpt-4o', prompt_tokens: 10, completion_tokens: 5, ...extra };
}

function authHeaders(flavor: Flavor): Record<string, string> {
  return flavor === 'new-api' ? { Authorization: `Bearer ${TOKEN}`, 'New-Api-User': '1' } : { Authorization: `Bearer ${TOKEN}` };
}

interface Answer {
  status: number;
  text: string;
  json: any;
}

async function call(s: Simulator, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(s.url + path, {
    method: init.method ?? 'GET',
    headers: { 'Content-Type': 'application/json', ...(init.headers ?? authHeaders(s.flavor)) },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const text = await res.text();
  const isJson = res.headers.get('content-type')?.startsWith('application/json') ?? false;
  return { status: res.status, text, json: isJson ? JSON.parse(text) : undefined };
}

const ids = (rows: { id: number }[]): number[] => rows.map((r) => r.id);

describe('one-api', () => {
  it('pages channels 0-based, 10 per page, id desc, without key; search returns every channel', async () => {
    const s = await start({ channels: channels(25) });
    const first = await call(s, '/api/channel/?p=0');
    expect(first.json.success).toBe(true);
    expect(ids(first.json.data)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
    expect(first.json.data[0]).not.toHaveProperty('key');
    expect(ids((await call(s, '/api/channel/?p=2&page_size=100')).json.data)).toEqual([5, 4, 3, 2, 1]);
    expect((await call(s, '/api/channel/?p=3')).json.data).toEqual([]);

    const all = await call(s, '/api/channel/search?keyword=');
    expect(ids(all.json.data)).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));
    expect(all.json.data.some((c: object) => 'key' in c)).toBe(false);
    // id = K or name LIKE 'K%'
    expect(ids((await call(s, '/api/channel/search?keyword=7')).json.data)).toEqual([7]);
    expect(ids((await call(s, '/api/channel/search?keyword=ch-2')).json.data)).toEqual([25, 24, 23, 22, 21, 20, 2]);

    const one = await call(s, '/api/channel/7');
    expect(one.json).toMatchObject({ success: true, data: { id: 7, name: 'ch-7', priority: 100, status: 1 } });
    expect(one.json.data).not.toHaveProperty('key');
    expect((await call(s, '/api/channel/99')).json).toMatchObject({ success: false });
  });

  it('pages logs 0-based, 10 per page, id desc, with inclusive time and exact filters; search gives the newest 100', async () => {
    const logs = Array.from({ length: 130 }, (_, i) =>
      aLog({ created_at: 1000 + i, channel: (i % 2) + 1, model_name: i % 3 === 0 ? 'gpt-4o' : 'claude', type: i === 129 ? 5 : 2 }),
    );
    const s = await start({ logs });
    const page0 = await call(s, '/api/log/?p=0');
    expect(ids(page0.json.data)).toEqual([130, 129, 128, 127, 126, 125, 124, 123, 122, 121]);
    expect(page0.json.data[1]).toMatchObject({ id: 129, channel: 1, created_at: 1128, prompt_tokens: 10, completion_tokens: 5, type: 2 });
    expect((await call(s, '/api/log/?p=1&page_size=100')).json.data).toHaveLength(10);

    const window = await call(s, '/api/log/?p=0&type=2&start_timestamp=1010&end_timestamp=1013');
    expect(ids(window.json.data)).toEqual([14, 13, 12, 11]);
    const filtered = await call(s, '/api/log/?p=0&type=2&start_timestamp=1000&end_timestamp=1012&channel=1&model_name=gpt-4o');
    expect(ids(filtered.json.data)).toEqual([13, 7, 1]);
    expect(ids((await call(s, '/api/log/?type=5')).json.data)).toEqual([130]);

    const search = await call(s, '/api/log/search?keyword=2');
    expect(search.json.data).toHaveLength(100);
    expect(search.json.data[0].id).toBe(129);
    expect(search.json.data[99].id).toBe(30);
  });

  it('answers unknown routes with 404 and records every request', async () => {
    const s = await start({});
    const res = await call(s, '/api/nope?x=1');
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ success: false, message: 'not found' });
    expect(s.requests).toEqual([{ method: 'GET', path: '/api/nope', query: { x: '1' }, body: undefined, status: 404, at: expect.any(Number) }]);
  });
});

describe('new-api', () => {
  it('pages channels 1-based with page_size capped at 100, in {items,total,page,page_size}', async () => {
    const s = await start({ flavor: 'new-api', channels: channels(130) });
    const first = await call(s, '/api/channel/?p=0&page_size=500&id_sort=true');
    expect(first.json.data).toMatchObject({ total: 130, page: 1, page_size: 100 });
    expect(first.json.data.items).toHaveLength(100);
    expect(first.json.data.items[0].id).toBe(130);
    expect(first.json.data.items[0]).not.toHaveProperty('key');
    const second = await call(s, '/api/channel/?p=2&page_size=100&id_sort=true');
    expect(ids(second.json.data.items)).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
    const defaults = await call(s, '/api/channel/');
    expect(defaults.json.data).toMatchObject({ page: 1, page_size: 10 });
    expect(defaults.json.data.items).toHaveLength(10);
    expect((await call(s, '/api/channel/12')).json.data).toMatchObject({ id: 12, name: 'ch-12' });
  });

  it('pages logs 1-based with channel_name and other, filtering by type, time and channel', async () => {
    const logs = Array.from({ length: 25 }, (_, i) => aLog({ created_at: 2000 + i, channel: (i % 2) + 1, type: i === 0 ? 3 : 2 }));
    const s = await start({ flavor: 'new-api', channels: [aChannel(1), aChannel(2)], logs });
    const page = await call(s, '/api/log/?p=1&page_size=5&type=2&start_timestamp=2000&end_timestamp=2020&channel=1');
    expect(page.json.data).toMatchObject({ total: 10, page: 1, page_size: 5 });
    expect(ids(page.json.data.items)).toEqual([21, 19, 17, 15, 13]);
    expect(page.json.data.items[0]).toMatchObject({ channel: 1, channel_name: 'ch-1', other: expect.any(String), model_name: 'gpt-4o' });
    expect(JSON.parse(page.json.data.items[0].other)).toMatchObject({ model_ratio: 1, admin_info: { use_channel: ['1'] } });
    const last = await call(s, '/api/log/?p=2&page_size=5&type=2&start_timestamp=2000&end_timestamp=2020&channel=1');
    expect(ids(last.json.data.items)).toEqual([11, 9, 7, 5, 3]);
    expect(ids((await call(s, '/api/log/?p=1&page_size=100&model_name=gpt%25&type=3')).json.data.items)).toEqual([1]);
  });

  it('rejects a PUT body with a status key; POST /api/channel/:id/status changes it', async () => {
    const s = await start({ flavor: 'new-api', channels: [aChannel(3)] });
    const put = await call(s, '/api/channel/', { method: 'PUT', body: { id: 3, priority: 5, status: 2 } });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ success: false });
    expect(s.channels[0]).toMatchObject({ priority: 100, status: 1 });
    const post = await call(s, '/api/channel/3/status', { method: 'POST', body: { status: 2 } });
    expect(post.json.success).toBe(true);
    expect(s.channels[0].status).toBe(2);
    const ok = await call(s, '/api/channel/', { method: 'PUT', body: { id: 3, priority: 5 } });
    expect(ok.json.success).toBe(true);
    expect(ok.json.data).not.toHaveProperty('key');
  });
});

describe('one-hub', () => {
  const tagged = [aChannel(1), aChannel(2, { tag: 'free' }), aChannel(3, { tag: 'free' }), aChannel(4), aChannel(5, { tag: 'paid' })];

  it('pages channels 1-based, refuses size over 100, collapses tags to their max id', async () => {
    const s = await start({ flavor: 'one-hub', channels: tagged });
    const list = await call(s, '/api/channel/?page=1&size=100');
    expect(list.json.data).toMatchObject({ page: 1, size: 100, total_count: 4 });
    expect(ids(list.json.data.data)).toEqual([5, 4, 3, 1]);
    expect(list.json.data.data[0]).not.toHaveProperty('key');
    expect(ids((await call(s, '/api/channel/?page=2&size=3')).json.data.data)).toEqual([1]);
    expect(ids((await call(s, '/api/channel/?filter_tag=1')).json.data.data)).toEqual([4, 1]);
    expect(ids((await call(s, '/api/channel/?filter_tag=2')).json.data.data)).toEqual([5, 3]);

    const tooBig = await call(s, '/api/channel/?page=1&size=101');
    expect(tooBig.status).toBe(200);
    expect(tooBig.json).toEqual({ success: false, message: 'size 参数不能超过 100' });

    const tag = await call(s, '/api/channel_tag/free/list');
    expect(ids(tag.json.data)).toEqual([3, 2]);
  });

  it('sends the key in clear from GET /api/channel/:id', async () => {
    const s = await start({ flavor: 'one-hub', channels: tagged });
    const one = await call(s, '/api/channel/2');
    expect(one.json.data).toMatchObject({ id: 2, key: 'sk-secret-2', tag: 'free' });
    expect((await call(s, '/api/channel/search?keyword=')).json.success).toBe(false);
  });

  it('pages logs with log_type and channel_id, rows carrying channel_id and channel {id, name}', async () => {
    const logs = Array.from({ length: 12 }, (_, i) => aLog({ created_at: 3000 + i, channel: (i % 2) + 1, type: i === 11 ? 3 : 2 }));
    const s = await start({ flavor: 'one-hub', channels: tagged, logs });
    const page = await call(s, '/api/log/?page=1&size=3&log_type=2&channel_id=2&start_timestamp=3001&end_timestamp=3011');
    expect(page.json.data).toMatchObject({ page: 1, size: 3, total_count: 5 });
    expect(ids(page.json.data.data)).toEqual([10, 8, 6]);
    expect(page.json.data.data[0]).toMatchObject({ channel_id: 2, channel: { id: 2, name: 'ch-2' } });
    expect((await call(s, '/api/log/?size=200')).json.success).toBe(false);
  });

  it('overwrites every field when a PUT carries a non-empty models', async () => {
    const s = await start({ flavor: 'one-hub', channels: [aChannel(9, { used_quota: 500, base_url: 'https://up', group: 'vip' })] });
    const res = await call(s, '/api/channel/', { method: 'PUT', body: { id: 9, priority: 5, models: 'gpt-4o' } });
    expect(res.json.success).toBe(true);
    expect(s.channels[0]).toEqual({
      id: 9, name: '', priority: 5, status: 0, key: '', models: 'gpt-4o', group: '', tag: '', base_url: '', type: 0, weight: 0, used_quota: 500,
    });
  });
});

describe('auth', () => {
  it.each(['one-api', 'one-hub'] as const)('%s: 401 without a header, 200 success:false with a wrong token, bare token accepted', async (flavor) => {
    const s = await start({ flavor, channels: [aChannel(1)] });
    const missing = await call(s, '/api/channel/1', { headers: {} });
    expect(missing.status).toBe(401);
    expect(missing.json.success).toBe(false);
    const wrong = await call(s, '/api/channel/1', { headers: { Authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(200);
    expect(wrong.json).toEqual({ success: false, message: '无权进行此操作，access token 无效' });
    expect((await call(s, '/api/channel/1', { headers: { Authorization: TOKEN } })).json.success).toBe(true);
  });

  it('new-api: wants New-Api-User present, numeric and equal to the user id', async () => {
    const s = await start({ flavor: 'new-api', userId: 7, channels: [aChannel(1)] });
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const missing = await call(s, '/api/channel/1', { headers: auth });
    expect([missing.status, missing.json.message]).toEqual([401, '无权进行此操作，未提供 New-Api-User']);
    const malformed = await call(s, '/api/channel/1', { headers: { ...auth, 'New-Api-User': 'Bearer 7' } });
    expect(malformed.status).toBe(401);
    expect(malformed.json.message).toContain('格式错误');
    const mismatch = await call(s, '/api/channel/1', { headers: { ...auth, 'New-Api-User': '1' } });
    expect(mismatch.status).toBe(401);
    expect(mismatch.json.message).toContain('不匹配');
    const wrong = await call(s, '/api/channel/1', { headers: { Authorization: 'Bearer nope', 'New-Api-User': '7' } });
    expect([wrong.status, wrong.json.success]).toEqual([200, false]);
    expect((await call(s, '/api/channel/1', { headers: { ...auth, 'New-Api-User': '7' } })).json.success).toBe(true);
  });
});

describe('PUT /api/channel/', () => {
  it.each(['one-api', 'new-api', 'one-hub'] as const)('%s: partial update writes priority 0 and keeps absent fields', async (flavor) => {
    const s = await start({ flavor, channels: [aChannel(4, { weight: 3, base_url: 'https://up' })] });
    const res = await call(s, '/api/channel/', { method: 'PUT', body: { id: 4, priority: 0 } });
    expect(res.json.success).toBe(true);
    expect(res.json.data).toMatchObject({ id: 4, priority: 0, name: 'ch-4' });
    expect(s.channels[0]).toEqual(aChannel(4, { weight: 3, base_url: 'https://up', priority: 0 }));

    // zero values are skipped, except weight (a pointer)
    await call(s, '/api/channel/', { method: 'PUT', body: { id: 4, name: '', type: 0, weight: 0, priority: -3 } });
    expect(s.channels[0]).toMatchObject({ name: 'ch-4', weight: 0, priority: -3 });
    expect(s.writes().map((w) => w.body)).toEqual([{ id: 4, priority: 0 }, { id: 4, name: '', type: 0, weight: 0, priority: -3 }]);
  });

  it('one-api echoes the key; refuses a missing id, an unknown id, bad JSON and wrong types', async () => {
    const s = await start({ channels: [aChannel(4)] });
    expect((await call(s, '/api/channel/', { method: 'PUT', body: { id: 4, priority: 50 } })).json.data.key).toBe('sk-secret-4');
    for (const body of [{ priority: 5 }, { id: 99, priority: 5 }, '{"id":4,', { id: 4, priority: '5' }, [1]]) {
      const res = await call(s, '/api/channel/', { method: 'PUT', body });
      expect([res.status, res.json.success]).toEqual([200, false]);
    }
    expect(s.channels[0].priority).toBe(50);
    expect(s.writes()[3].body).toBe('{"id":4,');
  });
});

describe('faults and rate limit', () => {
  it('answers from a fault for its times, then normally; drop destroys the socket; delay serves late', async () => {
    const s = await start({ channels: [aChannel(1)] });
    s.fail({ method: 'GET', path: '/api/channel/1', times: 2, reply: { status: 502, body: 'bad gateway' } });
    s.fail({ path: '/api/log/', reply: { status: 200, body: { success: false, message: 'boom' } } });
    expect((await call(s, '/api/channel/1')).status).toBe(502);
    expect((await call(s, '/api/channel/1')).text).toBe('bad gateway');
    expect((await call(s, '/api/channel/1')).json.success).toBe(true);
    expect((await call(s, '/api/log/', { headers: {} })).json).toEqual({ success: false, message: 'boom' });
    expect(s.requests.map((r) => r.status)).toEqual([502, 502, 200, 200]);

    s.fail({ match: (r) => r.query.p === '9', times: Infinity, reply: 'drop' });
    await expect(call(s, '/api/channel/?p=9')).rejects.toThrow();
    await expect(call(s, '/api/channel/?p=9')).rejects.toThrow();
    s.clearFaults();
    expect((await call(s, '/api/channel/?p=9')).status).toBe(200);

    s.fail({ reply: { delayMs: 150 } });
    const started = Date.now();
    expect((await call(s, '/api/channel/1')).json.success).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('answers 429 with an empty body past the limit, until the window slides', async () => {
    let clock = 0;
    const s = await start({ rateLimit: { max: 2, windowSec: 10 }, now: () => clock });
    expect((await call(s, '/api/channel/')).status).toBe(200);
    expect((await call(s, '/api/channel/')).status).toBe(200);
    const limited = await call(s, '/api/channel/');
    expect([limited.status, limited.text]).toEqual([429, '']);
    clock = 10_000;
    expect((await call(s, '/api/channel/')).status).toBe(200);
    expect(s.requests.map((r) => [r.status, r.at])).toEqual([[200, 0], [200, 0], [429, 0], [200, 10_000]]);
  });

  it('closes promptly while a delayed request is still pending', async () => {
    const s = await start({});
    s.fail({ reply: { delayMs: 10_000 } });
    const pending = call(s, '/api/channel/').catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await s.close();
    sim = undefined;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(String(await pending)).toContain('fetch failed'); // undici's error comes from another realm than jest's Error
  });
});
