import { describe, expect, it } from '@jest/globals';
import { closeSync, fstatSync, openSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { detectEvents, emptyAlertMemory } from '../../src/events/detect.js';
import { OutageTracker } from '../../src/events/outage.js';
import { isJournal, journalStream, syslogPriority } from '../../src/platform/logger.js';
import { decide } from '../../src/policy/decide.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import { project, recordPace } from '../../src/usage/burn.js';
import type { Bucket } from '../../src/usage/buckets.js';
import { aBudget, aChannel, aConfig, aDefault, aMemory, aTrack } from '../helpers/builders.js';

const TZ = 'Asia/Shanghai';
const sec = (iso: string) => Math.floor(DateTime.fromISO(iso, { zone: TZ }).toSeconds());
const ms = (iso: string) => sec(iso) * 1000;
const config = aConfig({ budgets: [aBudget({ channel: 'volc-deepseek', freeTokens: 1_000_000 })], defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)] });
const used = (tokens: number): Bucket[] => [{ channel: 1, model: 'm', day: '2026-11-24', start: sec('2026-11-24T02:20'), tokens, requests: 1 }];
const chans = (status = 1) => [aChannel({ id: 1, name: 'volc-deepseek', priority: 100, status }), aChannel({ id: 2, name: 'paid-deepseek', priority: 50 })];

function cycle(tokens: number, nowIso: string, status = 1, memory = emptyAlertMemory()) {
  const channels = chans(status);
  const decision = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: used(tokens), nowMs: ms(nowIso), memory: aMemory({ lastResetAt: sec('2026-11-24T02:20') }) });
  return detectEvents({ config, decision, applied: [], nowMs: ms(nowIso), memory });
}

describe('project', () => {
  it('extrapolates the window average', () => {
    const channels = chans();
    const d = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: used(500_000), nowMs: ms('2026-11-24T12:20'), memory: aMemory({ lastResetAt: 0 }) });
    // 500k in 10 h: 50k/h; 500k left -> 10 more hours: 22:20, before the 02:20 renewal.
    expect(project(d.budgets[0], ms('2026-11-24T12:20'))).toEqual({ tokensPerHour: 50_000, runsOutAt: sec('2026-11-24T22:20'), beforeWindowEnds: true });
  });

  it('prefers the pace of the last hour, from samples of the same window', () => {
    const channels = chans();
    const now = ms('2026-11-24T12:20');
    const d = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: used(500_000), nowMs: now, memory: aMemory({ lastResetAt: 0 }) });
    const track = aTrack(sec('2026-11-24T02:20'), [
      [sec('2026-11-24T11:00'), 100_000], // too old: over an hour
      [sec('2026-11-24T11:20'), 300_000], // 200k in the last hour
      [sec('2026-11-24T12:15'), 490_000], // too recent to trust
    ]);
    expect(project(d.budgets[0], now, track)).toEqual({ tokensPerHour: 200_000, runsOutAt: sec('2026-11-24T14:50'), beforeWindowEnds: true });
    const log = recordPace({ [d.budgets[0].budget.key]: track }, d.budgets, now);
    // Times count from the window's start (02:20).
    expect(log[d.budgets[0].budget.key]).toEqual({ windowStart: sec('2026-11-24T02:20'), at: [9 * 3600, 9 * 3600 + 3300, 10 * 3600], used: [300_000, 490_000, 500_000] });
    // A track of another window (the previous day's) is not this window's pace: the window average is used.
    expect(project(d.budgets[0], now, { ...track, windowStart: sec('2026-11-23T02:20') }).tokensPerHour).toBe(50_000);
    expect(recordPace({ [d.budgets[0].budget.key]: { ...track, windowStart: sec('2026-11-23T02:20') } }, d.budgets, now)[d.budgets[0].budget.key].at).toEqual([10 * 3600]);
  });

  it('keeps every sample of the last 15 minutes, one per 5 minutes before that, and one per second', () => {
    const channels = chans();
    const now = ms('2026-11-24T12:20');
    const d = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: used(500_000), nowMs: now, memory: aMemory({ lastResetAt: 0 }) });
    const key = d.budgets[0].budget.key;
    const windowStart = sec('2026-11-24T02:20');
    // A daemon polling every 30 s for the last hour, and an operator's `once` in this very second.
    const track = aTrack(windowStart, [...Array.from({ length: 120 }, (_, i) => [now / 1000 - 3600 + 30 * i, 1_000 * i] as const), [now / 1000, 999]]);
    const next = recordPace({ [key]: track }, d.budgets, now)[key];
    // Ages: 3600 .. 900 every 300 s (10), every 30 s from 870 s to 30 s (29), then this cycle's sample.
    expect(next.at.map((at) => now / 1000 - windowStart - at)).toEqual([...Array.from({ length: 10 }, (_, i) => 3600 - 300 * i), ...Array.from({ length: 29 }, (_, i) => 870 - 30 * i), 0]);
    expect([next.windowStart, next.at.at(-1), next.used.at(-1), next.used.length]).toEqual([windowStart, now / 1000 - windowStart, 500_000, 40]);
  });
});

