import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, type LogEvent } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import { classify, DbError, type DbOptions, type LogDb } from './connect.js';
import { redact, type DbTarget } from './url.js';

/**
 * Opens a small pool (2 connections): a cycle runs its reads one after another. Nothing connects until the first
 * read, so a database that is down fails the cycle, not the start.
 */
export function openLogDb(target: DbTarget, opts: DbOptions = {}): LogDb {
  const statementTimeout = opts.timeoutMs ?? 30_000;
  const connectTimeout = Math.min(statementTimeout, 10_000);
  const lockTimeout = Math.min(statementTimeout, 10_000);
  let dialect;
  if (target.dialect === 'mysql') {
    const pool = createPool({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      database: target.database,
      connectionLimit: 2,
      connectTimeout,
      enableKeepAlive: true,
      supportBigNumbers: true,
      dateStrings: true,
    });
    dialect = new MysqlDialect({
      pool,
      // Only one of the two statement-timeout variables exists on a given server (MariaDB's, or MySQL's); lock waits
      // are bounded too, so a table locked by a migration fails the cycle instead of hanging it.
      onCreateConnection: async (c) => {
        const lockSec = Math.max(1, Math.round(lockTimeout / 1000));
        for (const s of [`SET SESSION max_statement_time = ${statementTimeout / 1000}`, `SET SESSION max_execution_time = ${statementTimeout}`, `SET SESSION lock_wait_timeout = ${lockSec}`])
          await c.executeQuery(CompiledQuery.raw(s)).catch(() => undefined);
      },
    });
  } else if (target.dialect === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: 2,
      connectionTimeoutMillis: connectTimeout,
      idleTimeoutMillis: 60_000,
      statement_timeout: statementTimeout,
      lock_timeout: lockTimeout,
      application_name: 'quota-pilot',
    });
    // An idle connection the server drops must not crash the daemon: the next read reconnects.
    pool.on('error', (err) => opts.log?.warn({ error: redact(err.message, target) }, 'database connection lost'));
    dialect = new PostgresDialect({ pool });
  } else {
    // Read-only, so quota-pilot can never write OneAPI's file; the busy timeout rides out a checkpoint.
    dialect = new SqliteDialect({ database: async () => new (await sqliteDriver())(target.path, { readonly: true, fileMustExist: true, timeout: connectTimeout }) });
  }
  const onQuery = opts.onQuery;
  const log = onQuery && ((e: LogEvent) => onQuery({ sql: e.query.sql, parameters: e.query.parameters, ms: e.queryDurationMillis }));
  const kysely = new Kysely<any>({ dialect, log }); // eslint-disable-line @typescript-eslint/no-explicit-any
  return {
    dialect: target.dialect,
    identity: target.identity,
    kysely,
    async run(what, fn) {
      try {
        return await fn(kysely);
      } catch (err) {
        throw classify(err, what, target);
      }
    },
    close: () => kysely.destroy(),
  };
}

/**
 * better-sqlite3 is an optional dependency: npm builds it with python3, make and g++, and skips it where they are
 * missing, so that MySQL and PostgreSQL users can install quota-pilot without a compiler.
 */
async function sqliteDriver(): Promise<typeof BetterSqlite3> {
  try {
    return (await import('better-sqlite3')).default;
  } catch {
    throw new DbError('reading SQLite needs the better-sqlite3 module, which npm could not build here: install python3, make and g++, then reinstall quota-pilot', 'other');
  }
}

