import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../src/config/parse-config.js';
import { formatIssue } from '../../src/config/types.js';
import { EnvError, readDbSettings } from '../../src/platform/env.js';
import { BucketClock } from '../../src/usage/buckets.js';
import { classify } from '../../src/usage/db/connect.js';
import { slotsFor } from '../../src/usage/db/ingest-db.js';
import { parseDbUrl, redact } from '../../src/usage/db/url.js';

const PRIORITIES = 'defaults:\n  volc-deepseek: 100\ndemoted: 10\n';
const parse = (channels: string) =>
  parseConfig({ channels: { path: 'channels.yaml', text: channels }, priorities: { path: 'priorities.yaml', text: PRIORITIES } });
const BUDGET = 'channels:\n  - channel: volc-deepseek\n    free_tokens: 1000\n';

describe('channels.yaml usage.source', () => {
  it.each([
    ['', undefined],
    ['usage:\n  source: api\n', 'api'],
    ['usage:\n  source: database\n', 'database'],
  ])('%j gives %s', (head, source) => {
    const out = parse(head + BUDGET);
    expect(out.issues).toEqual([]);
    expect(out.config?.usageSource).toBe(source);
  });

  it.each([
    ['usage:\n  source: databse\n', 'channels.yaml:2:11 usage.source: must be one of api, database (got "databse"); database also needs ONEAPI_DB_URL'],
    ['usage:\n  sorce: database\n', 'channels.yaml:2:3 usage.sorce: unknown key; did you mean "source"?'],
    ['usage: database\n', 'channels.yaml:1:8 usage: must be a mapping of keys to values (got "database")'],
  ])('%j is an error at file:line', (head, message) => {
    const out = parse(head + BUDGET);
    expect(out.config).toBeUndefined();
    expect(out.issues.map(formatIssue)).toEqual([message]);
  });
});

describe('ONEAPI_DB_URL', () => {
  it.each([
    ['mysql://qp:p%40ss@127.0.0.1:3307/oneapi', { dialect: 'mysql', host: '127.0.0.1', port: 3307, user: 'qp', password: 'p@ss', database: 'oneapi', identity: 'mysql://qp@127.0.0.1:3307/oneapi' }],
    ['mariadb://qp:pw@db/oneapi', { dialect: 'mysql', host: 'db', port: 3306, database: 'oneapi', identity: 'mysql://qp@db/oneapi' }],
    ['postgres://qp:pw@[::1]/oneapi?sslmode=disable', { dialect: 'postgres', host: '::1', port: 5432, identity: 'postgres://qp@[::1]/oneapi' }],
    ['postgresql://qp:pw@127.0.0.1:5433/one', { dialect: 'postgres', port: 5433, database: 'one' }],
    ['sqlite:///var/lib/one-api/one-api.db', { dialect: 'sqlite', path: '/var/lib/one-api/one-api.db', identity: 'sqlite:///var/lib/one-api/one-api.db' }],
  ])('%s', (url, expected) => {
    expect(parseDbUrl(url)).toMatchObject(expected);
  });

  it.each([
    ['not a url', 'ONEAPI_DB_URL is not a URL'],
    ['redis://u:SECRET@h/0', 'must start with mysql://, postgres:// or sqlite://'],
    ['sqlite://relative.db', 'three slashes'],
    ['mysql://u:SECRET@127.0.0.1:3306/', 'names no database'],
  ])('%s is refused without echoing the password', (url, message) => {
    expect(() => parseDbUrl(url)).toThrow(message);
    try {
      parseDbUrl(url);
    } catch (err) {
      expect((err as Error).message).not.toContain('SECRET');
    }
  });

  it('is required with usage.source: database (exit 78 as EnvError)', () => {
    expect(() => readDbSettings({})).toThrow(EnvError);
    expect(() => readDbSettings({ ONEAPI_DB_URL: 'ftp://x' })).toThrow(EnvError);
    expect(() => readDbSettings({ ONEAPI_DB_URL: 'sqlite:///x.db', ONEAPI_DB_TIMEOUT: '2.5' })).toThrow('ONEAPI_DB_TIMEOUT must be a positive whole number');
    expect(readDbSettings({ ONEAPI_DB_URL: 'sqlite:///x.db' }).timeoutMs).toBe(30_000);
    expect(readDbSettings({ ONEAPI_DB_URL: 'sqlite:///x.db', ONEAPI_DB_TIMEOUT: '5' }).timeoutMs).toBe(5000);
  });

  it('redacts the password, raw and URL-encoded, and the URL itself from driver messages', () => {
    const t = parseDbUrl('mysql://qp:p%40ss-W0rd@127.0.0.1/oneapi');
    expect(redact(`failed for mysql://qp:p%40ss-W0rd@127.0.0.1/oneapi with p@ss-W0rd and p%40ss-W0rd`, t)).toBe('failed for mysql://qp@127.0.0.1/oneapi with *** and ***');
  });

  it.each([
    [{ code: 'ER_ACCESS_DENIED_ERROR', message: "Access denied for user 'qp'@'127.0.0.1' (using password: YES)" }, 'auth', 'auth'],
    [{ code: '28P01', message: 'password authentication failed for user "qp"' }, 'auth', 'auth'],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'unreachable', 'unreachable'],
    [{ code: 'ER_BAD_FIELD_ERROR', message: "Unknown column 'other' in 'field list'" }, 'schema', 'rejected'],
    [{ code: '42703', message: 'column "other" does not exist' }, 'schema', 'rejected'],
    [{ code: '57014', message: 'canceling statement due to statement timeout' }, 'timeout', 'unreachable'],
    [{ code: 'SQLITE_BUSY', message: 'database is locked' }, 'timeout', 'unreachable'],
    [{ message: 'Cannot open database because the directory does not exist' }, 'unreachable', 'unreachable'],
  ])('classifies %j', (err, problem, kind) => {
    const e = classify(err, 'sum logs', parseDbUrl('mysql://qp:pw-x@127.0.0.1/oneapi'));
    expect({ problem: e.problem, kind: e.kind, endpoint: e.endpoint }).toEqual({ problem, kind, endpoint: 'database' });
  });
});