describe('detectEvents', () => {
  it('announces a projected exhaustion once per window', () => {
    const first = cycle(500_000, '2026-11-24T12:20');
    expect(first.events.map((e) => [e.kind, e.title])).toEqual([['budget-projected', 'volc-deepseek will run out at 2026-11-24 22:20 +08:00']]);
    expect(cycle(520_000, '2026-11-24T12:30', 1, first.memory).events).toEqual([]);
  });

  it('does not project from the first minutes of a window', () => {
    expect(cycle(200_000, '2026-11-24T02:50').events).toEqual([]);
  });

  it('announces an auto-disabled channel once, and again after it was re-enabled and disabled', () => {
    // (Each cycle here starts from a fresh policy memory, so each sees the provider's stop as new: budget-stopped is
    // tested with its memory in provider-stopped.test.ts.)
    const kinds = (r: ReturnType<typeof cycle>) => r.events.map((e) => e.kind).filter((k) => k !== 'budget-stopped');
    const a = cycle(0, '2026-11-24T12:00', 3);
    expect(a.events.map((e) => e.kind)).toEqual(['budget-stopped', 'channel-auto-disabled']);
    const b = cycle(0, '2026-11-24T12:01', 3, a.memory);
    expect(kinds(b)).toEqual([]);
    const c = cycle(0, '2026-11-24T12:02', 1, b.memory);
    expect(kinds(cycle(0, '2026-11-24T12:03', 3, c.memory))).toEqual(['channel-auto-disabled']);
  });

  it('turns applied changes into demoted and restored events with the reason', () => {
    const channels = chans();
    const decision = decide({ config, resolution: resolveRefs(config, channels), channels, buckets: used(0), nowMs: ms('2026-11-24T12:00'), memory: aMemory({ lastResetAt: 0 }) });
    const { events } = detectEvents({ config, decision, nowMs: ms('2026-11-24T12:00'), memory: emptyAlertMemory(), applied: [{ id: 1, name: 'volc-deepseek', from: 100, to: 10, reason: 'budget exhausted: x' }, { id: 2, name: 'paid-deepseek', from: 1, to: 50, reason: 'nightly reset: y' }] });
    expect(events.map((e) => [e.kind, e.title, e.text])).toEqual([
      ['channel-demoted', 'volc-deepseek demoted: priority 100 -> 10', 'budget exhausted: x'],
      ['channel-restored', 'paid-deepseek restored: priority 1 -> 50', 'nightly reset: y'],
      ['reset-done', 'Nightly reset done: 1 restored, 0 still demoted', 'Restored: paid-deepseek (#2). Still demoted (quota not renewed): none.'],
    ]);
  });
});

describe('OutageTracker', () => {
  it('announces an outage after N minutes, once, and its end', () => {
    const t = new OutageTracker(5);
    const err = { kind: 'unreachable', message: 'ECONNREFUSED' };
    expect(t.failed(err, 1000)).toEqual([]);
    expect(t.failed(err, 1000 + 299)).toEqual([]);
    expect(t.failed(err, 1000 + 300).map((e) => e.title)).toEqual(['OneAPI unreachable for 5 minutes']);
    expect(t.failed(err, 1000 + 600)).toEqual([]);
    expect(t.succeeded(1000 + 900).map((e) => e.title)).toEqual(['OneAPI reachable again after 15 minutes']);
    expect(t.succeeded(1000 + 960)).toEqual([]);
  });

  it('announces a refused token once per streak, at once', () => {
    const t = new OutageTracker(5);
    expect(t.failed({ kind: 'auth', message: 'refused' }, 1).map((e) => e.kind)).toEqual(['auth-rejected']);
    expect(t.failed({ kind: 'auth', message: 'refused' }, 2)).toEqual([]);
    expect(t.succeeded(3)).toEqual([]);
    expect(t.failed({ kind: 'auth', message: 'refused' }, 4)).toHaveLength(1);
  });

  it('does not announce a short blip', () => {
    const t = new OutageTracker(5);
    t.failed({ kind: 'server', message: '502' }, 0);
    expect(t.succeeded(120)).toEqual([]);
  });
});

describe('journald levels', () => {
  it('maps pino levels to syslog priorities', () => {
    expect([60, 50, 40, 30, 20, 10].map(syslogPriority)).toEqual([2, 3, 4, 6, 7, 7]);
  });

  it('prefixes each line with its priority', () => {
    const out: string[] = [];
    const s = journalStream({ write: (x: string) => out.push(x) });
    s.write('{"level":40,"msg":"budget warning"}\n');
    s.write('{"level":30,"msg":"cycle done"}\n');
    expect(out).toEqual(['<4>{"level":40,"msg":"budget warning"}\n', '<6>{"level":30,"msg":"cycle done"}\n']);
  });

  it('recognises the journal stream by device and inode', () => {
    const fd = openSync(join(tmpdir(), `qp-journal-${process.pid}`), 'w');
    const st = fstatSync(fd);
    expect(isJournal(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino}` })).toBe(true);
    expect(isJournal(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` })).toBe(false);
    expect(isJournal(fd, {})).toBe(false);
    closeSync(fd);
    unlinkSync(join(tmpdir(), `qp-journal-${process.pid}`));
  });
});
