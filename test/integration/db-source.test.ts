import { afterAll, afterEach, beforeAll, expect, it, jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Flavor } from '../../src/oneapi/types.js';
import type { SimLog } from '../../src/sim/types.js';
import { runCli } from '../helpers/cli.js';
import { DB_CHANNELS, describeWith, closingPort, QP_PASSWORD, STARTERS, type Engine, type TestDb } from '../helpers/databases.js';
import { ago, DEEPSEEK, logs, world } from '../helpers/world.js';

const DOUBAO = 'Doubao-Seed-Code-Preview-251028';
const GLM = 'GLM-4-7-251222';

/**
 * One data set for both sources: DeepSeek at 98.9% (demoted), Doubao at 98% under a requested alias on new-api
 * (demoted only when the upstream name is matched), GLM at 4% with a hostile row (-1.5M tokens) and rows under a
 * lower-case spelling that must not count,
 * an unbudgeted channel's traffic and a channel test (type 5) that no source counts.
 */
function dataSet(flavor: Flavor): SimLog[] {
  const doubao = logs(2, flavor === 'new-api' ? 'doubao-seed-code' : DOUBAO, 30, 160_000).map((r) => ({ ...r, upstream_model: flavor === 'new-api' ? DOUBAO : undefined }));
  return [
    ...logs(1, DEEPSEEK, 40, 47_000),
    ...doubao,
    ...logs(3, GLM, 10, 10_000),
    // Another spelling is another model: budgets match exactly (MySQL's default collation would merge the two).
    ...logs(3, GLM.toLowerCase(), 3, 10_000),
    { created_at: ago(100), channel: 3, model_name: GLM, prompt_tokens: -1_500_000, completion_tokens: 10 },
    { created_at: ago(90), channel: 1, model_name: DEEPSEEK, prompt_tokens: 0, completion_tokens: 0, type: 5 },
    ...logs(6, 'gpt-4o', 25, 90_000),
  ];
}

type Status = { budgets: Array<{ budget: string; used: number; requests: number; state: string }> };
const statusOf = async (env: Record<string, string>): Promise<Status> => {
  const r = await runCli(['status', '--json'], env);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Status;
};
const usage = (s: Status) => s.budgets.map((b) => ({ budget: b.budget, used: b.used, requests: b.requests, state: b.state }));

// Each test runs the CLI up to six times: under a full `npm test` on 2 cores a start-up can take seconds.
jest.setTimeout(120_000);

const worlds: Array<Awaited<ReturnType<typeof world>>> = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.sim.close();
  for (const c of cleanups.splice(0)) await c();
});

