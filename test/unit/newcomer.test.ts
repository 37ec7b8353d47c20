import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { demoEvening } from '../../src/cli/commands/demo.js';
import { resolveDirs } from '../../src/cli/context.js';
import { CycleWatch } from '../../src/dashboard/watch.js';
import type { OneApiClient } from '../../src/oneapi/types.js';
import { checkModels, closestName } from '../../src/policy/models.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import type { CycleResult } from '../../src/reconcile/cycle.js';
import { aBudget, aChannel, aConfig, aMemory } from '../helpers/builders.js';

describe('resolveDirs', () => {
  const system = (dir: string) => dir === '/etc/quota-pilot';
  const none = () => false;
  it.each([
    ['flags win', { configDir: '/c', stateDir: '/s' }, { QUOTA_PILOT_CONFIG_DIR: '/e', STATE_DIRECTORY: '/v' }, system, '/c', '/s'],
    ['then the environment (systemd may list several state dirs)', {}, { QUOTA_PILOT_CONFIG_DIR: '/e', STATE_DIRECTORY: '/v:/w' }, system, '/e', '/v'],
    ['then the system-wide install when /etc/quota-pilot exists', {}, {}, system, '/etc/quota-pilot', '/var/lib/quota-pilot'],
    ['an empty variable counts as unset', {}, { QUOTA_PILOT_CONFIG_DIR: '', STATE_DIRECTORY: '' }, system, '/etc/quota-pilot', '/var/lib/quota-pilot'],
    ['else the current directory', {}, {}, none, process.cwd(), `${process.cwd()}/state`],
  ])('%s', (_, opts, env, exists, config, state) => {
    expect(resolveDirs(opts, env, exists)).toEqual({ configDir: config, stateDir: state });
  });
});

describe('checkModels', () => {
  const channels = [
    aChannel({ id: 1, name: 'volc-deepseek', models: ['DeepSeek-V3-2-251201'] }),
    aChannel({ id: 2, name: 'multi', models: ['glm-4', 'glm-4.5', 'kimi-k2'] }),
    aChannel({ id: 3, name: 'bare', models: [] }),
  ];
  const check = (model: string, channel: string, flavor: 'one-api' | 'new-api' = 'one-api') => {
    const config = aConfig({ budgets: [aBudget({ channel, model })], defaults: [] });
    return checkModels(config, channels, resolveRefs(config, channels), flavor).map((i) => [i.severity, i.key, i.message]);
  };

  it('accepts a served model', () => {
    expect(check('DeepSeek-V3-2-251201', 'volc-deepseek')).toEqual([]);
  });

  it('a typo is an error with the closest name, on every flavor', () => {
    expect(check('DeepSeek-V3-2-25120', 'volc-deepseek')).toEqual([
      ['error', 'model', 'channel volc-deepseek (#1) does not serve "DeepSeek-V3-2-25120"; did you mean "DeepSeek-V3-2-251201"? (it serves: DeepSeek-V3-2-251201); this budget would count no tokens'],
    ]);
    expect(check('GLM-4.5', 'multi')[0].slice(0, 2)).toEqual(['error', 'model']);
    expect(check('GLM-4.5', 'multi')[0][2]).toContain('did you mean "glm-4.5"?');
  });

  it('on new-api any unserved name is an error (its logs hold the requested name)', () => {
    expect(check('ep-20251201-abc', 'volc-deepseek', 'new-api')[0][0]).toBe('error');
  });

  it('on one-api a distant name is a warning: it may be the upstream name of a model_mapping', () => {
    const [issue] = check('ep-20251201-abc', 'volc-deepseek');
    expect(issue[0]).toBe('warning');
    expect(issue[2]).toContain('right only if the channel\'s model_mapping maps a model to "ep-20251201-abc"');
  });

  it('says when OneAPI lists no models, and skips budgets without a model or a channel', () => {
    expect(check('x', 'bare')).toEqual([['warning', 'model', 'OneAPI lists no models for channel bare (#3), so "x" was not checked']]);
    expect(check('x', 'gone')).toEqual([]);
  });

  it('closestName ignores case', () => {
    expect(closestName('KIMI-K2', ['glm-4', 'kimi-k2'])).toEqual({ name: 'kimi-k2', distance: 0 });
  });
});

describe('demoEvening', () => {
  const TZ = 'Asia/Shanghai';
  const at = (iso: string) => DateTime.fromISO(iso, { zone: TZ }).toMillis();
  it.each([
    ['in the afternoon: last night', '2026-11-25T14:12', '2026-11-24T18:00', '2026-11-25T02:20', '2026-11-25T03:00'],
    ['before 03:00: the night before', '2026-11-25T02:50', '2026-11-23T18:00', '2026-11-24T02:20', '2026-11-24T03:00'],
  ])('%s', (_, now, start, reset, end) => {
    expect(demoEvening('02:20', TZ, at(now))).toEqual({ start: at(start), reset: at(reset), end: at(end) });
  });
  it('follows the configured reset time', () => {
    expect(demoEvening('04:00', TZ, at('2026-11-25T14:00'))).toMatchObject({ reset: at('2026-11-25T04:00'), end: at('2026-11-25T04:40') });
  });
});

describe('CycleWatch', () => {
  const result = (over: Partial<CycleResult>): CycleResult => ({ ok: true, problems: [], notes: [], changes: [], applied: [], failed: [], enables: [], enabled: [], enableFailed: [], fetched: 0, throttledMs: 0, requests: 0, durationMs: 1, memory: aMemory(), events: [], ...over });
  const client = (fail = false): OneApiClient => ({
    requestCount: 7,
    throttledMs: 0,
    serverClock: () => undefined,
    close: () => undefined,
    listChannels: async () => {
      if (fail) throw new Error('connect ECONNREFUSED');
      return [aChannel({ id: 1, priority: 100 })];
    },
    getChannel: async (id) => aChannel({ id }),
    setPriority: async () => undefined,
    enableChannel: async () => undefined,
    readLogs: async () => ({ pages: 0, rows: 0, declined: false, total: 0 }),
  });

  it('remembers the last listing, applies confirmed writes, and keeps other members the client\'s', async () => {
    const w = new CycleWatch(2);
    expect(w.live()).toEqual({ error: 'not read yet (the first cycle is running)' });
    const c = w.wrap(client());
    expect(c.requestCount).toBe(7);
    await c.listChannels();
    const change = { id: 1, name: 'ch-1', from: 100, to: 10, reason: 'budget exhausted' };
    w.onCycle(result({ changes: [change], applied: [change] }), 1_800_000_000_000, false);
    expect(w.live()).toEqual({ channels: [aChannel({ id: 1, priority: 10 })] });
    expect(w.changes()).toEqual([{ ...change, at: 1_800_000_000, planned: false }]);
    for (let i = 0; i < 3; i++) w.onCycle(result({ changes: [change], applied: [change] }), 1_800_000_000_000 + i, false);
    expect(w.changes()).toHaveLength(2);
  });

  it('reports the listing error, and lists a dry run\'s changes as planned', async () => {
    const w = new CycleWatch();
    await expect(w.wrap(client(true)).listChannels()).rejects.toThrow('ECONNREFUSED');
    expect(w.live()).toEqual({ error: 'connect ECONNREFUSED' });
    expect(w.listed()).toBeUndefined();
    const change = { id: 1, name: 'ch-1', from: 100, to: 10, reason: 'r' };
    w.onCycle(result({ changes: [change] }), 0, true);
    expect(w.changes()).toEqual([{ ...change, at: 0, planned: true }]);
  });
});
