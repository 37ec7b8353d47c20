import { expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { events, finished, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DEEPSEEK, TZ, logs, world } from '../helpers/world.js';

// A reload that adds a budget renewing at a new time re-reads only that budget's channel (issue 16, item 4).

const t = useCleanup();
const GLM = 'GLM-4-7-251222';
const KIMI = 'Kimi-K2-Thinking-251104';

const budget = (channel: string, model: string, extra = '') => `  - channel: ${channel}\n    model: ${model}\n    free_tokens: 1.9M\n${extra}`;
const before = `timezone: ${TZ}\nchannels:\n${budget('volc-deepseek', DEEPSEEK)}${budget('volc-glm', GLM)}`;
const after = `${before}${budget('volc-kimi', KIMI, '    reset_at: "20:00"\n')}`;

type Day = { day: string; byChannel: Record<string, { tokens: number; requests: number }> };
const daysOf = (stdout: string, channels: string[]) =>
  (JSON.parse(stdout) as { days: Day[] }).days.map((d) => ({ day: d.day, ...Object.fromEntries(channels.map((c) => [c, d.byChannel[c] ?? null])) }));

it('SIGHUP with a budget at a new reset_at: only its channel is read again; the others and the report history are kept', async () => {
  // 2,000 rows on two budgeted channels (one-api: 10 rows a page), 5 on the channel that gets a budget.
  const w = await world({ channels: before, logs: [...logs(1, DEEPSEEK, 1000, 100, 3000), ...logs(3, GLM, 1000, 100, 3000), ...logs(4, KIMI, 5, 100)] });
  t.add(() => w.sim.close());
  expect((await runCli(['once'], w.env)).code).toBe(0);
  // History from an earlier day (the daemon ran then): only the state holds it, no log read brings it back.
  const file = join(w.state, 'state.json');
  const state = JSON.parse(await readFile(file, 'utf8'));
  const old = DateTime.now().setZone(TZ).minus({ days: 3 }).startOf('day');
  state.usage.buckets.push({ channel: 1, model: DEEPSEEK, day: old.toISODate(), start: Math.floor(old.toSeconds()), tokens: 777, requests: 7 });
  await writeFile(file, JSON.stringify(state));
  const report = async () => (await runCli(['report', '--json', '--days', '5'], w.env)).stdout;
  const historyBefore = daysOf(await report(), ['1', '3']);
  expect(historyBefore.find((d) => d.day === old.toISODate())).toMatchObject({ 1: { tokens: 777, requests: 7 } });

  const child = t.start(['run', '--interval', '600', '--listen', 'off'], w.env);
  await waitFor(() => events(child.out()).some((e) => e.msg === 'cycle done'), 20_000, 'the first cycle').catch((e) => { throw new Error(`${e}: ${child.out()} ${child.err()}`); });
  w.sim.requests.length = 0;
  await writeFile(join(w.cfg, 'channels.yaml'), after);
  child.kill('SIGHUP');
  await waitFor(() => events(child.out()).filter((e) => e.msg === 'cycle done').length >= 2, 10_000, 'a cycle with the new config');
  const reloadRequests = w.sim.requests.splice(0);
  // One more cycle: back to the steady read (no recount, no extra channel list).
  child.kill('SIGHUP');
  await waitFor(() => events(child.out()).filter((e) => e.msg === 'cycle done').length >= 3, 10_000, 'a steady cycle');
  expect(w.sim.requests.filter((r) => r.path.startsWith('/api/channel')).length).toBe(1);
  expect(w.sim.requests.filter((r) => r.query.channel !== undefined)).toEqual([]);
  w.sim.requests = reloadRequests;
  child.kill('SIGTERM');
  expect((await finished(child, 10_000)).code).toBe(0);

  // Before: every channel read again from the window's start (200+ pages). Now: the new budget's channel (one page)
  // and the usual read of what is new.
  const logReads = w.sim.requests.filter((r) => r.path.startsWith('/api/log'));
  expect(logReads.length).toBeLessThanOrEqual(4);
  expect(logReads.filter((r) => r.query.channel !== undefined).map((r) => r.query.channel)).toEqual(['4']);
  const recount = events(child.out()).find((e) => e.msg === 'usage recounted for a new bucket layout');
  expect(recount).toMatchObject({ channels: [4], reason: 'reset_at 20:00 added' });

  const status = JSON.parse((await runCli(['status', '--json'], w.env)).stdout) as { budgets: Array<{ name: string; used: number; requests: number }> };
  expect(Object.fromEntries(status.budgets.map((b) => [b.name, [b.used, b.requests]]))).toEqual({
    'volc-deepseek': [100_000, 1000],
    'volc-glm': [100_000, 1000],
    'volc-kimi': [500, 5],
  });
  expect(daysOf(await report(), ['1', '3'])).toEqual(historyBefore);
}, 60_000);
