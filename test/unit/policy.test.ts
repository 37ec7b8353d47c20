import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { decide, type DecideInput } from '../../src/policy/decide.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import { diff } from '../../src/reconcile/apply.js';
import type { Bucket } from '../../src/usage/buckets.js';
import type { Channel } from '../../src/oneapi/types.js';
import { aBudget, aChannel, aConfig, aDefault, aMemory } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => Math.floor(DateTime.fromISO(iso, { zone: TZ }).toSeconds());
const NOW = DateTime.fromISO('2026-11-24T15:00', { zone: TZ }).toMillis();
const TODAY = sec('2026-11-24T02:20');

const config = aConfig({
  budgets: [aBudget({ channel: 'volc-deepseek', freeTokens: 1_900_000 })],
  defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)],
});
const free = (priority: number) => aChannel({ id: 1, name: 'volc-deepseek', priority });
const paid = (priority = 50) => aChannel({ id: 2, name: 'paid-deepseek', priority });
const other = aChannel({ id: 3, name: 'team-openai', priority: 7 });
const used = (tokens: number, start = TODAY): Bucket[] => [{ channel: 1, model: 'm', day: '2026-11-24', start, tokens, requests: 3 }];

function run(channels: Channel[], buckets: Bucket[], over: Partial<DecideInput> = {}) {
  const cfg = over.config ?? config;
  const input: DecideInput = {
    config: cfg,
    resolution: resolveRefs(cfg, channels),
    channels,
    buckets,
    nowMs: NOW,
    memory: aMemory({ lastResetAt: TODAY }),
    ...over,
  };
  const d = decide(input);
  return { d, changes: diff(d.channels).map((c) => [c.id, c.from, c.to]) };
}

describe('decide', () => {
  it('leaves channels within budget alone', () => {
    expect(run([free(100), paid(), other], used(1_000_000)).changes).toEqual([]);
  });

  it('demotes an exhausted channel and says why', () => {
    const { d, changes } = run([free(100), paid(), other], used(1_812_345));
    expect(changes).toEqual([[1, 100, 10]]);
    expect(d.channels[0].reason).toBe('budget exhausted: 1,812,345/1,900,000 tokens (95.4%), daily window since 2026-11-24 02:20 +08:00');
    expect(d.memory.demoted['1']).toEqual({ at: NOW / 1000, reason: d.channels[0].reason });
  });

  it('demotes again when an operator raised an exhausted channel by hand', () => {
    expect(run([free(80), paid()], used(1_900_000)).changes).toEqual([[1, 80, 10]]);
  });

  it('leaves an exhausted channel an operator put below demoted', () => {
    expect(run([free(5), paid()], used(1_900_000)).changes).toEqual([]);
  });

  it('leaves other manual changes until the nightly reset', () => {
    expect(run([free(70), paid(60)], used(10)).changes).toEqual([]);
  });

  it('restores every default at the nightly reset, except a still-exhausted channel', () => {
    const total = aConfig({
      budgets: [aBudget({ channel: 'volc-deepseek', window: 'total', since: '2026-11-01', freeTokens: 1000 })],
      defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)],
    });
    const { d, changes } = run([free(10), paid(60), other], used(5000, sec('2026-11-02T00:00')), {
      config: total,
      memory: aMemory({ lastResetAt: sec('2026-11-23T02:20') }),
    });
    expect(d.reset).toBe('due');
    expect(changes).toEqual([[2, 60, 50]]);
    expect(d.memory.lastResetAt).toBe(NOW / 1000);
  });

  it('brings a channel back at the reset once its daily window starts again', () => {
    const justAfter = DateTime.fromISO('2026-11-25T02:20:30', { zone: TZ }).toMillis();
    const { d, changes } = run([free(10), paid()], used(1_900_000), { nowMs: justAfter, memory: aMemory({ lastResetAt: TODAY, demoted: { '1': { at: 1, reason: 'x' } } }) });
    expect(d.reset).toBe('due');
    expect(changes).toEqual([[1, 10, 100]]);
    expect(d.channels[0].reason).toMatch(/^nightly reset: default priority restored; volc-deepseek at 0\/1,900,000 tokens/);
    expect(d.memory.demoted).toEqual({});
  });

  it('does not reset on the very first run, but remembers the last scheduled reset', () => {
    const { d, changes } = run([free(70), paid()], used(10), { memory: aMemory() });
    expect(d.reset).toBe('first-run');
    expect(changes).toEqual([]);
    expect(d.memory.lastResetAt).toBe(TODAY);
  });

  it('restores a channel it demoted when the quota renews outside the nightly reset', () => {
    const hourly = aConfig({ budgets: [aBudget({ channel: 'volc-deepseek', resetAt: '08:00', freeTokens: 1000 })] });
    const { d, changes } = run([free(10), paid()], [], { config: hourly, memory: aMemory({ lastResetAt: TODAY, demoted: { '1': { at: 1, reason: 'x' } } }) });
    expect(changes).toEqual([[1, 10, 100]]);
    expect(d.channels[0].reason).toMatch(/^free quota renewed: volc-deepseek at 0\/1,000 tokens \(0.0%\), daily window since 2026-11-24 08:00/);
  });

  it('does not restore a channel at the demoted priority that it did not demote', () => {
    expect(run([free(10), paid()], [], {}).changes).toEqual([]);
  });

  it('never plans for a channel neither file names', () => {
    const { d } = run([free(100), paid(), other], used(1_900_000), { memory: aMemory({ lastResetAt: 0 }) });
    expect(d.channels.map((c) => c.id).sort()).toEqual([1, 2]);
  });

  it('warns once per window', () => {
    const first = run([free(100), paid()], used(1_600_000));
    expect(first.d.warnings.map((w) => w.budget.key)).toEqual(['volc-deepseek']);
    expect(run([free(100), paid()], used(1_700_000), { memory: first.d.memory }).d.warnings).toEqual([]);
    const tomorrow = DateTime.fromISO('2026-11-25T15:00', { zone: TZ }).toMillis();
    expect(run([free(100), paid()], used(1_700_000, sec('2026-11-25T02:20')), { memory: first.d.memory, nowMs: tomorrow }).d.warnings).toHaveLength(1);
  });

  it('handles the other channels when a budget names a missing channel', () => {
    const two = aConfig({
      budgets: [aBudget({ channel: 'gone' }), aBudget({ channel: 'volc-deepseek', freeTokens: 100 })],
      defaults: [aDefault('gone', 100), aDefault('volc-deepseek', 100)],
    });
    const { d, changes } = run([free(100)], used(100), { config: two });
    expect(d.budgets.map((b) => b.state)).toEqual(['unresolved', 'exhausted']);
    expect(changes).toEqual([[1, 100, 10]]);
  });

  it('converges: applying the plan and deciding again changes nothing', () => {
    const channels = [free(100), paid(60)];
    const memory = aMemory({ lastResetAt: sec('2026-11-23T02:20') });
    const first = run(channels, used(1_900_000), { memory });
    for (const c of diff(first.d.channels)) channels.find((ch) => ch.id === c.id)!.priority = c.to;
    expect(run(channels, used(1_900_000), { memory: first.d.memory }).changes).toEqual([]);
  });
});

