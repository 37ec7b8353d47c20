import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Flavor } from '../src/oneapi/types.js';
import type { Engine } from './db-servers.js';

/**
 * OneAPI's own `logs` tables, as each flavor's ORM creates them (copied from the upstream readings in
 * test/fixtures/oneapi-ddl/, with VALUES.md on what real rows carry), and a fast way to fill them.
 */

/** The repository root, from bench/ (tests, through ts-jest) or dist/bench/ (the bench). */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

const FILE: Record<Engine, string> = { mariadb: 'mysql', postgres: 'postgres', sqlite: 'sqlite' };

/**
 * The flavor's DDL for the engine as statements: `table` creates `logs`, `indexes` creates its indexes after it, so a
 * bulk fill can run before them. The table ends up exactly as the DDL file says.
 */
export function upstreamDdl(engine: Engine, flavor: Flavor): { table: string[]; indexes: string[] } {
  const text = readFileSync(join(repoRoot(), 'test/fixtures/oneapi-ddl', `${flavor}.${FILE[engine]}.sql`), 'utf8');
  const statements = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
  const table = statements.filter((s) => !/^CREATE INDEX/i.test(s));
  const indexes = statements.filter((s) => /^CREATE INDEX/i.test(s));
  if (engine !== 'mariadb') return { table, indexes };
  // MariaDB: the inline INDEX lines become one ALTER TABLE after the fill (InnoDB then builds each index by sorting).
  const inline = /,\s*INDEX (`\w+`) \(([^)]*)\)/g;
  const adds = [...table.join('\n').matchAll(inline)].map((m) => `ADD INDEX ${m[1]} (${m[2]})`);
  return { table: table.map((s) => s.replace(inline, '')), indexes: adds.length ? [`ALTER TABLE logs ${adds.join(', ')}`] : [] };
}

export interface FillSpec {
  /** created_at spread evenly over [from, to]. */
  from: number;
  to: number;
  /** Channel of row i: 1 + i % channels. */
  channels: number;
  /** Model of a channel (by id). */
  model: (channel: number) => string;
}

const COLS = 'user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens, channel_id';

/**
 * One statement that makes `n` consume rows inside the database (generate_series, MariaDB's sequence engine, or a
 * recursive CTE on SQLite): millions of rows in seconds, where parameters from here would take minutes.
 */
export function fillSql(engine: Engine, n: number, spec: FillSpec): string {
  const g = engine === 'postgres' ? 'g' : engine === 'mariadb' ? 'seq' : 'x';
  const div = (a: string, b: number) => (engine === 'mariadb' ? `(${a}) DIV ${b}` : `(${a}) / ${b}`);
  const span = Math.max(0, spec.to - spec.from);
  const models = Array.from({ length: spec.channels }, (_, i) => `WHEN ${i} THEN '${spec.model(i + 1).replace(/'/g, "''")}'`).join(' ');
  const select = `SELECT 1, ${spec.from} + ${div(`${g} * ${span}`, Math.max(1, n))}, 2, '', 'u', 't', CASE ${g} % ${spec.channels} ${models} END, 100, 300 + ${g} % 500, 700, 1 + ${g} % ${spec.channels}`;
  if (engine === 'postgres') return `INSERT INTO logs (${COLS}) ${select} FROM generate_series(0::bigint, ${n - 1}) g`;
  if (engine === 'mariadb') return `INSERT INTO logs (${COLS}) ${select} FROM seq_0_to_${n - 1}`;
  return `INSERT INTO logs (${COLS}) WITH RECURSIVE r(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM r WHERE x < ${n - 1}) ${select} FROM r`;
}
