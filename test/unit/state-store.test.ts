import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { emptyState, STATE_VERSION, stateCodec, type State } from '../../src/reconcile/state.js';
import { acquireStateLock, StateLockedError } from '../../src/state/lock.js';
import { openStateStore, StateFileRefused } from '../../src/state/store.js';

const dir = () => mkdtemp(join(tmpdir(), 'qp-store-'));

/** A logger whose lines the test can read. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines };
}

function aState(): State {
  const s = emptyState();
  s.usage = { signature: 'Asia/Shanghai|00:00,02:20', watermark: 1_764_000_000, cursor: null, buckets: [{ channel: 1, model: 'm', day: '2026-11-24', start: 1_763_920_800, tokens: 1200, requests: 3 }] };
  s.memory = { lastResetAt: 1_763_920_800, warned: { 'volc-deepseek': 1_763_920_800 }, demoted: { '1': { at: 1_763_990_000, reason: 'budget exhausted' } }, windows: { 'volc-deepseek': 1_763_920_800 }, pending: { '1': { to: 100, from: 10, cause: 'reset', at: 1_763_990_100, reason: 'nightly reset', tries: 1 } }, refs: { 'volc-deepseek': 1 }, stopped: {} };
  return s;
}

const good = aState();
const v1 = { version: 1, usage: good.usage, memory: { lastResetAt: 5, warned: {}, demoted: {} }, lastCycle: null, lastSuccessAt: null };
const text = JSON.stringify(good);

/** The corpus: files that parse (or not) but must never be trusted. */
const CORRUPT: Array<[string, string, RegExp]> = [
  ['truncated', text.slice(0, text.length / 2), /not JSON/],
  ['empty file', '', /not JSON/],
  ['an array', '[]', /not a JSON object/],
  ['no version', JSON.stringify({ ...good, version: undefined }), /no valid version/],
  ['future version', JSON.stringify({ ...good, version: STATE_VERSION + 1 }), new RegExp(`written by a newer quota-pilot \\(version ${STATE_VERSION + 1}`)],
  ['usage.coveredFrom-style missing field', JSON.stringify({ ...good, usage: { ...good.usage, buckets: undefined } }), /usage\.buckets/],
  ['memory.demoted: null', JSON.stringify({ ...good, memory: { ...good.memory, demoted: null } }), /memory\.demoted/],
  ['bucket tokens as strings', JSON.stringify({ ...good, usage: { ...good.usage, buckets: [{ ...good.usage.buckets[0], tokens: '1317022' }] } }), /usage\.buckets\.0\.tokens/],
  ['lastResetAt as a string', JSON.stringify({ ...good, memory: { ...good.memory, lastResetAt: '1763920800' } }), /memory\.lastResetAt/],
  ['null warned map in a v1 file', JSON.stringify({ ...v1, memory: { ...v1.memory, warned: null } }), /memory\.warned/],
  ['a pace track one used value short', JSON.stringify({ ...good, pace: { 'b/m': { windowStart: 0, at: [1, 2], used: [5] } } }), /pace\.b\/m\.used: expected an array as long as at \(2\)/],
  ['pace times out of order', JSON.stringify({ ...good, pace: { 'b/m': { windowStart: 0, at: [2, 1], used: [5, 6] } } }), /pace\.b\/m\.at\.1: expected a number above the one before, got 1/],
  ['a pace used value as a string', JSON.stringify({ ...good, pace: { 'b/m': { windowStart: 0, at: [1], used: ['5'] } } }), /pace\.b\/m\.used\.0: expected a number, got "5"/],
  ['a version-2 pace sample without used', JSON.stringify({ ...good, version: 2, pace: { 'b/m': [{ at: 1, used: 5, windowStart: 0 }, { at: 2, windowStart: 0 }] } }), /pace\.b\/m: expected a record of windowStart, at and used/],
  ['pace as a list', JSON.stringify({ ...good, pace: [] }), /pace: expected an object of pace tracks/],
  ['watermark NaN-ish', JSON.stringify({ ...good, usage: { ...good.usage, watermark: 'soon' } }), /usage\.watermark/],
];