describe('slotsFor: a read cut at bucket boundaries and at the settled line', () => {
  // UTC, boundaries at midnight and 02:20: 1_700_000_000 is 2023-11-14 22:13:20 UTC.
  const clock = () => new BucketClock({ timezone: 'UTC', boundaries: ['00:00', '02:20'] });
  const midnight = 1_700_006_400; // 2023-11-15 00:00 UTC
  it('splits at midnight, 02:20 and the settled line; slots after it are the tail', () => {
    const { edges, slots } = slotsFor(clock(), midnight - 100, midnight + 8400 + 50, midnight + 8400 + 10, 0);
    expect(edges).toEqual([midnight, midnight + 8400, midnight + 8411]);
    expect(slots).toEqual([
      { day: '2023-11-14', start: midnight - 86400 + 8400, tail: false },
      { day: '2023-11-15', start: midnight, tail: false },
      { day: '2023-11-15', start: midnight + 8400, tail: false },
      { day: '2023-11-15', start: midnight + 8400, tail: true },
    ]);
  });

  it("shifts local boundaries onto OneAPI's clock by the skew", () => {
    // Local midnight is midnight + 300 on a clock 300 s ahead; the settled line is at midnight + 250 on it.
    const { edges, slots } = slotsFor(clock(), midnight - 100 + 300, midnight + 300 + 50, midnight + 250, 300);
    expect(edges).toEqual([midnight + 251, midnight + 300]);
    expect(slots.map((s) => [s.start, s.tail])).toEqual([
      [midnight - 86400 + 8400, false],
      [midnight - 86400 + 8400, true],
      [midnight, true],
    ]);
  });

  it('one slot when nothing is cut', () => {
    expect(slotsFor(clock(), midnight + 10, midnight + 20, midnight + 5, 0)).toEqual({ edges: [], slots: [{ day: '2023-11-15', start: midnight, tail: true }] });
  });
});
