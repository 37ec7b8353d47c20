import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { events, finished, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { itWith } from '../helpers/tools.js';
import { DEEPSEEK, TZ, logs, world } from '../helpers/world.js';
import type { SimLog } from '../../src/sim/simulator.js';

// Usage ingestion against the real CLI and the simulator: volume, hostile rows, clocks, log stores, model names.

type World = Awaited<ReturnType<typeof world>>;
let w: World | undefined;
const t = useCleanup();
afterEach(async () => {
  await w?.sim.close();
  w = undefined;
});

const KIMI = 'Kimi-K2-Thinking-251104';
const GLM = 'GLM-4-7-251222';

interface StatusBudget {
  name: string;
  used: number;
  requests: number;
  state: string;
  modelField: string | null;
}

async function budgets(env: Record<string, string>, prefix?: string[]): Promise<Record<string, StatusBudget>> {
  const r = await runCli(['status', '--json'], env, { prefix });
  expect(r.stderr).toBe('');
  const report = JSON.parse(r.stdout) as { budgets: StatusBudget[] };
  return Object.fromEntries(report.budgets.map((b) => [b.name, b]));
}

const shift = (rows: SimLog[], bySec: number) => rows.map((r) => ({ ...r, created_at: r.created_at + bySec }));

/**
 * A stamp (OneAPI's clock) just after the last cycle's read end, once OneAPI's clock has moved far enough that the
 * next cycle's read end passes it: rows stamped so are read by the next cycle, however long the last one took.
 */
async function afterLastRead(w: { state: string }, offsetSec = 0): Promise<number> {
  const readTo = (JSON.parse(await readFile(join(w.state, 'state.json'), 'utf8')) as { usage: { cursor: { readTo: number } } }).usage.cursor.readTo;
  await waitFor(() => Date.now() / 1000 + offsetSec - 10 >= readTo + 3, 15_000, 'the next read end to pass the rows');
  return readTo + 1;
}

describe('volume', () => {
  it('counts 200,000 rows in one cold cycle (new-api) and demotes', async () => {
    w = await world({ flavor: 'new-api', logs: logs(1, DEEPSEEK, 200_000, 10, 3000) }); // 2.0M of 1.9M
    const r = await runCli(['once'], { ...w.env, ONEAPI_RATE_LIMIT: '1000000' }, { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(w.priorities()['volc-deepseek']).toBe(10);
    expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 2_000_000, requests: 200_000, state: 'exhausted' });
  }, 150_000);

  it('SIGTERM during a long backfill stops at once, writes nothing, and the next start goes on', async () => {
    w = await world({ logs: logs(1, DEEPSEEK, 3000, 600, 3000) }); // one-api: 300 pages of 10
    const child = t.start(['run', '--interval', '600'], { ...w.env, ONEAPI_RATE_LIMIT: '300' }); // 5 pages a second
    await waitFor(() => w!.sim.requests.filter((q) => q.path === '/api/log/').length >= 10, 15_000, 'the backfill under way');
    const t0 = Date.now();
    child.kill('SIGTERM');
    const r = await finished(child, 10_000);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.code).toBe(0);
    expect(events(r.stdout).map((e) => e.msg)).toEqual(expect.arrayContaining(['cycle cancelled: stopping', 'quota-pilot stopped']));
    expect(events(r.stdout).map((e) => e.msg)).not.toContain('cycle failed');
    expect(w.puts()).toEqual([]);
    JSON.parse(await readFile(join(w.state, 'state.json'), 'utf8')); // saved whole

    const again = await runCli(['once'], w.env, { timeoutMs: 60_000 });
    expect(again.code).toBe(0);
    expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 1_800_000, requests: 3000 });
  }, 90_000);

  it('status --json with 2,000 budgets arrives whole through a pipe', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => `  - channel: volc-deepseek\n    model: model-${i}\n    free_tokens: 1M\n`).join('');
    w = await world({ channels: `timezone: Asia/Shanghai\nchannels:\n${many}` });
    const r = await runCli(['status', '--json'], w.env);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(200_000);
    expect((JSON.parse(r.stdout) as { budgets: unknown[] }).budgets).toHaveLength(2000);
  });
});

