import type { Flavor } from '../oneapi/types.js';
import type { ApiCursor } from './ingest.js';
import type { Fold } from './fold.js';

/**
 * OneAPI's clock stepped back. With OneAPI on the same host, both clocks are set back together (an NTP step, a
 * hand-set date): rows written after the step are stamped below the last read end and a time cursor never reads
 * them. The read end moving back is the sign (it only moves forward otherwise); below this, it is the jitter of a Date header in whole seconds (under 2 s).
 */
export const STEP_MIN_SEC = 3;

/** How far OneAPI's read end went back below the last one, in seconds; 0 when it did not. */
export function steppedBack(lastReadTo: number, end: number): number {
  return lastReadTo - end >= STEP_MIN_SEC ? lastReadTo - end : 0;
}

/**
 * Whether ids can be trusted to rise in insert order: SQL stores (one-api, one-hub); new-api once its pages showed
 * falling ids (its ClickHouse store serves positions, and a first read too short to tell proves nothing).
 */
export function idsRise(flavor: Flavor, cursor: Pick<ApiCursor, 'idsArePositions'> | null): boolean {
  return flavor !== 'new-api' || cursor?.idsArePositions === false;
}

/**
 * The id part of the next cursor (pure). The highest id counted goes on rising; ids that turn out to be page
 * positions are dropped for good; ids that went back (a log clean-up emptied the table, SQLite reusing ids) restart
 * from this cycle's. After a step read by ids, the floor remembers what was counted before the step (ids up to the
 * old highest, stamped up to the old read end) until no read reaches back that far.
 */
export function nextIdState(
  cursor: ApiCursor | null,
  fold: Pick<Fold, 'maxId' | 'idsArePositions' | 'idsWentBack'>,
  c: { backSec: number; byIds: boolean; readTo: number; spanSec: number },
): Pick<ApiCursor, 'maxId' | 'idsArePositions' | 'idFloor'> {
  if (cursor?.idsArePositions === true || fold.idsArePositions === true) return { maxId: null, idsArePositions: true, idFloor: null };
  const positions = cursor?.idsArePositions === false || fold.idsArePositions === false ? false : undefined;
  const old = cursor?.maxId ?? null;
  const seen = fold.maxId;
  const maxId = fold.idsWentBack ? seen : old === null ? seen : seen === null ? old : Math.max(old, seen);
  let floor = fold.idsWentBack ? null : (cursor?.idFloor ?? null);
  if (c.byIds && old !== null) floor = { id: Math.max(old, floor?.id ?? old), until: Math.max(cursor!.readTo, floor?.until ?? 0) };
  else if (c.backSec > 0) floor = null; // recounted: the recent keys tell what lies above the cursor
  if (floor && c.readTo - c.spanSec > floor.until) floor = null;
  return { maxId, idsArePositions: positions, idFloor: floor };
}
