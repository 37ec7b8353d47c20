import { afterEach, describe, expect, it } from '@jest/globals';
import { startSimulator, type SimChannel, type Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(opts: SimulatorOptions): Promise<Simulator> {
  sim = await startSimulator(opts);
  return sim;
}

const free: SimChannel = { id: 1, name: 'free', priority: 100, status: 1, models: 'DeepSeek-V3,gpt-4o' };
const paid: SimChannel = { id: 2, name: 'paid', priority: 50, status: 1, models: 'DeepSeek-V3' };
const tokens = { promptTokens: 70, completionTokens: 30 };

describe('route()', () => {
  it('picks the highest enabled priority that serves the model and logs the request on it, stamped `at`', async () => {
    const s = await start({ channels: [free, paid, { id: 3, name: 'off', priority: 999, status: 2, models: 'DeepSeek-V3' }] });
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1000.7, log: { upstream_model: 'ds-up' } })).toBe(1);
    expect(s.logs).toEqual([
      { id: 1, created_at: 1000, channel: 1, model_name: 'DeepSeek-V3', upstream_model: 'ds-up', prompt_tokens: 70, completion_tokens: 30 },
    ]);
    s.channels[0].priority = 10;
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1001 })).toBe(2); // no cache: live data
    expect(s.route('claude', { ...tokens, at: 1002 })).toBeUndefined();
    expect(s.logs).toHaveLength(2);
  });

  it('sees priority changes only at the next refresh of its cache', async () => {
    const s = await start({ channels: [free, paid], routing: { cacheSec: 12, phaseSec: 5 } });
    // Refresh instants: ..., 989, 1001, 1013, ...
    expect(s.route('DeepSeek-V3', { ...tokens, at: 995 })).toBe(1);
    s.channels[0].priority = 10; // demoted at 995
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1000.9 })).toBe(1);
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1001 })).toBe(2);
    s.channels[0].priority = 100;
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1012 })).toBe(2);
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1013 })).toBe(1);
    expect(s.logs.map((l) => [l.created_at, l.channel])).toEqual([[995, 1], [1000, 1], [1001, 2], [1012, 2], [1013, 1]]);
  });

  it('a channel disabled after a refresh keeps its traffic until the next one', async () => {
    const s = await start({ channels: [free, paid], routing: { cacheSec: 600 } });
    expect(s.route('DeepSeek-V3', { ...tokens, at: 600 })).toBe(1);
    s.channels[0].status = 2;
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1199 })).toBe(1);
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1200 })).toBe(2);
  });

  it('spreads ties at random, the same way for the same seed', async () => {
    const twins = [free, { ...paid, priority: 100 }];
    const picks = async (seed: number) => {
      const s = await startSimulator({ channels: twins, routing: { seed } });
      const out = Array.from({ length: 200 }, (_, i) => s.route('DeepSeek-V3', { ...tokens, at: i }));
      await s.close();
      return out;
    };
    const a = await picks(7);
    expect(await picks(7)).toEqual(a);
    expect(await picks(8)).not.toEqual(a);
    const ones = a.filter((c) => c === 1).length;
    expect(ones).toBeGreaterThan(60);
    expect(ones).toBeLessThan(140);
  });

  it('refuses a negative cache period', async () => {
    await expect(startSimulator({ routing: { cacheSec: -1 } })).rejects.toThrow(/cacheSec/);
  });
});

describe('requests that last', () => {
  it('are routed at their start and logged when they end, stamped then, with their duration on each flavor', async () => {
    const s = await start({ flavor: 'one-api', channels: [free, paid], routing: { cacheSec: 12 } });
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1000, elapsedSec: 90.4 })).toBe(1);
    s.channels[0].priority = 10;
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1005, elapsedSec: 5 })).toBe(1); // the cache as of 996
    expect(s.logs).toEqual([]); // both still running
    expect(s.route('DeepSeek-V3', { ...tokens, at: 1020 })).toBe(2);
    expect(s.logs.map((l) => [l.id, l.created_at, l.channel, l.elapsed_ms])).toEqual([[1, 1010, 1, 5000], [2, 1020, 2, undefined]]);
    s.flush();
    expect(s.logs.map((l) => [l.id, l.created_at, l.elapsed_ms])).toEqual([[1, 1010, 5000], [2, 1020, undefined], [3, 1090, 90400]]);
  });

  it.each([
    ['one-api', 'elapsed_time', 2500],
    ['new-api', 'use_time', 3],
    ['one-hub', 'request_time', 2500],
  ] as const)('%s renders the duration as %s', async (flavor, field, want) => {
    const s = await start({ flavor, channels: [free] });
    s.route('DeepSeek-V3', { ...tokens, at: 1000, elapsedSec: 2.5 });
    s.flush();
    const res = await fetch(`${s.url}/api/log/?p=0&type=2`, { headers: { Authorization: `Bearer ${s.token}`, 'New-Api-User': '1' } });
    const body = (await res.json()) as { data: unknown };
    const list = (Array.isArray(body.data) ? body.data : (body.data as { items?: unknown[]; data?: unknown[] }).items ?? (body.data as { data: unknown[] }).data) as Array<Record<string, unknown>>;
    expect(list[0][field]).toBe(want);
  });
});
