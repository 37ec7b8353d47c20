/** Which SQL dialect OneAPI's database speaks. */
export type Dialect = 'mysql' | 'postgres' | 'sqlite';

/** A parsed ONEAPI_DB_URL. `identity` names the database without any secret (for logs, status and state). */
export interface DbTarget {
  dialect: Dialect;
  /** The URL as given, for drivers that take one (PostgreSQL). Holds the password: never log it. */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** SQLite: the file. */
  path: string;
  identity: string;
}

const SCHEMES: Record<string, Dialect> = { 'mysql:': 'mysql', 'mariadb:': 'mysql', 'postgres:': 'postgres', 'postgresql:': 'postgres', 'sqlite:': 'sqlite' };
const DEFAULT_PORT: Record<Dialect, number> = { mysql: 3306, postgres: 5432, sqlite: 0 };

/**
 * Parses `mysql://user:pass@host:3306/oneapi`, `postgres://…` or `sqlite:///var/lib/one-api/one-api.db`.
 * Throws a message that never contains the password.
 */
export function parseDbUrl(raw: string): DbTarget {
  const text = raw.trim();
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error('ONEAPI_DB_URL is not a URL (e.g. mysql://quota_pilot:PASSWORD@127.0.0.1:3306/oneapi)');
  }
  const dialect = SCHEMES[u.protocol];
  if (!dialect) throw new Error(`ONEAPI_DB_URL must start with mysql://, postgres:// or sqlite:// (got "${u.protocol}//")`);
  if (dialect === 'sqlite') {
    const path = decodeURIComponent(u.pathname);
    if (u.host || !path.startsWith('/') || path === '/') throw new Error('ONEAPI_DB_URL for SQLite must be sqlite:///absolute/path/one-api.db (three slashes)');
    return { dialect, url: text, host: '', port: 0, user: '', password: '', database: '', path, identity: `sqlite://${path}` };
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname) throw new Error(`ONEAPI_DB_URL has no host (e.g. ${dialect}://quota_pilot:PASSWORD@127.0.0.1/oneapi)`);
  if (!database) throw new Error(`ONEAPI_DB_URL names no database: add it as the path (${dialect}://user:PASSWORD@host/oneapi)`);
  const user = decodeURIComponent(u.username);
  const port = u.port ? Number(u.port) : DEFAULT_PORT[dialect];
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { dialect, url: text, host, port, user, password: decodeURIComponent(u.password), database, path: '', identity: `${dialect}://${user ? `${user}@` : ''}${u.host}/${database}` };
}

/** Removes the password (raw and URL-encoded) from a message a driver produced. */
export function redact(message: string, target: Pick<DbTarget, 'password' | 'url' | 'identity'>): string {
  let m = message.split(target.url).join(target.identity);
  for (const secret of [target.password, encodeURIComponent(target.password)]) if (secret.length >= 1) m = m.split(secret).join('***');
  return m;
}
