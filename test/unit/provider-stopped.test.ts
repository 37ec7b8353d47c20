import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';
import { detectEvents, emptyAlertMemory } from '../../src/events/detect.js';
import { decide } from '../../src/policy/decide.js';
import type { Memory } from '../../src/policy/memory.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import { diff, enablesOf } from '../../src/reconcile/apply.js';
import type { Bucket } from '../../src/usage/buckets.js';
import { aBudget, aChannel, aConfig, aDefault, aMemory } from '../helpers/builders.js';

// The provider's own word that a quota is spent (OneAPI auto-disabling a budgeted channel), and enabling such a
// channel again when its window renews (reenable_at_renewal), never one a person disabled.

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => Math.floor(DateTime.fromISO(iso, { zone: TZ }).toSeconds());
const TODAY = sec('2026-11-25T02:20');
const YESTERDAY = sec('2026-11-24T02:20');
const NOW = sec('2026-11-25T15:00') * 1000;
const used = (tokens: number, start = TODAY): Bucket[] => [{ channel: 1, model: 'm', day: '2026-11-25', start, tokens, requests: 9 }];
const cfg = (reenable = false) =>
  aConfig({ budgets: [aBudget({ channel: 'volc-deepseek', freeTokens: 1_900_000, ...(reenable && { reenableAtRenewal: true }) })], defaults: [aDefault('volc-deepseek', 100)] });

function plan(status: number, priority: number, tokens: number, memory: Memory, reenable = false, nowMs = NOW) {
  const config = cfg(reenable);
  const channels = [aChannel({ id: 1, name: 'volc-deepseek', priority, status })];
  const d = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: used(tokens), nowMs, memory });
  return { d, config, changes: diff(d.channels).map((c) => [c.id, c.from, c.to]), enables: enablesOf(d.channels).map((e) => e.id) };
}

describe('the provider stopped a budget before the logs said so', () => {
  const base = aMemory({ lastResetAt: TODAY });

  it('counts it as spent at that moment, demotes it, and alerts once', () => {
    const { d, config, changes } = plan(3, 100, 1_620_000, base);
    expect(d.budgets[0]).toMatchObject({ state: 'exhausted', stopped: { used: 1_620_000, at: NOW / 1000 } });
    expect(changes).toEqual([[1, 100, 10]]);
    expect(d.channels[0].reason).toBe('budget spent: the provider stopped it (OneAPI auto-disabled the channel) at 1,620,000/1,900,000 tokens, 2026-11-25 15:00 +08:00; counted as spent until its daily window renews');
    const first = detectEvents({ config, decision: d, applied: [], nowMs: NOW, memory: emptyAlertMemory() });
    expect(first.events.filter((e) => e.kind === 'budget-stopped').map((e) => e.title)).toEqual(['The provider stopped volc-deepseek at 1,620,000 of free_tokens 1,900,000: lower free_tokens?']);
    const later = plan(3, 10, 1_620_000, d.memory, false, NOW + 60_000);
    expect(detectEvents({ config, decision: later.d, applied: [], nowMs: NOW + 60_000, memory: first.memory }).events.filter((e) => e.kind === 'budget-stopped')).toEqual([]);
  });

  // [case, status, tokens counted, memory, state]
  const rows: Array<[string, number, number, Memory, string]> = [
    ['enabled again by hand in the same window: still spent', 1, 1_650_000, aMemory({ lastResetAt: TODAY, stopped: { 'volc-deepseek': { window: TODAY, used: 1_620_000, at: TODAY + 3600 } } }), 'exhausted'],
    ['stopped yesterday, enabled today: a new window, not spent', 1, 10_000, aMemory({ lastResetAt: TODAY, stopped: { 'volc-deepseek': { window: YESTERDAY, used: 1_620_000, at: YESTERDAY + 3600 } } }), 'ok'],
    ['disabled by a person (status 2): not the provider', 2, 1_620_000, base, 'warning'],
    ['auto-disabled after demote_at: the logs had it right, no stop recorded as early', 3, 1_850_000, base, 'exhausted'],
  ];
  it.each(rows)('%s', (_name, status, tokens, memory, state) => {
    const { d } = plan(status, 10, tokens, memory);
    expect(d.budgets[0].state).toBe(state);
    if (tokens >= 1_805_000) expect(d.budgets[0].stopped).toBeUndefined();
  });

  it('forgets an earlier window once the channel is enabled, keeps it while it stays auto-disabled', () => {
    const m = aMemory({ lastResetAt: TODAY, stopped: { 'volc-deepseek': { window: YESTERDAY, used: 1_620_000, at: YESTERDAY + 3600 } } });
    expect(plan(1, 100, 0, m).d.memory.stopped).toEqual({});
    expect(plan(3, 10, 0, m).d.memory.stopped['volc-deepseek']).toMatchObject({ window: YESTERDAY });
  });
});

describe('reenable_at_renewal', () => {
  const stoppedYesterday = aMemory({ lastResetAt: TODAY, stopped: { 'volc-deepseek': { window: YESTERDAY, used: 1_620_000, at: YESTERDAY + 3600 } } });

  it('enables a channel the provider stopped in an earlier window, once the window renewed, with the reason', () => {
    const { d, enables } = plan(3, 10, 0, stoppedYesterday, true);
    expect(enables).toEqual([1]);
    expect(d.channels[0].enable).toBe('auto-disabled by OneAPI at 2026-11-24 03:20 +08:00 (its provider stopped volc-deepseek at 1,620,000 tokens); its daily window renewed: enabled again (reenable_at_renewal)');
  });

  it('without the option, says it stays off and why', () => {
    const { d, enables } = plan(3, 10, 0, stoppedYesterday, false);
    expect(enables).toEqual([]);
    expect(d.channels[0].off).toBe('auto-disabled by OneAPI: the provider stopped volc-deepseek at 1,620,000 tokens, 2026-11-24 03:20 +08:00, in an earlier window; stays off until enabled in OneAPI (or set reenable_at_renewal: true)');
  });

  it('never in the window it was stopped in, and never a channel a person disabled', () => {
    expect(plan(3, 10, 1_620_000, aMemory({ lastResetAt: TODAY }), true).enables).toEqual([]);
    expect(plan(2, 10, 0, stoppedYesterday, true).enables).toEqual([]);
  });

  it('not without the memory of the stop (a lost state): it cannot tell when OneAPI disabled it', () => {
    expect(plan(3, 10, 0, aMemory({ lastResetAt: TODAY }), true).enables).toEqual([]);
  });
});