for (const engine of ['mariadb', 'postgres', 'sqlite'] as Engine[]) {
  describeWith(engine, `usage.source: database on ${engine}`)(`usage.source: database on ${engine} (real CLI, simulator for channels)`, () => {
    let db: TestDb;
    beforeAll(async () => {
      db = await STARTERS[engine]();
    }, 600_000);
    afterAll(async () => db?.stop(), 60_000);

    /** A simulator with no logs at all (usage can only come from the database) and the env that points at both. */
    async function dbWorld(flavor: Flavor, extra: Record<string, string> = {}) {
      const w = await world({ flavor, channels: DB_CHANNELS });
      worlds.push(w);
      return { ...w, env: { ...w.env, ONEAPI_DB_URL: db.url, ...extra } };
    }

    it.each(['one-api', 'new-api', 'one-hub'] as Flavor[])('%s: the same counts and demotions as the API source on one data set', async (flavor) => {
      const rows = dataSet(flavor);
      await db.createLogs(flavor);
      await db.insert(rows, flavor);
      const api = await world({ flavor, logs: rows });
      worlds.push(api);
      const viaDb = await dbWorld(flavor);

      const a = await runCli(['once'], api.env);
      const d = await runCli(['once'], viaDb.env);
      expect(d.stderr).not.toContain(QP_PASSWORD);
      expect([a.code, d.code]).toEqual([0, 0]);
      expect(d.stdout).toMatch(/counted \d+ new log rows in 1 database queries \(\d+ ms\)/);
      expect(usage(await statusOf(viaDb.env))).toEqual(usage(await statusOf(api.env)));
      expect(viaDb.priorities()).toEqual(api.priorities());
      expect(viaDb.puts().map((p) => p.body)).toEqual(api.puts().map((p) => p.body));
      expect(viaDb.priorities()).toMatchObject({ 'volc-deepseek': 10, 'volc-doubao-seed-code': 10, 'volc-glm': 100 });
      // The hostile row is reported, once, by both, and never counted.
      expect(d.stderr).toMatch(/"field":"prompt_tokens".*"msg":"log row skipped"/);
      const glm = (await statusOf(viaDb.env)).budgets.find((b) => b.budget.startsWith('volc-glm'))!;
      expect(glm).toMatchObject({ used: 100_000, requests: 10 });
      expect(viaDb.sim.requests.filter((r) => r.path.startsWith('/api/log'))).toEqual([]);
    });

    it('follows new rows and rows committed late, counting each once (counts equal the table sums), and converges', async () => {
      await db.createLogs('one-api');
      await db.insert(logs(3, GLM, 10, 10_000), 'one-api');
      const w = await dbWorld('one-api');
      expect((await runCli(['once'], w.env)).code).toBe(0);
      // New rows, and one stamped a minute ago that OneAPI committed only now (one-hub's batches, one-api's goroutine).
      await db.insert([...logs(3, GLM, 5, 20_000, 30), { created_at: ago(60), channel: 3, model_name: GLM, prompt_tokens: 700, completion_tokens: 300 }], 'one-api');
      expect((await runCli(['once'], w.env)).code).toBe(0);
      const again = await runCli(['once'], w.env);
      expect(again.stdout).toContain('no priority changes needed');
      const [sum] = await db.query<{ t: number | string; n: number | string }>('SELECT SUM(prompt_tokens + completion_tokens) AS t, COUNT(*) AS n FROM logs WHERE channel_id = 3 AND type = 2');
      const glm = (await statusOf(w.env)).budgets.find((b) => b.budget.startsWith('volc-glm'))!;
      expect({ used: glm.used, requests: glm.requests }).toEqual({ used: Number(sum.t), requests: Number(sum.n) });
      expect(glm.used).toBe(201_000);
      expect(w.puts()).toEqual([]);
      const state = await readFile(join(w.state, 'state.json'), 'utf8');
      expect(state).not.toContain(QP_PASSWORD);
    });

    it('validate checks the connection and the schema; a missing column is named and nothing is written', async () => {
      await db.createLogs('one-api');
      await db.insert(logs(1, DEEPSEEK, 40, 47_000), 'one-api');
      const ok = await dbWorld('one-api');
      const v = await runCli(['validate'], ok.env);
      expect(v.stderr).toContain('logs table OK');
      expect(v.code).toBe(0);

      const wrongFlavor = await dbWorld('new-api');
      const bad = await runCli(['validate'], wrongFlavor.env);
      expect(bad.code).toBe(78);
      expect(bad.stderr).toContain('has no column "other", which new-api writes; is ONEAPI_FLAVOR right?');
      const once = await runCli(['once'], wrongFlavor.env);
      expect(once.code).toBe(1);
      expect(once.stderr).toMatch(/other/);
      expect(wrongFlavor.puts()).toEqual([]);
    });

    it('a database that cannot be reached: validate exits 1, once fails and writes nothing', async () => {
      const closing = engine === 'sqlite' ? null : await closingPort();
      cleanups.push(async () => closing?.close());
      const url = closing ? db.url.replace(`:${db.port}/`, `:${closing.port}/`) : 'sqlite:///nonexistent/one-api.db';
      const w = await dbWorld('one-api', { ONEAPI_DB_URL: url });
      const v = await runCli(['validate'], w.env);
      expect(v.code).toBe(1);
      expect(v.stderr).toContain('unreachable');
      expect(v.stderr).not.toContain(QP_PASSWORD);
      const once = await runCli(['once'], w.env);
      expect(once.code).toBe(1);
      expect(once.stderr).toMatch(/"msg":"cycle failed"|unreachable/);
      expect(w.puts()).toEqual([]);
    });

    if (engine !== 'sqlite')
      it('a table locked by another session: the read times out (ONEAPI_DB_TIMEOUT), nothing is written, the next cycle catches up', async () => {
        await db.createLogs('one-api');
        await db.insert(logs(1, DEEPSEEK, 40, 47_000), 'one-api');
        const w = await dbWorld('one-api', { ONEAPI_DB_TIMEOUT: '2' });
        const release = await db.lockLogs();
        let once;
        try {
          once = await runCli(['once'], w.env);
        } finally {
          await release();
        }
        expect(once.code).toBe(1);
        expect(once.stderr).toContain('timed out');
        expect(w.puts()).toEqual([]);
        const again = await runCli(['once'], w.env);
        expect(again.code).toBe(0);
        expect(w.priorities()).toMatchObject({ 'volc-deepseek': 10 });
      });

    if (engine !== 'sqlite')
      it('a wrong password: validate and once exit 77 and say so, without the password', async () => {
        const wrong = 'not-the-Password-42';
        const w = await dbWorld('one-api', { ONEAPI_DB_URL: db.url.replace(QP_PASSWORD, wrong) });
        const v = await runCli(['validate'], w.env);
        expect(v.code).toBe(77);
        expect(v.stderr).toContain('permission denied');
        const once = await runCli(['once'], w.env);
        expect(once.code).toBe(77);
        expect(once.stderr).toContain('permission denied');
        for (const out of [v.stderr, v.stdout, once.stderr, once.stdout]) expect(out).not.toContain(wrong);
        expect(w.puts()).toEqual([]);
      });
  });
}
