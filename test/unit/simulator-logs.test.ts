import { afterEach, describe, expect, it } from '@jest/globals';
import type { Flavor } from '../../src/oneapi/types.js';
import { defaultRequestId, startSimulator, type SimLog, type Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';

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

function aLog(extra: Partial<SimLog> = {}): SimLog {
  return { created_at: 1_700_000_000, channel: 1, model_name: 'gpt-4o', prompt_tokens: 10, completion_tokens: 5, ...extra };
}

const channels = [
  { id: 1, name: 'ch-1', priority: 10, status: 1, models: 'gpt-4o' },
  { id: 2, name: 'ch-2', priority: 10, status: 1, models: 'gpt-4o' },
];

async function get(s: Simulator, path: string): Promise<{ status: number; headers: Headers; json: any }> {
  const headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` };
  if (s.flavor === 'new-api') headers['New-Api-User'] = '1';
  const res = await fetch(s.url + path, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** The rows of a log page, whatever the flavor's envelope. */
async function logRows(s: Simulator, query: string): Promise<any[]> {
  const { json } = await get(s, `/api/log/?${query}`);
  expect(json.success).toBe(true);
  return s.flavor === 'one-api' ? json.data : s.flavor === 'new-api' ? json.data.items : json.data.data;
}

const firstPage: Record<Flavor, string> = { 'one-api': 'p=0', 'new-api': 'p=1&page_size=100', 'one-hub': 'page=1&size=100' };

describe('request_id', () => {
  it.each(['one-api', 'new-api'] as const)('%s: every row has a stable, unique request_id; a given one is kept', async (flavor) => {
    const s = await start({ flavor, channels, logs: [aLog(), aLog({ created_at: 1_700_000_001 }), aLog({ request_id: 'given-req-7' })] });
    const first = await logRows(s, firstPage[flavor]);
    const again = await logRows(s, firstPage[flavor]);
    const ids = first.map((r) => r.request_id);
    expect(ids).toEqual(again.map((r) => r.request_id));
    expect(new Set(ids).size).toBe(3);
    expect(first.find((r) => r.id === 3).request_id).toBe('given-req-7');
    expect(first.find((r) => r.id === 1).request_id).toBe(defaultRequestId(1, 1_700_000_000));
    // Upstream's shape: yyyyMMddHHmmss + digits + 8 random characters.
    expect(defaultRequestId(1, 1_700_000_000)).toMatch(/^20231114221320000000001[A-Za-z0-9]{8}$/);
  });

  it('one-hub rows have none', async () => {
    const s = await start({ flavor: 'one-hub', channels, logs: [aLog()] });
    expect((await logRows(s, firstPage['one-hub']))[0]).not.toHaveProperty('request_id');
  });
});

describe('model names', () => {
  it('new-api: model_name is the requested alias; other is a JSON string with upstream_model_name when mapped', async () => {
    const s = await start({
      flavor: 'new-api',
      channels,
      logs: [aLog({ model_name: 'deepseek', upstream_model: 'DeepSeek-V3-2-251201' }), aLog({ model_name: 'gpt-4o' })],
    });
    const [plain, mapped] = await logRows(s, firstPage['new-api']);
    expect(mapped).toMatchObject({ id: 1, model_name: 'deepseek' });
    expect(typeof mapped.other).toBe('string');
    expect(JSON.parse(mapped.other)).toMatchObject({ upstream_model_name: 'DeepSeek-V3-2-251201', is_model_mapped: true, model_ratio: 1 });
    expect(plain.model_name).toBe('gpt-4o');
    expect(JSON.parse(plain.other)).not.toHaveProperty('upstream_model_name');
  });

  it.each(['one-api', 'one-hub'] as const)('%s: model_name as stored, no other field', async (flavor) => {
    const s = await start({ flavor, channels, logs: [aLog({ model_name: 'DeepSeek-V3-2-251201', upstream_model: 'ignored' })] });
    const [row] = await logRows(s, firstPage[flavor]);
    expect(row.model_name).toBe('DeepSeek-V3-2-251201');
    expect(row).not.toHaveProperty('other');
  });
});

describe('log order', () => {
  // Ids do not follow time: row 2 was inserted late with an early timestamp.
  const skewed = [aLog({ created_at: 100 }), aLog({ created_at: 50 }), aLog({ created_at: 100 }), aLog({ created_at: 200 })];

  it('new-api orders by created_at desc, id desc', async () => {
    const s = await start({ flavor: 'new-api', channels, logs: skewed });
    expect((await logRows(s, firstPage['new-api'])).map((r) => r.id)).toEqual([4, 3, 1, 2]);
    expect((await logRows(s, 'p=2&page_size=2')).map((r) => r.id)).toEqual([1, 2]);
    expect((await logRows(s, 'p=1&page_size=10&start_timestamp=60&end_timestamp=150')).map((r) => r.id)).toEqual([3, 1]);
  });

  it.each(['one-api', 'one-hub'] as const)('%s orders by id desc', async (flavor) => {
    const s = await start({ flavor, channels, logs: skewed });
    expect((await logRows(s, firstPage[flavor])).map((r) => r.id)).toEqual([4, 3, 2, 1]);
    expect((await logRows(s, `${firstPage[flavor]}&start_timestamp=60&end_timestamp=150`)).map((r) => r.id)).toEqual([3, 1]);
  });

  it('one-hub honours order=created_at (ascending) and -created_at, ties by id desc', async () => {
    const s = await start({ flavor: 'one-hub', channels, logs: skewed });
    expect((await logRows(s, 'page=1&size=10&order=created_at')).map((r) => r.id)).toEqual([2, 3, 1, 4]);
    expect((await logRows(s, 'page=1&size=10&order=-created_at')).map((r) => r.id)).toEqual([4, 3, 1, 2]);
    expect((await logRows(s, 'page=1&size=10&order=id')).map((r) => r.id)).toEqual([4, 3, 2, 1]);
  });
});

describe('new-api ClickHouse log store', () => {
  it('orders by created_at desc, request_id desc and rewrites ids to positions; request_id stays stable', async () => {
    const logs = [
      aLog({ created_at: 100, request_id: 'r-b' }),
      aLog({ created_at: 100, request_id: 'r-c' }),
      aLog({ created_at: 90, request_id: 'r-z' }),
      aLog({ created_at: 110, request_id: 'r-a' }),
    ];
    const s = await start({ flavor: 'new-api', logStore: 'clickhouse', channels, logs });
    const page1 = await logRows(s, 'p=1&page_size=2');
    const page2 = await logRows(s, 'p=2&page_size=2');
    expect(page1.map((r) => [r.id, r.request_id])).toEqual([[1, 'r-a'], [2, 'r-c']]);
    expect(page2.map((r) => [r.id, r.request_id])).toEqual([[3, 'r-b'], [4, 'r-z']]);

    // A new row on top: every id below it moves, request_ids do not.
    s.addLog(aLog({ created_at: 120, request_id: 'r-new' }));
    const after = await logRows(s, 'p=1&page_size=10');
    expect(after.map((r) => [r.id, r.request_id])).toEqual([[1, 'r-new'], [2, 'r-a'], [3, 'r-c'], [4, 'r-b'], [5, 'r-z']]);
    expect(s.logs.map((l) => l.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('is new-api only', async () => {
    await expect(startSimulator({ flavor: 'one-api', logStore: 'clickhouse' })).rejects.toThrow(/new-api only/);
  });
});

describe('server clock', () => {
  it('sends now() in the Date header of every answer, errors and 429s included', async () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    const s = await start({ now: () => at, rateLimit: { max: 1, windowSec: 60 } });
    const okAnswer = await get(s, '/api/log/?p=0');
    expect(okAnswer.headers.get('date')).toBe('Fri, 02 Jan 2026 03:04:05 GMT');
    const limited = await get(s, '/api/log/?p=0');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('date')).toBe('Fri, 02 Jan 2026 03:04:05 GMT');
    expect(s.now()).toBe(at);
  });

  it('clockOffsetSec shifts it', async () => {
    const s = await start({ now: () => Date.UTC(2026, 0, 2, 3, 4, 5), clockOffsetSec: -600 });
    expect((await get(s, '/api/nope')).headers.get('date')).toBe('Fri, 02 Jan 2026 02:54:05 GMT');
    expect(s.requests[0].at).toBe(Date.UTC(2026, 0, 2, 2, 54, 5));
  });
});

describe('hostile rows', () => {
  it.each(['one-api', 'new-api', 'one-hub'] as const)('%s: raw is merged over the row; an undefined value removes the field', async (flavor) => {
    const logs = [
      aLog({ raw: { prompt_tokens: -1_500_000 } }),
      aLog({ raw: { prompt_tokens: '12' } }),
      aLog({ raw: { completion_tokens: undefined } }),
      aLog({ raw: { type: 9 } }),
      aLog({ raw: { completion_tokens: 2.5 } }),
    ];
    const s = await start({ flavor, channels, logs });
    const rows = (await logRows(s, `${firstPage[flavor]}&${flavor === 'one-hub' ? 'log_type' : 'type'}=2`)).reverse();
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]); // filters read the typed fields
    expect(rows[0].prompt_tokens).toBe(-1_500_000);
    expect(rows[1].prompt_tokens).toBe('12');
    expect(rows[2]).not.toHaveProperty('completion_tokens');
    expect(rows[2].prompt_tokens).toBe(10);
    expect(rows[3].type).toBe(9);
    expect(rows[4].completion_tokens).toBe(2.5);
  });
});

describe('rate limit', () => {
  it('sends Retry-After with the 429 when retryAfterSec is set, and none by default', async () => {
    const s = await start({ rateLimit: { max: 1, windowSec: 180, retryAfterSec: 180 } });
    await get(s, '/api/log/');
    const limited = await get(s, '/api/log/');
    expect([limited.status, limited.headers.get('retry-after'), limited.json]).toEqual([429, '180', undefined]);
    await s.close();
    const plain = await start({ rateLimit: { max: 1, windowSec: 180 } });
    await get(plain, '/api/log/');
    const bare = await get(plain, '/api/log/');
    expect([bare.status, bare.headers.get('retry-after')]).toEqual([429, null]);
  });
});

describe('logs added while a client pages', () => {
  it.each(['one-api', 'new-api', 'one-hub'] as const)('%s: new rows show on the next read, old pages shift as in a database', async (flavor) => {
    const s = await start({ flavor, channels, logs: Array.from({ length: 25 }, (_, i) => aLog({ created_at: 1000 + i })) });
    const size = flavor === 'one-api' ? 10 : 10;
    const page = (n: number) => (flavor === 'one-api' ? `p=${n}` : flavor === 'new-api' ? `p=${n + 1}&page_size=${size}` : `page=${n + 1}&size=${size}`);
    expect((await logRows(s, page(0))).map((r) => r.id)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
    s.addLogs([aLog({ created_at: 1030 }), aLog({ created_at: 1031 })]);
    expect((await logRows(s, page(1))).map((r) => r.id)).toEqual([17, 16, 15, 14, 13, 12, 11, 10, 9, 8]);
    expect((await logRows(s, page(0)))[0].id).toBe(27);
    expect((await logRows(s, `${page(0)}&start_timestamp=1030&end_timestamp=1031`)).map((r) => r.id)).toEqual([27, 26]);
  });
});
