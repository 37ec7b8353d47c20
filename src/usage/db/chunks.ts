import { sql } from 'kysely';
import type { LogDb } from './connect.js';

/**
 * Index entries one SQLite read covers, at most (bar one second that holds more): a millisecond or two of work
 * (bench:db on a loaded 2-core box: OneAPI's slowest insert 113-129 ms with 4,000, 38 ms with 2,000).
 *
 * Why: none of the OneAPI flavors turns on WAL, so their SQLite file stays in rollback-journal mode. A read holds a
 * SHARED lock for as long as its statement runs, and OneAPI's next insert waits for it to end; past OneAPI's busy
 * timeout (3 s on one-api and one-hub, 5 s on new-api) the insert fails and a billing row is lost. So every read on
 * SQLite is cut into short statements, each its own autocommit read transaction: the lock is let go between them,
 * and a waiting writer (which holds PENDING, so no new read starts) goes first.
 */
export const SQLITE_CHUNK_ROWS = 2000;

/** A created_at range: `from` ≤ created_at, and `< below` when set, else ≤ `to`. */
export interface TimeRange {
  from: number;
  to: number;
  below?: number;
}

/** An id range: id > `above`, and ≤ `upTo` when set. */
export interface IdRange {
  above: number;
  upTo?: number;
}

/**
 * Cuts [from, to] into created_at ranges of about `rows` entries of OneAPI's (created_at, type) index each; on
 * MariaDB and PostgreSQL, where a read blocks no writer, the whole range at once (one autocommit statement under the
 * statement timeout). Each cut is found by one covering-index read of `rows` entries, and every row of [from, to]
 * lies in exactly one range, whatever is inserted meanwhile.
 */
export async function* timeRanges(db: LogDb, from: number, to: number, rows = SQLITE_CHUNK_ROWS): AsyncGenerator<TimeRange> {
  if (db.dialect !== 'sqlite') {
    yield { from, to };
    return;
  }
  for (let a = from; a <= to; ) {
    const cut = await db.run('cut a log read', (k) =>
      k.selectFrom('logs').select('created_at').where('created_at', '>=', a).where('created_at', '<=', to).orderBy('created_at').limit(1).offset(rows).execute(),
    );
    if (cut.length === 0) {
      yield { from: a, to };
      return;
    }
    // One second with more than `rows` rows is read whole: a range cannot be cut inside one created_at value.
    const at = Number(cut[0].created_at);
    const below = at > a ? at : a + 1;
    yield { from: a, to, below };
    a = below;
  }
}

/**
 * Cuts "id > above" into ranges of `rows` ids (on the primary key, which is SQLite's rowid) up to `top`, the highest
 * id seen before the read; the last range has no upper bound, so a row inserted during the read is not skipped.
 * Elsewhere one range.
 */
export function* idRanges(db: LogDb, above: number, top: number | null, rows = SQLITE_CHUNK_ROWS): Generator<IdRange> {
  let a = above;
  if (db.dialect === 'sqlite' && top !== null) for (; a + rows < top; a += rows) yield { above: a, upTo: a + rows };
  yield { above: a };
}

/**
 * `channel_id IN (…)`, kept off the channel index on SQLite. OneAPI never runs ANALYZE there, and without statistics
 * SQLite takes an IN list on an indexed column for about 10 rows a value: it then reads every row of those channels
 * (half the table) instead of the created_at range of a steady cycle (seconds instead of milliseconds at 5M rows).
 * MariaDB and PostgreSQL keep statistics and choose well.
 */
export function channelIn(db: LogDb, channels: number[]) {
  const col = db.dialect === 'sqlite' ? sql`+channel_id` : sql.ref('channel_id');
  return sql<boolean>`${col} in (${sql.join(channels)})`;
}