describe('hostile rows are skipped, never counted and never fatal', () => {
  it('a negative token count is skipped with a warning, and the channel is still demoted', async () => {
    const bad: SimLog = { ...logs(1, DEEPSEEK, 1, 0)[0]!, raw: { prompt_tokens: -1_500_000 } };
    w = await world({ logs: [...logs(1, DEEPSEEK, 40, 47_000), bad] }); // 1.88M of 1.9M, and a row of -1.5M
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(w.priorities()['volc-deepseek']).toBe(10);
    const skipped = events(r.stderr).filter((e) => e.msg === 'log row skipped');
    expect(skipped).toEqual([expect.objectContaining({ channel: 1, field: 'prompt_tokens', value: -1_500_000, id: expect.any(Number) })]);
    expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 1_880_000, requests: 40 });
  });

  it('a malformed row on another channel blocks neither this demotion nor later ones', async () => {
    const bad: SimLog = { ...logs(3, GLM, 1, 0)[0]!, raw: { completion_tokens: 'lots' } };
    w = await world({ logs: [bad, ...logs(1, DEEPSEEK, 40, 47_000)] });
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(w.priorities()['volc-deepseek']).toBe(10);
    expect(events(r.stderr).find((e) => e.msg === 'log row skipped')).toMatchObject({ channel: 3, field: 'completion_tokens' });

    // The cursor moved past the bad row: Kimi's quota, used up later (after the first read's end), is enforced next.
    const stamped = await afterLastRead(w);
    for (let i = 0; i < 20; i++) w.sim.addLog({ created_at: stamped, channel: 4, model_name: KIMI, prompt_tokens: 50_000, completion_tokens: 45_000 });
    const next = await runCli(['once'], w.env);
    expect(next.code).toBe(0);
    expect(w.priorities()['volc-kimi']).toBe(10);
    expect(events(next.stderr).filter((e) => e.msg === 'log row skipped')).toEqual([]); // warned once, not every cycle
  });
});

describe("OneAPI's clock, not ours", () => {
  for (const offsetSec of [-600, 600]) {
    it(`OneAPI ${Math.abs(offsetSec / 60)} minutes ${offsetSec < 0 ? 'behind' : 'ahead'}: every row counted, the skew warned about`, async () => {
      // Rows are stamped by OneAPI's clock.
      w = await world({ clockOffsetSec: offsetSec, logs: shift(logs(1, DEEPSEEK, 40, 47_000), offsetSec) });
      const firstAt = Math.floor(Date.now() / 1000);
      const r = await runCli(['once'], w.env);
      expect(r.code).toBe(0);
      expect(w.priorities()['volc-deepseek']).toBe(10);
      const warned = events(r.stderr).find((e) => e.msg === "OneAPI's clock differs from ours; reading by OneAPI's clock");
      expect(Math.abs((warned?.skewSec as number) - offsetSec)).toBeLessThanOrEqual(1);
      expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 1_880_000, requests: 40 });

      // Rows written since, stamped by OneAPI's clock just after the first cycle's read end, are read on the next
      // cycle. The cursor is on OneAPI's clock: 10 s behind the cycle's start by that clock, not by ours.
      const stamped = await afterLastRead(w, offsetSec);
      expect(Math.abs(stamped - (firstAt + offsetSec - 10))).toBeLessThanOrEqual(30);
      for (let i = 0; i < 3; i++) w.sim.addLog({ created_at: stamped, channel: 1, model_name: DEEPSEEK, prompt_tokens: 500, completion_tokens: 500 });
      expect((await runCli(['once'], w.env)).code).toBe(0);
      expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 1_883_000, requests: 43 });
    });
  }

  itWith('faketime', 'a local clock set back an hour loses no rows (faketime)', async (lib) => {
    // OneAPI's clock is driven by the test; the CLI's by libfaketime. Both start at 14:00 Asia/Shanghai.
    const start = Math.floor(DateTime.fromISO('2026-11-24T14:00', { zone: TZ }).toSeconds());
    let oneapiNow = start;
    const batch = (from: number, n: number, tokens: number): SimLog[] =>
      Array.from({ length: n }, (_, i) => ({ created_at: from + i * 20, channel: 1, model_name: DEEPSEEK, prompt_tokens: tokens, completion_tokens: 0 }));
    w = await world({ logs: batch(start - 600, 20, 50_000), sim: { now: () => oneapiNow * 1000 } });
    const at = (sec: number) => ({ ...w!.env, TZ: 'UTC', LD_PRELOAD: lib, FAKETIME: `@${DateTime.fromSeconds(sec, { zone: 'UTC' }).toFormat('yyyy-MM-dd HH:mm:ss')}` });

    expect((await runCli(['once'], at(start))).code).toBe(0);
    expect((await budgets(at(start)))['volc-deepseek']).toMatchObject({ used: 1_000_000, requests: 20 });

    // Ten minutes later by OneAPI's clock, 900,000 more tokens were served; our clock has been set back an hour.
    oneapiNow = start + 600;
    for (const row of batch(start + 60, 20, 45_000)) w.sim.addLog(row);
    const ours = start + 600 - 3600;
    const r = await runCli(['once'], at(ours));
    expect(r.code).toBe(0);
    expect(events(r.stderr).find((e) => e.msg === "OneAPI's clock differs from ours; reading by OneAPI's clock")).toMatchObject({ skewSec: expect.any(Number) });
    expect(w.priorities()['volc-deepseek']).toBe(10);
    expect((await budgets(at(ours)))['volc-deepseek']).toMatchObject({ used: 1_900_000, requests: 40 });
  });
});

