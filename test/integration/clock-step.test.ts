import { afterAll, afterEach, beforeAll, describe, expect } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { events, runCli } from '../helpers/cli.js';
import { DB_CHANNELS, describeWith, openSqlite, type TestDb } from '../helpers/databases.js';
import { itWith } from '../helpers/tools.js';
import { DEEPSEEK, TZ, world } from '../helpers/world.js';
import type { SimulatorOptions } from '../../src/sim/types.js';

// OneAPI on the same host as quota-pilot, and the host's clock set back an hour: both clocks step back together, and
// rows written after the step are stamped below the last read end (issue 16, item 9). The CLI runs under faketime;
// the simulator's clock moves with it.

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

/** 2026-11-24 14:00 Asia/Shanghai: the daily window started at 02:20, so an hour back stays inside it. */
const T0 = DateTime.fromISO('2026-11-24T14:00', { zone: TZ }).toMillis();

/** A host clock that tests set: the simulator reads it, and each CLI run starts from it under faketime. */
function hostClock() {
  let offsetMs = T0 - Date.now();
  return {
    now: () => Date.now() + offsetMs,
    /** Sets the host clock to `ms` (a step, or time going on). */
    set: (ms: number) => void (offsetMs = ms - Date.now()),
  };
}

async function cli(args: string[], lib: string, clock: { now: () => number }) {
  const at = DateTime.fromMillis(clock.now(), { zone: 'UTC' }).toFormat('yyyy-MM-dd HH:mm:ss');
  return runCli(args, { ...w!.env, TZ: 'UTC', LD_PRELOAD: lib, FAKETIME: `@${at}`, FAKETIME_DONT_RESET: '1' });
}

async function used(lib: string, clock: { now: () => number }) {
  const r = await cli(['status', '--json'], lib, clock);
  const b = (JSON.parse(r.stdout) as { budgets: Array<{ name: string; used: number; requests: number }> }).budgets.find((x) => x.name === 'volc-deepseek')!;
  return { used: b.used, requests: b.requests };
}

const cases: Array<[string, SimulatorOptions, string]> = [
  ['one-api (ids rise in insert order: read around by id)', { flavor: 'one-api' }, 'ids above the highest counted'],
  ['new-api with a ClickHouse log store (ids are positions: created_at and request_id)', { flavor: 'new-api', logStore: 'clickhouse' }, 'recount of the windows'],
];

describe('both clocks stepped back an hour', () => {
  for (const [name, sim, how] of cases)
    itWith('faketime', `${name}: every row counted exactly once`, async (lib) => {
      const clock = hostClock();
      w = await world({ flavor: sim.flavor, sim: { ...sim, now: clock.now } });
      const row = (atSec: number) => w!.sim.addLog({ created_at: Math.floor(atSec), channel: 1, model_name: DEEPSEEK, prompt_tokens: 600, completion_tokens: 400 });
      const sec = () => clock.now() / 1000;
      for (let i = 0; i < 20; i++) row(sec() - 600 + i * 25); // the last 10 minutes
      expect((await cli(['once'], lib, clock)).code).toBe(0);
      expect(await used(lib, clock)).toEqual({ used: 20_000, requests: 20 });
      const readTo = (JSON.parse(await readFile(join(w.state, 'state.json'), 'utf8')) as { usage: { cursor: { readTo: number } } }).usage.cursor.readTo;

      // The step: an hour back. Rows written now carry the stepped-back created_at, below the last read end.
      clock.set(clock.now() - 3_600_000);
      for (let i = 0; i < 5; i++) row(sec() - 60 + i * 5);
      expect(sec()).toBeLessThan(readTo);
      const stepped = await cli(['once'], lib, clock);
      expect(stepped.code).toBe(0);
      const warned = events(stepped.stderr).filter((e) => e.msg === "OneAPI's clock went back; reading around it");
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ how });
      expect(Number(warned[0].backSec)).toBeGreaterThan(3500);
      expect(await used(lib, clock)).toEqual({ used: 25_000, requests: 25 });

      // Time goes on from the stepped-back clock: a row half an hour on, another once the old read end is passed.
      clock.set(clock.now() + 1_800_000);
      row(sec() - 30);
      const later = await cli(['once'], lib, clock);
      expect(events(later.stderr).some((e) => e.msg === "OneAPI's clock went back; reading around it")).toBe(false);
      expect(await used(lib, clock)).toEqual({ used: 26_000, requests: 26 });
      clock.set(readTo * 1000 + 300_000);
      row(sec() - 30);
      expect((await cli(['once'], lib, clock)).code).toBe(0);
      expect(await used(lib, clock)).toEqual({ used: 27_000, requests: 27 });
    }, 60_000);
});

describeWith('sqlite', 'the database source with both clocks stepped back')('the database source (SQLite), both clocks stepped back an hour', () => {
  let db: TestDb;
  beforeAll(async () => void (db = await openSqlite()));
  afterAll(async () => db?.stop());

  itWith('faketime', 'rows written after the step, stamped below the last read end, are counted once, by their ids', async (lib) => {
    const clock = hostClock();
    await db.createLogs('one-api');
    w = await world({ channels: DB_CHANNELS, sim: { now: clock.now } });
    w.env = { ...w.env, ONEAPI_DB_URL: db.url };
    const sec = () => clock.now() / 1000;
    const rows = (ats: number[]) => db.insert(ats.map((at) => ({ created_at: Math.floor(at), channel: 1, model_name: DEEPSEEK, prompt_tokens: 600, completion_tokens: 400 })), 'one-api');
    await rows(Array.from({ length: 20 }, (_, i) => sec() - 600 + i * 25));
    expect((await cli(['once'], lib, clock)).code).toBe(0);
    expect(await used(lib, clock)).toEqual({ used: 20_000, requests: 20 });

    clock.set(clock.now() - 3_600_000);
    await rows([0, 1, 2, 3, 4].map((i) => sec() - 300 + i * 5)); // far below the settled line (the last read end − 120 s)
    const stepped = await cli(['once'], lib, clock);
    expect(stepped.code).toBe(0);
    expect(events(stepped.stderr).filter((e) => e.msg === "OneAPI's clock went back; reading around it")).toMatchObject([{ how: 'ids above the highest counted' }]);
    expect(await used(lib, clock)).toEqual({ used: 25_000, requests: 25 });

    clock.set(clock.now() + 1_800_000);
    await rows([sec() - 30]);
    expect((await cli(['once'], lib, clock)).code).toBe(0);
    expect((await cli(['once'], lib, clock)).code).toBe(0);
    expect(await used(lib, clock)).toEqual({ used: 26_000, requests: 26 });
  }, 60_000);
});
