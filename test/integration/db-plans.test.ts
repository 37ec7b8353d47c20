import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import type { Flavor } from '../../src/oneapi/types.js';
import { openLogDb } from '../../src/usage/db/open.js';
import { badRows, maxLogId, sumSlots } from '../../src/usage/db/queries.js';
import { parseDbUrl } from '../../src/usage/db/url.js';
import { describeWith, STARTERS, type Engine, type TestDb } from '../helpers/databases.js';

/**
 * Every statement the database source runs, EXPLAINed on each engine against each flavor's upstream `logs` DDL
 * (test/fixtures/oneapi-ddl): it must go through an index OneAPI creates (created_at, or the primary key), never a
 * full scan and never the channel index (which holds half the table for half the channels). 40 days of rows over
 * 20 channels; MariaDB and PostgreSQL keep statistics (ANALYZE, as their auto-analysis would), SQLite has none:
 * OneAPI never runs ANALYZE there.
 */
jest.setTimeout(120_000);

const ROWS = 80_000;
const DAYS = 40;
const now = Math.floor(Date.now() / 1000);
const CHANNELS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** The index names a read may use: OneAPI's created_at indexes and the primary key. */
const TIME_INDEX = /^idx_created_at_(type|id)$/;
const KEY_INDEX = /^(PRIMARY|logs_pkey)$/;

type Plan = { table: string; how: string; index: string | null };

/** The access to `logs` in the engine's plan for one statement. */
async function plan(db: TestDb, sql: string, params: readonly unknown[]): Promise<Plan[]> {
  if (db.engine === 'sqlite') {
    const rows = await db.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, [...params]);
    return rows
      .filter((r) => /\blogs\b/.test(r.detail))
      .map((r) => {
        const m = /^(SCAN|SEARCH) logs(?: USING (?:COVERING )?INDEX (\w+)| USING INTEGER PRIMARY KEY)?/.exec(r.detail);
        const index = m?.[2] ?? (/INTEGER PRIMARY KEY/.test(r.detail) ? 'PRIMARY' : null);
        // "SEARCH logs" alone is max(id) read from the b-tree's end.
        return { table: 'logs', how: m?.[1] === 'SEARCH' && !index ? 'minmax' : (m?.[1] ?? r.detail), index };
      });
  }
  if (db.engine === 'postgres') {
    const [row] = await db.query<{ 'QUERY PLAN': Array<{ Plan: PgNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, [...params]);
    const out: Plan[] = [];
    const walk = (n: PgNode) => {
      if (n['Relation Name'] === 'logs' || (n['Index Name'] && n['Node Type'] === 'Bitmap Index Scan')) out.push({ table: 'logs', how: n['Node Type'], index: n['Index Name'] ?? null });
      for (const c of n.Plans ?? []) walk(c);
    };
    walk(row['QUERY PLAN'][0].Plan);
    // A bitmap heap scan reads through the bitmap index scan below it: judge the index.
    return out.filter((p) => p.how !== 'Bitmap Heap Scan');
  }
  const rows = await db.query<{ table: string | null; type: string | null; key: string | null; Extra: string | null }>(`EXPLAIN ${sql}`, [...params]);
  return rows.map((r) => (r.table === null && /optimized away/.test(r.Extra ?? '') ? { table: 'logs', how: 'minmax', index: null } : { table: String(r.table), how: String(r.type), index: r.key }));
}
type PgNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PgNode[] };

const usesOneApisIndexes = (p: Plan) => p.how === 'minmax' || (p.index !== null && (TIME_INDEX.test(p.index) || KEY_INDEX.test(p.index)) && !/^(SCAN|ALL|Seq Scan)$/.test(p.how));

for (const engine of ['mariadb', 'postgres', 'sqlite'] as Engine[]) {
  describeWith(engine, `query plans on ${engine}`)(`query plans on ${engine}, upstream DDL`, () => {
    let db: TestDb;
    beforeAll(async () => {
      db = await STARTERS[engine]();
    }, 600_000);
    afterAll(async () => db?.stop(), 60_000);

    it.each(['one-api', 'new-api', 'one-hub'] as Flavor[])('%s: every read of a cold and a steady cycle uses the created_at index or the primary key', async (flavor) => {
      await db.createLogs(flavor, { rows: ROWS, from: now - DAYS * 86_400, to: now, channels: 20, model: (c) => `model-${c % 4}` });
      if (engine === 'postgres') await db.exec('ANALYZE logs');
      if (engine === 'mariadb') await db.exec('ANALYZE TABLE logs');
      const seen: Array<{ sql: string; parameters: readonly unknown[] }> = [];
      const logDb = openLogDb(parseDbUrl(db.url), { onQuery: (q) => seen.push(q) });
      try {
        const [{ top }] = await db.query<{ top: number | string }>('SELECT max(id) AS top FROM logs');
        const day = now - 86_400;
        // A cold read of the day's windows, a steady read of the last two minutes, the ids above the last read, the
        // quarantined rows, and the table's newest id.
        const cold = await sumSlots(logDb, flavor, { channels: CHANNELS, from: day, to: now, edges: [day + 3600, now - 119], badFrom: day });
        const steady = await sumSlots(logDb, flavor, { channels: CHANNELS, from: now - 120, to: now, edges: [], badFrom: now - 120 });
        await sumSlots(logDb, flavor, { channels: CHANNELS, from: day, to: now - 121, edges: [], badFrom: now, idAbove: Number(top) - 50 });
        await badRows(logDb, flavor, { channels: CHANNELS, from: day, to: now, limit: 20 });
        await maxLogId(logDb);
        expect(cold.reduce((n, s) => n + s.requests, 0)).toBeGreaterThan(ROWS / DAYS / 3);
        expect(steady.length).toBeGreaterThanOrEqual(0);
      } finally {
        await logDb.close();
      }
      const distinct = [...new Map(seen.filter((q) => /\blogs\b/.test(q.sql)).map((q) => [q.sql, q])).values()];
      expect(distinct.length).toBeGreaterThanOrEqual(5);
      const bad: string[] = [];
      for (const q of distinct) for (const p of await plan(db, q.sql, q.parameters)) if (!usesOneApisIndexes(p)) bad.push(`${p.how} ${p.index ?? '(no index)'}: ${q.sql.slice(0, 160)}`);
      expect(bad).toEqual([]);
    });
  });
}
