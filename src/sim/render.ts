import type { Flavor } from '../oneapi/types.js';
import { requestIdOf } from './log-order.js';
import type { Reply, SimChannel, SimLog, SimState } from './types.js';

/** OneAPI's success envelope. */
export function ok(data: unknown): Reply {
  return { status: 200, body: { success: true, message: '', data } };
}

/** OneAPI's failure envelope; business errors come back as HTTP 200 in every flavor. */
export function fail(message: string, status = 200): Reply {
  return { status, body: { success: false, message } };
}

/**
 * A channel as the flavor serialises it. Read endpoints leave the secret `key` out (the real servers send
 * it blank); `withKey` is for the endpoints that really do leak it.
 */
export function renderChannel(c: SimChannel, flavor: Flavor, withKey: boolean): Record<string, unknown> {
  const row: Record<string, unknown> = {
    id: c.id,
    type: c.type ?? 1,
    status: c.status,
    name: c.name,
    weight: c.weight ?? (flavor === 'one-hub' ? 1 : 0),
    priority: c.priority,
    models: c.models ?? '',
    group: c.group ?? 'default',
    used_quota: c.used_quota ?? 0,
    base_url: c.base_url ?? '',
    created_time: 0,
    test_time: 0,
    response_time: 0,
    balance: 0,
    balance_updated_time: 0,
  };
  // one-api has no tag column; new-api's is a nullable pointer, one-hub's a plain string.
  if (flavor === 'new-api') row.tag = c.tag ?? null;
  if (flavor === 'one-hub') row.tag = c.tag ?? '';
  if (withKey) row.key = c.key ?? '';
  return row;
}

/** What rendering a page of logs needs to know once, not per row. */
export interface LogRender {
  flavor: Flavor;
  /** Channel id -> name, for new-api's channel_name and one-hub's preloaded channel. */
  channelNames: Map<number, string>;
  /** new-api's ClickHouse store rewrites each row's id to its 1-based position in the result. */
  positionIds: boolean;
}

/** Builds the per-page rendering context from the live state. */
export function logRender(state: SimState): LogRender {
  return {
    flavor: state.flavor,
    channelNames: new Map(state.channels.map((c) => [c.id, c.name])),
    positionIds: state.flavor === 'new-api' && state.logStore === 'clickhouse',
  };
}

/**
 * A log row as the flavor serialises it: `channel` (id) for one-api/new-api, `channel_id` + object for one-hub.
 * `position` is the row's 1-based place in the whole result (offset + i + 1). `raw` is merged last.
 */
export function renderLog(log: SimLog, ctx: LogRender, position: number): Record<string, unknown> {
  // Built field by field per flavor (no spreads): the bench serves millions of these.
  const name = ctx.channelNames.get(log.channel);
  const id = ctx.positionIds ? position : log.id;
  const type = log.type ?? 2;
  const content = log.content ?? '';
  const username = log.username ?? 'root';
  const tokenName = log.token_name ?? 'default';
  const quota = log.quota ?? 0;
  const elapsedMs = log.elapsed_ms ?? 0;
  let row: Record<string, unknown>;
  switch (ctx.flavor) {
    case 'one-api':
      row = {
        id, user_id: 1, created_at: log.created_at, type, content, username, token_name: tokenName,
        model_name: log.model_name, quota, prompt_tokens: log.prompt_tokens, completion_tokens: log.completion_tokens,
        is_stream: false, channel: log.channel, request_id: requestIdOf(log), elapsed_time: elapsedMs, system_prompt_reset: false,
      };
      break;
    case 'new-api':
      row = {
        id, user_id: 1, created_at: log.created_at, type, content, username, token_name: tokenName,
        model_name: log.model_name, quota, prompt_tokens: log.prompt_tokens, completion_tokens: log.completion_tokens,
        is_stream: false, channel: log.channel, channel_name: name ?? '', use_time: Math.round(elapsedMs / 1000), token_id: 0, group: 'default',
        request_id: requestIdOf(log), other: newApiOther(log),
      };
      break;
    case 'one-hub':
      row = {
        id, user_id: 1, created_at: log.created_at, type, content, username, token_name: tokenName,
        model_name: log.model_name, quota, prompt_tokens: log.prompt_tokens, completion_tokens: log.completion_tokens,
        is_stream: false, channel_id: log.channel,
        // A preloaded association: a zero object when the channel is gone.
        channel: { id: name === undefined ? 0 : log.channel, name: name ?? '' },
        request_time: elapsedMs, source_ip: '', metadata: {},
      };
      break;
  }
  if (log.raw) {
    for (const [key, value] of Object.entries(log.raw)) {
      if (value === undefined) delete row[key];
      else row[key] = value;
    }
  }
  return row;
}

/**
 * new-api's `other`: a JSON *string* (common.MapToJsonStr of a Go map, so keys come sorted). The upstream model
 * is there only when the request's model was mapped.
 */
function newApiOther(log: SimLog): string {
  const mapped = log.upstream_model === undefined ? '' : '"is_model_mapped":true,';
  const upstream = log.upstream_model === undefined ? '' : `"upstream_model_name":${JSON.stringify(log.upstream_model)},`;
  return (
    `{"admin_info":{"use_channel":["${log.channel}"]},"cache_ratio":1,"cache_tokens":0,"completion_ratio":1,"frt":420,` +
    `"group_ratio":1,${mapped}"model_price":-1,"model_ratio":1,${upstream}"user_group_ratio":-1}`
  );
}
