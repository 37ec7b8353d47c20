import type { Flavor } from '../oneapi/types.js';

/** A consume-log row that passed every check, normalised across flavors. */
export interface UsageRow {
  /** Stable identity across reads (see rowKey). */
  key: number;
  /** The log id as sent (a page position on new-api's ClickHouse store); undefined when absent. */
  id?: number;
  /** OneAPI's clock, unix seconds. */
  createdAt: number;
  channel: number;
  /** The upstream model name, which free allowances are counted on. */
  model: string;
  tokens: number;
  /** How long the request took, seconds (0 when the row does not say): it started at createdAt − elapsedSec. */
  elapsedSec: number;
}

/** Why a row was not counted: the field at fault, and what identifies the row in a warning. */
export interface Rejected {
  field: string;
  value: unknown;
  id: unknown;
  channel: unknown;
  /** Key for remembering the row was already reported (undefined when the row has no usable identity). */
  key?: number;
  /** OneAPI-clock seconds, when the row has a usable time. */
  createdAt?: number;
}

export type Checked = { ok: true; row: UsageRow } | { ok: false; rejected: Rejected };

const CONSUME = 2;
/** More tokens than this in one request is not a real request (the largest context windows are ~10⁷). */
export const MAX_TOKENS = 100_000_000;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const tokenCount = (v: unknown): v is number => isInt(v) && v >= 0 && v <= MAX_TOKENS;

/**
 * Where each flavor puts the model name that free allowances are counted on. new-api logs the REQUESTED alias in
 * model_name and the mapped upstream name in `other.upstream_model_name` (a JSON string); one-api and one-hub log the
 * mapped name itself.
 */
export const MODEL_SOURCE: Record<Flavor, string> = {
  'one-api': 'model_name',
  'new-api': 'other.upstream_model_name, else model_name',
  'one-hub': 'model_name',
};

function upstreamModel(other: unknown): string | undefined {
  // Most rows carry no mapping: look for the key before paying for a parse.
  if (typeof other === 'string') {
    if (!other.includes('upstream_model_name')) return undefined;
    try {
      other = JSON.parse(other);
    } catch {
      return undefined;
    }
  }
  const name = (other as { upstream_model_name?: unknown } | null)?.upstream_model_name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * Where each flavor logs a request's duration, and in what unit: one-api `elapsed_time` (ms), new-api `use_time`
 * (s), one-hub `request_time` (ms). Not a reason to reject a row: an absent or odd value counts as 0.
 */
function elapsedOf(r: Record<string, unknown>, flavor: Flavor): number {
  const v = flavor === 'one-api' ? r.elapsed_time : flavor === 'new-api' ? r.use_time : r.request_time;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return 0;
  return flavor === 'new-api' ? v : v / 1000;
}

/**
 * A 53-bit FNV-1a hash: keys are kept per row near the cursor, in memory and in the state file, so they are numbers,
 * not the strings they are made of. Collisions among the few thousand keys kept at once are ~1e-9 likely.
 */
export function hashKey(s: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  return (h2 >>> 0) * 0x200000 + ((h1 >>> 0) & 0x1fffff);
}

/**
 * The row's identity. `request_id` where the flavor fills it: new-api with a ClickHouse log store rewrites `id` to
 * the row's position in the page, so ids repeat every read. A request id is not unique on its own (new-api's task
 * re-billing logs a second row for the same request), so the time, channel and counts go with it. Else `id`.
 */
function rowKey(r: Record<string, unknown>, channel: number, prompt: number, completion: number): number | undefined {
  const rid = r.request_id;
  if (typeof rid === 'string' && rid !== '') return hashKey(`r|${rid}|${r.created_at}|${channel}|${prompt}|${completion}`);
  return isInt(r.id) ? hashKey(`i|${r.id}`) : undefined;
}

/** A key for a row that failed its checks, so that it is reported once, not on every re-read. */
function rejectKey(r: Record<string, unknown>): number | undefined {
  if (typeof r.request_id === 'string' && r.request_id !== '') return hashKey(`x|${r.request_id}|${String(r.created_at)}`);
  return isInt(r.id) ? hashKey(`i|${r.id}`) : undefined;
}

/**
 * Checks one raw consume-log row as a flavor sends it. Plain code, not a schema: it runs for every row. A row is
 * rejected for the first field that is missing or impossible: tokens negative, fractional, over MAX_TOKENS or absent,
 * a type other than consume, a channel or time that is not a whole number.
 */
export function checkRow(raw: unknown, flavor: Flavor): Checked {
  if (typeof raw !== 'object' || raw === null)
    return { ok: false, rejected: { field: 'row', value: raw, id: undefined, channel: undefined } };
  const r = raw as Record<string, unknown>;
  const channel = flavor === 'one-hub' ? r.channel_id : r.channel;
  const reject = (field: string, value: unknown): Checked => ({
    ok: false,
    rejected: { field, value, id: r.id ?? r.request_id, channel, key: rejectKey(r), createdAt: isInt(r.created_at) ? r.created_at : undefined },
  });
  if (r.type !== CONSUME) return reject('type', r.type);
  if (!isInt(r.created_at) || r.created_at <= 0) return reject('created_at', r.created_at);
  if (!isInt(channel) || channel < 0) return reject(flavor === 'one-hub' ? 'channel_id' : 'channel', channel);
  if (typeof r.model_name !== 'string') return reject('model_name', r.model_name);
  if (!tokenCount(r.prompt_tokens)) return reject('prompt_tokens', r.prompt_tokens);
  if (!tokenCount(r.completion_tokens)) return reject('completion_tokens', r.completion_tokens);
  const key = rowKey(r, channel, r.prompt_tokens, r.completion_tokens);
  if (key === undefined) return reject('id', r.id);
  const model = (flavor === 'new-api' ? upstreamModel(r.other) : undefined) ?? r.model_name;
  return { ok: true, row: { key, id: isInt(r.id) ? r.id : undefined, createdAt: r.created_at, channel, model, tokens: r.prompt_tokens + r.completion_tokens, elapsedSec: elapsedOf(r, flavor) } };
}
