import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Flavor } from '../src/oneapi/types.js';
import type { SimLog } from '../src/sim/types.js';
import { fillSql, upstreamDdl, type FillSpec } from './db-fill.js';

/**
 * Real MariaDB and PostgreSQL servers for tests and the bench, started as `nobody` in a temp dir on 127.0.0.1 (no system service).
 * Each has a OneAPI-shaped `logs` table and a read-only user `qp` with SELECT on it, as the README tells users to set up.
 */
export type Engine = 'mariadb' | 'postgres' | 'sqlite';

/** What makes an engine available, for the line a skipped suite prints. */
export const PACKAGE: Record<Engine, string> = {
  mariadb: "Debian's mariadb-server package (apt-get install mariadb-server)",
  postgres: "Debian's postgresql package (apt-get install postgresql)",
  sqlite: 'python3, make and g++, then npm ci (npm builds the optional better-sqlite3 with them)',
};
export const QP_PASSWORD = 'qp-S3cret-pw';

const pgBin = (): string | undefined => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).sort((a, b) => Number(b) - Number(a)).find((d) => existsSync(join(root, d, 'bin/postgres')));
  return v ? join(root, v, 'bin') : undefined;
};

/** Whether the engine's server can be started here. */
export function engineAvailable(e: Engine): boolean {
  if (e === 'mariadb') return existsSync('/usr/sbin/mariadbd') && existsSync('/usr/bin/mariadb-install-db');
  if (e === 'postgres') return pgBin() !== undefined;
  try {
    createRequire(import.meta.url).resolve('better-sqlite3');
    return true;
  } catch {
    return false;
  }
}

/** Whether nothing listens on 127.0.0.1:port now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/**
 * A port for a database server, below Linux's ephemeral range (32768–60999): the kernel never hands those out for a
 * listen on port 0 (every simulator, every dashboard) or as the local port of an outgoing connection (every CLI
 * request), either of which could take a port picked from that range in the seconds before the server binds it.
 * Under a full `npm test` that made a server fail to start, and all the tests of its engine with it.
 */
export async function serverPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await isFree(port)) return port;
  }
}

/**
 * A port that refuses database logins for as long as the test runs: a listener of our own that closes every
 * connection at once. A port merely found free could be taken by another test before the client connects to it.
 */
export async function closingPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((sock) => sock.destroy());
  const port = await new Promise<number>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res((server.address() as { port: number }).port));
  });
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** How long a server may take to come up: minutes, not seconds, on a 2-core box where other suites run too. */
const START_MS = 240_000;

/**
 * Starts a server on a fresh port until one comes up: when its port was taken meanwhile (another server of a
 * parallel run picked it), it exits, and the next try takes another port.
 */
async function startListening(what: string, start: (port: number) => ChildProcess, ready: (port: number) => Promise<unknown>, errors: () => Promise<string>): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await serverPort();
    const child = start(port);
    try {
      await until(`${what} on port ${port}`, START_MS, () => ready(port), () => child.exitCode !== null);
      return { child, port };
    } catch (err) {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (attempt >= 3 || !/exited/.test((err as Error).message)) throw new Error(`${(err as Error).message}\n${await errors()}`);
    }
  }
}

const asRoot = process.getuid?.() === 0;
/** Drops to nobody when run as root: neither server runs as root, and tests must not need a system account. */
const unprivileged = (cmd: string, args: string[]) => (asRoot ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', cmd, ...args]] : [cmd, args]) as [string, string[]];

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (asRoot) await chown(dir, 65534, 65534);
  return dir;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const [c, a] = unprivileged(cmd, args);
  const r = spawnSync(c, a, { env: { ...process.env, LANG: 'C', LC_ALL: 'C', ...env }, encoding: 'utf8', timeout: START_MS });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
}

