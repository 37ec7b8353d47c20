// Types only: the query builder and the drivers are loaded (./open.ts) when a database is first opened. Loading
// them costs about 0.4 s, which every command paid at start-up, API users included.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { OneApiError, type OneApiErrorKind } from '../../oneapi/types.js';
import { redact, type DbTarget, type Dialect } from './url.js';

/** What went wrong with the database, in the words `validate` and the logs use. */
export type DbProblem = 'auth' | 'unreachable' | 'schema' | 'timeout' | 'other';

const KIND: Record<DbProblem, OneApiErrorKind> = { auth: 'auth', unreachable: 'unreachable', schema: 'rejected', timeout: 'unreachable', other: 'server' };

/**
 * A failed database read. It is a OneApiError (endpoint "database") so that the cycle, the daemon's back-off, the
 * outage alert and the exit codes (77 for auth) treat it exactly like a failed API read. The message is redacted.
 */
export class DbError extends OneApiError {
  constructor(
    message: string,
    readonly problem: DbProblem,
  ) {
    super(message, KIND[problem], 'database');
    this.name = 'DbError';
  }
}

/** An open, read-only handle on OneAPI's log database. */
export interface LogDb {
  readonly dialect: Dialect;
  readonly identity: string;
  readonly kysely: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- OneAPI's schema differs per flavor
  /** Runs a read, turning any driver error into a redacted DbError. */
  run<T>(what: string, fn: (db: Kysely<any>) => Promise<T>): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

export interface DbOptions {
  /** Connecting, and each read: a longer read is cancelled by the server (default 30 s). Lock waits: ≤ 10 s of it. */
  timeoutMs?: number;
  log?: Logger;
  /** Sees every statement run, with its parameters and duration (the plan tests EXPLAIN them). */
  onQuery?: (q: { sql: string; parameters: readonly unknown[]; ms: number }) => void;
}

/** Opens the database on first use and closes it on stop: a SIGHUP may switch usage.source either way. */
export class LogDbHandle {
  private db: LogDb | null = null;

  constructor(private readonly settings: () => { target: DbTarget; timeoutMs: number }, private readonly log?: Logger) {}

  async get(): Promise<LogDb> {
    if (!this.db) {
      const { target, timeoutMs } = this.settings();
      const { openLogDb } = await import('./open.js');
      this.db ??= openLogDb(target, { timeoutMs, log: this.log });
    }
    return this.db;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    await db?.close();
  }
}

const AUTH = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_TABLEACCESS_DENIED_ERROR', 'ER_COLUMNACCESS_DENIED_ERROR', '28P01', '28000', '42501', 'SQLITE_AUTH', 'SQLITE_PERM']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', '57P01', '57P03', '3D000', 'ER_BAD_DB_ERROR', 'SQLITE_CANTOPEN', 'SQLITE_NOTADB']);
const SCHEMA = new Set(['ER_BAD_FIELD_ERROR', 'ER_NO_SUCH_TABLE', '42703', '42P01']);
const TIMEOUT = new Set(['57014', '55P03', 'ER_LOCK_WAIT_TIMEOUT', 'ER_QUERY_TIMEOUT', 'ER_STATEMENT_TIMEOUT', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

/** Sorts a driver error into a DbProblem with a message that says what to do; never the password. */
export function classify(err: unknown, what: string, target: DbTarget): DbError {
  if (err instanceof DbError) return err;
  const e = err as { code?: string; message?: string; errno?: number };
  const code = String(e.code ?? '');
  const raw = redact(e.message || code || String(err), target);
  const where = `database ${target.identity}`;
  // better-sqlite3 says "Cannot open database because the directory does not exist" with no code.
  if (/cannot open database|unable to open database/i.test(raw)) return new DbError(`${where}: ${what}: unreachable (${raw})`, 'unreachable');
  if (AUTH.has(code) || /password authentication failed|access denied/i.test(raw))
    return new DbError(`${where}: ${what}: permission denied (${raw}); check the user and password in ONEAPI_DB_URL and the GRANT SELECT on logs`, 'auth');
  if (SCHEMA.has(code) || /no such (column|table)|does not exist|unknown column/i.test(raw))
    return new DbError(`${where}: ${what}: ${raw}; is ONEAPI_FLAVOR right for this database?`, 'schema');
  // MariaDB's max_statement_time (errno 1969) and MySQL's max_execution_time (3024) have no code name in mysql2.
  if (TIMEOUT.has(code) || e.errno === 1969 || e.errno === 3024 || /timeout|timed out|canceling statement|locked|max_statement_time|max_execution_time/i.test(raw))
    return new DbError(`${where}: ${what}: timed out (${raw})`, 'timeout');
  if (UNREACHABLE.has(code) || /connect|terminat|closed/i.test(raw)) return new DbError(`${where}: ${what}: unreachable (${raw})`, 'unreachable');
  return new DbError(`${where}: ${what}: ${raw}`, 'other');
}