describe('new-api', () => {
  it('with a ClickHouse log store (ids repeat on every page) counts every row, once', async () => {
    w = await world({ flavor: 'new-api', logs: logs(1, DEEPSEEK, 250, 7_000), sim: { logStore: 'clickhouse' } });
    expect((await runCli(['once'], w.env)).code).toBe(0);
    expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 1_750_000, requests: 250 });
    expect(w.priorities()['volc-deepseek']).toBe(100);

    // 150 rows written since: stamped after the first cycle's read end (10 s behind its start), before the next one's.
    const stamped = await afterLastRead(w);
    for (let i = 0; i < 150; i++) w.sim.addLog({ created_at: stamped, channel: 1, model_name: DEEPSEEK, prompt_tokens: 600, completion_tokens: 400 });
    expect((await runCli(['once'], w.env)).code).toBe(0);
    expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 1_900_000, requests: 400 });
    expect(w.priorities()['volc-deepseek']).toBe(10);
  });

  it('budgets match the upstream model (other.upstream_model_name), not the alias a client asked for', async () => {
    const aliased = logs(1, 'deepseek-chat', 40, 47_000).map((r) => ({ ...r, upstream_model: DEEPSEEK }));
    // Asked for by its upstream name but mapped to another model: not DeepSeek's allowance.
    const remapped = logs(1, DEEPSEEK, 10, 100_000).map((r) => ({ ...r, upstream_model: 'deepseek-r1-250528' }));
    w = await world({ flavor: 'new-api', logs: [...aliased, ...remapped] });
    const r = await runCli(['once'], w.env);
    expect(r.code).toBe(0);
    expect(w.priorities()['volc-deepseek']).toBe(10);
    expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 1_880_000, requests: 40, modelField: 'other.upstream_model_name, else model_name' });
    const table = await runCli(['status'], w.env);
    expect(table.stdout).toContain('per-model budgets matched on other.upstream_model_name, else model_name (new-api logs)');
  });
});

it('one-api budgets match model_name, and status says so', async () => {
  w = await world({ logs: logs(1, DEEPSEEK, 3, 1000) });
  expect((await runCli(['once'], w.env)).code).toBe(0);
  expect((await budgets(w.env))['volc-deepseek']).toMatchObject({ used: 3000, modelField: 'model_name' });
});