/** Retries `fn` until it succeeds; stops at once when `gone()` (the server exited). */
async function until(what: string, timeoutMs: number, fn: () => Promise<unknown>, gone: () => boolean = () => false): Promise<void> {
  const stop = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (gone()) throw new Error(`${what}: the server exited`);
      if (Date.now() > stop) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** A running server (or SQLite file) with a logs table, plus what tests need to fill it. */
export interface TestDb {
  engine: Engine;
  /** The read-only user's URL: what quota-pilot gets. */
  url: string;
  port: number;
  /** Runs statements as the administrator. */
  exec(sql: string, params?: unknown[]): Promise<void>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Drops and creates `logs` from the flavor's upstream DDL (test/fixtures/oneapi-ddl), with OneAPI's indexes; with
   * `fill`, that many generated rows are inserted before the indexes are built (fast, for millions).
   */
  createLogs(flavor: Flavor, fill?: { rows: number } & FillSpec): Promise<void>;
  /** Inserts `n` generated consume rows in one statement. */
  fill(n: number, spec: FillSpec): Promise<void>;
  insert(rows: SimLog[], flavor: Flavor): Promise<void>;
  /** Locks `logs` against reads from another session (as a migration would) until the returned function is called. */
  lockLogs(): Promise<() => Promise<void>>;
  stop(): Promise<void>;
}

/** Rows as OneAPI writes them; new-api puts the upstream model name into `other` as JSON. */
function values(rows: SimLog[], flavor: Flavor): unknown[][] {
  return rows.map((r) => [
    r.created_at,
    r.type ?? 2,
    r.channel,
    r.model_name,
    r.prompt_tokens,
    r.completion_tokens,
    ...(flavor === 'new-api' ? [JSON.stringify(r.upstream_model ? { upstream_model_name: r.upstream_model } : { admin_info: {} })] : []),
  ]);
}

const COLS = (flavor: Flavor) => `created_at, type, channel_id, model_name, prompt_tokens, completion_tokens${flavor === 'new-api' ? ', other' : ''}`;

/** MariaDB in a temp dir, root over its socket, `qp` with SELECT on oneapi.logs only. */
export async function startMariaDb(): Promise<TestDb> {
  const dir = await tempDir('qp-mariadb-');
  run('/usr/bin/mariadb-install-db', ['--no-defaults', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve']);
  const socketPath = `${dir}/sock`;
  let admin: mysql.Connection | undefined;
  const { child, port } = await startListening(
    'mariadb start',
    (port) => {
      const [c, a] = unprivileged('/usr/sbin/mariadbd', ['--no-defaults', `--datadir=${dir}/data`, `--socket=${socketPath}`, `--port=${port}`, '--bind-address=127.0.0.1', `--pid-file=${dir}/pid`, `--log-error=${dir}/err.log`, '--skip-log-bin', '--innodb-buffer-pool-size=256M']);
      return spawn(c, a, { stdio: 'ignore' });
    },
    async () => (admin = await mysql.createConnection({ socketPath, user: 'root' })),
    () => readFile(`${dir}/err.log`, 'utf8').catch(() => ''),
  );
  for (const s of [
    'CREATE DATABASE oneapi',
    `CREATE USER 'qp'@'127.0.0.1' IDENTIFIED BY '${QP_PASSWORD}'`,
    'CREATE TABLE oneapi.logs (id bigint PRIMARY KEY)',
    `GRANT SELECT ON oneapi.logs TO 'qp'@'127.0.0.1'`,
  ])
    await admin!.query(s);
  await admin!.query('USE oneapi');
  return server('mariadb', port, `mysql://qp:${QP_PASSWORD}@127.0.0.1:${port}/oneapi`, child, dir, {
    exec: async (s, p) => void (await admin!.query(s, p)),
    query: async (s, p) => (await admin!.query(s, p))[0] as never,
    close: () => admin!.end(),
    lock: async () => {
      const c = await mysql.createConnection({ socketPath, user: 'root', database: 'oneapi' });
      await c.query('LOCK TABLES logs WRITE');
      return async () => {
        await c.query('UNLOCK TABLES');
        await c.end();
      };
    },
  });
}

/** PostgreSQL in a temp dir, `qp` with CONNECT and SELECT on logs only. */
export async function startPostgres(): Promise<TestDb> {
  const bin = pgBin()!;
  const dir = await tempDir('qp-postgres-');
  let pgLog = '';
  run('sh', ['-c', `echo admin-pw > ${dir}/pw && '${bin}/initdb' -D '${dir}/data' -U admin --pwfile='${dir}/pw' --auth=scram-sha-256 -E UTF8 --no-sync >/dev/null`]);
  let port = 0;
  const connect = async (database: string) => {
    // A connection that hangs (something else answering on the port) fails the try instead of the whole start.
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'admin-pw', database, connectionTimeoutMillis: 5000 });
    await client.connect();
    return client;
  };
  const started = await startListening(
    'postgres start',
    (p) => {
      port = p;
      const [c, a] = unprivileged(`${bin}/postgres`, ['-D', `${dir}/data`, '-p', String(p), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'shared_buffers=256MB']);
      const child = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d) => (pgLog = (pgLog + d).slice(-4000)));
      return child;
    },
    async () => (await connect('postgres')).end(),
    async () => pgLog,
  );
  const child = started.child;
  const boot = await connect('postgres');
  await boot.query('CREATE DATABASE oneapi');
  await boot.query(`CREATE ROLE qp LOGIN PASSWORD '${QP_PASSWORD}'`);
  await boot.end();
  const admin = await connect('oneapi');
  await admin.query('CREATE TABLE logs (id bigint)');
  return server('postgres', port, `postgres://qp:${QP_PASSWORD}@127.0.0.1:${port}/oneapi`, child, dir, {
    exec: async (s, p) => void (await admin.query(s, p)),
    query: async (s, p) => (await admin.query(s, p)).rows,
    close: () => admin.end(),
    lock: async () => {
      const c = await connect('oneapi');
      await c.query('BEGIN');
      await c.query('LOCK TABLE logs IN ACCESS EXCLUSIVE MODE');
      return async () => {
        await c.query('COMMIT');
        await c.end();
      };
    },
  });
}