describe('state store: load never trusts a bad file', () => {
  it.each(CORRUPT)('%s: moved aside, logged, an empty state instead', async (_name, content, problem) => {
    const d = await dir();
    await writeFile(join(d, 'state.json'), content);
    const { log, lines } = capture();
    const store = openStateStore(d, stateCodec, log, () => 42);
    expect(await store.load()).toEqual(emptyState());
    expect((await readdir(d)).sort()).toEqual(['state.json.corrupt-42']);
    expect(await readFile(join(d, 'state.json.corrupt-42'), 'utf8')).toBe(content);
    const line = lines.find((l) => l.msg === 'state file not usable; moved aside, rebuilding from OneAPI');
    expect(line).toMatchObject({ level: 50, movedTo: join(d, 'state.json.corrupt-42') });
    expect(String(line?.problem)).toMatch(problem);
    // and the next save starts a good file again
    await store.save(good);
    expect(await store.load()).toEqual(good);
  });

  it.each(CORRUPT)('%s: peek (a reader) reads it as empty and leaves it where it is', async (_name, content, problem) => {
    const d = await dir();
    await writeFile(join(d, 'state.json'), content);
    const { log, lines } = capture();
    expect(await openStateStore(d, stateCodec, log, () => 42).peek()).toEqual(emptyState());
    expect(await readdir(d)).toEqual(['state.json']);
    const line = lines.find((l) => l.msg === 'state file not usable; left as it is, reading as empty');
    expect(String(line?.problem)).toMatch(problem);
  });

  it('a parse error never quotes the file (JSON.parse would: Unexpected token \'r\', "root:$y$j9"...)', async () => {
    const d = await dir();
    await writeFile(join(d, 'state.json'), 'root:$y$j9T$hash');
    const { log, lines } = capture();
    await openStateStore(d, stateCodec, log, () => 42).load();
    expect(JSON.stringify(lines)).not.toMatch(/root/);
    expect(lines.find((l) => l.msg === 'state file not usable; moved aside, rebuilding from OneAPI')).toMatchObject({ problem: 'not JSON' });
  });

  it('a symlinked state.json: peek refuses it, load moves the link aside; its target is never read', async () => {
    const d = await dir();
    const target = join(d, 'elsewhere.json');
    await writeFile(target, JSON.stringify(good));
    await symlink(target, join(d, 'state.json'));
    const store = openStateStore(d, stateCodec, capture().log, () => 42);
    await expect(store.peek()).rejects.toThrow(StateFileRefused);
    expect(await readlink(join(d, 'state.json'))).toBe(target);
    expect(await store.load()).toEqual(emptyState());
    expect(await readlink(join(d, 'state.json.corrupt-42'))).toBe(target);
    expect(await readFile(target, 'utf8')).toBe(JSON.stringify(good));
  });

  it('migrates a version-1 file (alerts, names and pace missing; no windows) and says so', async () => {
    const d = await dir();
    await writeFile(join(d, 'state.json'), JSON.stringify(v1));
    const { log, lines } = capture();
    const loaded = await openStateStore(d, stateCodec, log).load();
    expect(loaded).toEqual({ ...emptyState(), usage: good.usage, memory: { lastResetAt: 5, warned: {}, demoted: {}, windows: {}, pending: {}, refs: {}, stopped: {} } });
    expect(lines.find((l) => l.msg === 'state file migrated')).toMatchObject({ from: 1, to: STATE_VERSION });
  });

  it('migrates a version-2 pace (a sample object each) to one track per budget: its newest window, in time order, from its start', async () => {
    const d = await dir();
    const [w0, w1] = [1_763_834_400, 1_763_920_800];
    const pace = {
      a: [{ at: w1 + 60, used: 10, windowStart: w1 }, { at: w1 - 30, used: 99, windowStart: w0 }, { at: w1 + 30, used: 5, windowStart: w1 }, { at: w1 + 60, used: 12, windowStart: w1 }],
      b: [],
    };
    await writeFile(join(d, 'state.json'), JSON.stringify({ ...good, version: 2, pace }));
    const { log, lines } = capture();
    const loaded = await openStateStore(d, stateCodec, log).load();
    expect(loaded).toEqual({ ...good, pace: { a: { windowStart: w1, at: [30, 60], used: [5, 12] }, b: { windowStart: 0, at: [], used: [] } } });
    expect(lines.find((l) => l.msg === 'state file migrated')).toMatchObject({ from: 2, to: 3 });
  });

  it('a missing file is an empty state, without a warning', async () => {
    const { log, lines } = capture();
    expect(await openStateStore(await dir(), stateCodec, log).load()).toEqual(emptyState());
    expect(lines).toEqual([]);
  });
});

describe('state store: save', () => {
  it('is atomic under 30 concurrent writers in one process: always one complete file, no temp files left', async () => {
    const d = await dir();
    const store = openStateStore(d, stateCodec);
    const states = Array.from({ length: 30 }, (_, i) => ({ ...good, lastSuccessAt: i }));
    await Promise.all(states.map((s) => store.save(s)));
    const loaded = await store.load();
    expect(states).toContainEqual(loaded);
    expect(await readdir(d)).toEqual(['state.json']);
  });

  it('fails loudly when the directory cannot hold the file', async () => {
    const d = await dir();
    await writeFile(join(d, 'file'), 'x');
    await expect(openStateStore(join(d, 'file', 'state'), stateCodec).save(good)).rejects.toThrow(/ENOTDIR|EEXIST/);
  });
});

describe('state lock', () => {
  it('one holder at a time: a second waits, then says who holds it', async () => {
    const d = await dir();
    const release = await acquireStateLock(d, 'run', 0);
    const err = await acquireStateLock(d, 'once', 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateLockedError);
    expect((err as Error).message).toMatch(new RegExp(`locked by quota-pilot run \\(pid ${process.pid} on ${hostname()}, since .*\\); waited 0 s .*the daemon is using this state dir`));
    await release();
    const again = await acquireStateLock(d, 'once', 0);
    await again();
    expect(await readdir(d)).toEqual([]);
  });

  it('a waiting writer gets the lock as soon as the holder lets go', async () => {
    const d = await dir();
    const release = await acquireStateLock(d, 'run', 0);
    setTimeout(() => void release(), 250);
    const t0 = Date.now();
    const mine = await acquireStateLock(d, 'once', 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    await mine();
  });

  it('takes over a lock whose process is gone', async () => {
    const d = await dir();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await writeFile(join(d, 'state.lock'), JSON.stringify({ pid: Number(dead), host: hostname(), command: 'once', since: 1 }));
    const release = await acquireStateLock(d, 'run', 0);
    expect(JSON.parse(await readFile(join(d, 'state.lock'), 'utf8'))).toMatchObject({ pid: process.pid, command: 'run' });
    await release();
  });
});
