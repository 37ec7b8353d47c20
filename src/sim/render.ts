import type { Flavor } from '../oneapi/types.js';
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

/** A log row as the flavor serialises it: `channel` (id) for one-api/new-api, `channel_id` + object for one-hub. */
export function renderLog(log: SimLog, state: SimState): Record<string, unknown> {
  const base = {
    id: log.id,
    user_id: 1,
    created_at: log.created_at,
    type: log.type ?? 2,
    content: log.content ?? '',
    username: log.username ?? 'root',
    token_name: log.token_name ?? 'default',
    model_name: log.model_name,
    quota: log.quota ?? 0,
    prompt_tokens: log.prompt_tokens,
    completion_tokens: log.completion_tokens,
    is_stream: false,
  };
  const channel = state.channels.find((c) => c.id === log.channel);
  switch (state.flavor) {
    case 'one-api':
      return { ...base, channel: log.channel, request_id: '', elapsed_time: 0, system_prompt_reset: false };
    case 'new-api':
      return {
        ...base,
        channel: log.channel,
        channel_name: channel?.name ?? '',
        use_time: 0,
        token_id: 0,
        group: 'default',
        other: '{}',
      };
    case 'one-hub':
      return {
        ...base,
        channel_id: log.channel,
        // A preloaded association: a zero object when the channel is gone.
        channel: { id: channel?.id ?? 0, name: channel?.name ?? '' },
        request_time: 0,
        source_ip: '',
        metadata: {},
      };
  }
}