describe('resolveRefs', () => {
  it('lists the ids of an ambiguous name and reports a missing one', () => {
    const cfg = aConfig({ budgets: [aBudget({ channel: 'dup' })], defaults: [aDefault('dup', 100), aDefault(42, 5)] });
    const r = resolveRefs(cfg, [aChannel({ id: 9, name: 'dup' }), aChannel({ id: 4, name: 'dup' })]);
    expect(r.problems.map((p) => p.message)).toEqual([
      '"dup" matches 2 OneAPI channels (ids 4, 9); names are not unique in OneAPI, so name the channel by its id (`channel: 4` for the oldest)',
      'OneAPI has no channel with id 42',
    ]);
  });
});

describe('decide: restore from what OneAPI shows (rule 3)', () => {
  const at = (iso: string) => DateTime.fromISO(iso, { zone: TZ }).toMillis();
  const today = sec('2026-11-25T02:20');
  const yesterday = sec('2026-11-24T02:20');
  // rows: [case, observed priority, used tokens in today's window, memory, expected change]
  const rows: Array<[string, number, number, ReturnType<typeof aMemory>, Array<[number, number, number]>]> = [
    ['state lost at 02:25, before the 02:20 reset ran: restored', 10, 0, aMemory(), [[1, 10, 100]]],
    ['state lost at 02:25, quota still exhausted (a weekly leftover): kept demoted', 10, 1_900_000, aMemory(), []],
    ['state lost, a manual priority other than demoted: left alone', 70, 0, aMemory(), []],
    ['state kept, demotion forgotten, window renewed since the last cycle: restored', 10, 0, aMemory({ lastResetAt: today, windows: { 'volc-deepseek': yesterday } }), [[1, 10, 100]]],
    ['state kept, same window as the last cycle, not remembered: left alone (set by hand)', 10, 0, aMemory({ lastResetAt: today, windows: { 'volc-deepseek': today } }), []],
    ['remembered demotion from yesterday, missed cycles across the renewal: restored', 10, 0, aMemory({ lastResetAt: today, demoted: { '1': { at: yesterday + 3600, reason: 'x' } }, windows: { 'volc-deepseek': today } }), [[1, 10, 100]]],
    ['remembered demotion from this window (predictive, under demote_at): kept demoted', 10, 1_700_000, aMemory({ lastResetAt: today, demoted: { '1': { at: today + 60, reason: 'x' } }, windows: { 'volc-deepseek': today } }), []],
  ];
  it.each(rows)('%s', (_name, priority, tokens, memory, expected) => {
    const { d, changes } = run([free(priority), paid()], used(tokens, today), { nowMs: at('2026-11-25T02:25'), memory });
    expect(changes).toEqual(expected);
    if (expected.length) expect(d.channels[0].reason).toMatch(/^free quota renewed: volc-deepseek at [\d,]+\/1,900,000 tokens .* \((no state|its daily window renewed|renewed since quota-pilot demoted it)/);
    expect(d.memory.windows).toEqual({ 'volc-deepseek': today });
  });
});