/**
 * A SQLite file as OneAPI keeps it: in rollback-journal mode (no flavor enables WAL), so a read blocks OneAPI's
 * inserts for as long as it holds its lock.
 */
export async function openSqlite(): Promise<TestDb> {
  const dir = await mkdtemp(join(tmpdir(), 'qp-sqlite-'));
  const path = join(dir, 'one-api.db');
  const { default: Database } = await import('better-sqlite3');
  // OneAPI's busy timeout (one-api, one-hub), for the test's own writes.
  const db = new Database(path, { timeout: 3000 });
  return server('sqlite', 0, `sqlite://${path}`, null, dir, {
    exec: async (s, p) => void db.prepare(s).run(...((p ?? []) as unknown[])),
    query: async (s, p) => db.prepare(s).all(...((p ?? []) as unknown[])) as never,
    close: async () => void db.close(),
    lock: async () => {
      db.exec('BEGIN EXCLUSIVE');
      return async () => void db.exec('COMMIT');
    },
  });
}

function server(
  engine: Engine,
  port: number,
  url: string,
  child: ChildProcess | null,
  dir: string,
  conn: { exec: TestDb['exec']; query: TestDb['query']; close: () => Promise<void>; lock: TestDb['lockLogs'] },
): TestDb {
  const ph = (i: number) => (engine === 'postgres' ? `$${i + 1}` : '?');
  return {
    engine,
    url,
    port,
    exec: conn.exec,
    query: conn.query,
    lockLogs: conn.lock,
    async createLogs(flavor, fill) {
      const { table, indexes } = upstreamDdl(engine, flavor);
      for (const s of ['DROP TABLE IF EXISTS logs', ...table]) await conn.exec(s);
      if (fill && fill.rows > 0) await conn.exec(fillSql(engine, fill.rows, fill));
      for (const s of indexes) await conn.exec(s);
      if (engine === 'mariadb') await conn.exec(`GRANT SELECT ON oneapi.logs TO 'qp'@'127.0.0.1'`);
      if (engine === 'postgres') await conn.exec('GRANT SELECT ON logs TO qp');
    },
    async fill(n, spec) {
      if (n > 0) await conn.exec(fillSql(engine, n, spec));
    },
    async insert(rows, flavor) {
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = values(rows.slice(i, i + 500), flavor);
        const width = chunk[0]?.length ?? 0;
        const tuples = chunk.map((_, r) => `(${Array.from({ length: width }, (_, c) => ph(r * width + c)).join(', ')})`).join(', ');
        if (chunk.length) await conn.exec(`INSERT INTO logs (${COLS(flavor)}) VALUES ${tuples}`, chunk.flat());
      }
    },
    async stop() {
      await conn.close().catch(() => undefined);
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const STARTERS: Record<Engine, () => Promise<TestDb>> = { mariadb: startMariaDb, postgres: startPostgres, sqlite: openSqlite };
