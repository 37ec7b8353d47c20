import type { Flavor } from '../oneapi/types.js';
import { fail, ok, renderChannel } from './render.js';
import type { Reply, RouteRequest, SimChannel, SimState } from './types.js';

type Kind = 'string' | 'int' | 'uint';

/** The channel columns the simulator keeps, with the Go type the body is bound into. */
const COLUMNS: Record<keyof Omit<SimChannel, 'id'>, Kind> = {
  name: 'string',
  key: 'string',
  models: 'string',
  group: 'string',
  tag: 'string',
  base_url: 'string',
  type: 'int',
  status: 'int',
  priority: 'int',
  weight: 'uint',
  used_quota: 'int',
};
type Column = keyof typeof COLUMNS;

/** Columns that are pointers in Go: an explicit zero is a non-nil pointer, so GORM writes it. */
function pointerColumns(flavor: Flavor): Column[] {
  return flavor === 'new-api' ? ['priority', 'weight', 'base_url', 'tag'] : ['priority', 'weight', 'base_url'];
}

/**
 * PUT /api/channel/ with the id in the body. GORM's struct Updates skips zero values ("", 0, false, null), so
 * omitted fields keep their value; priority and weight are pointers, so an explicit 0 is written.
 * Two real hazards are reproduced so client bugs show: newer new-api refuses any body with a `status` key,
 * and one-hub overwrites every column when `models` is non-empty.
 */
export function updateChannel(req: RouteRequest, state: SimState): Reply {
  if (req.bodyError !== undefined) return fail(req.bodyError);
  const body = req.body;
  if (body === undefined) return fail('EOF');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('json: cannot unmarshal non-object into Go value of type model.Channel');
  }
  const fields = body as Record<string, unknown>;
  if (state.flavor === 'new-api' && 'status' in fields) return fail('无效的参数');
  const typeError = checkTypes(fields);
  if (typeError) return fail(typeError);

  const id = (fields.id as number | null | undefined) ?? 0;
  // No id means no WHERE clause, which GORM refuses.
  if (id === 0) return fail('WHERE conditions required');
  const channel = state.channels.find((c) => c.id === id);
  if (!channel) return fail('record not found');

  if (state.flavor === 'one-hub' && typeof fields.models === 'string' && fields.models !== '') {
    overwriteAll(channel, fields);
  } else {
    mergeNonZero(channel, fields, state.flavor);
  }
  // one-api and one-hub echo the re-read row, key included; mid-2025+ new-api blanks it.
  return ok(renderChannel(channel, state.flavor, state.flavor !== 'new-api'));
}

/** Go's json binding: a value of the wrong type fails the whole request. */
function checkTypes(fields: Record<string, unknown>): string | undefined {
  const kinds: Record<string, Kind> = { id: 'int', ...COLUMNS };
  for (const [field, value] of Object.entries(fields)) {
    const kind = kinds[field];
    if (kind === undefined || value === null) continue;
    const fits =
      kind === 'string'
        ? typeof value === 'string'
        : typeof value === 'number' && Number.isInteger(value) && (kind === 'int' || value >= 0);
    if (!fits) return `json: cannot unmarshal ${typeof value} into Go struct field Channel.${field} of type ${kind}`;
  }
  return undefined;
}

/** Struct Updates: write the non-zero fields, plus pointer fields that are present and not null. */
function mergeNonZero(channel: SimChannel, fields: Record<string, unknown>, flavor: Flavor): void {
  const pointers = pointerColumns(flavor);
  const target = channel as unknown as Record<string, unknown>;
  for (const column of Object.keys(COLUMNS) as Column[]) {
    const value = fields[column];
    if (value === undefined || value === null) continue;
    if (column === 'tag' && flavor === 'one-api') continue; // no such column
    if (column === 'used_quota' && flavor === 'one-hub') continue; // Omit("UsedQuota")
    if (!pointers.includes(column) && (value === '' || value === 0)) continue;
    target[column] = value;
  }
}

/** one-hub's Select("*").Omit("UsedQuota").Updates: every column from the body, blanks where it has none. */
function overwriteAll(channel: SimChannel, fields: Record<string, unknown>): void {
  const target = channel as unknown as Record<string, unknown>;
  for (const column of Object.keys(COLUMNS) as Column[]) {
    if (column === 'used_quota') continue;
    const value = fields[column];
    if (value !== undefined && value !== null) target[column] = value;
    else target[column] = column === 'priority' ? null : COLUMNS[column] === 'string' ? '' : 0;
  }
}
