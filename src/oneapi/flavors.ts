import type { z } from 'zod';
import type { Http } from './http.js';
import { pageNewApi, pageOneApi, pageOneHub } from './paging.js';
import { channelRow, logRow, oneHubChannelRow, oneHubLogRow, plainPage, splitModels, tagList } from './schemas.js';
import { OneApiError } from './types.js';
import type { Channel, ConsumeLog, Flavor, TimeRange } from './types.js';

/** What differs between flavors: how to list every channel and every consume log. */
export interface FlavorApi {
  listChannels(http: Http): Promise<Channel[]>;
  /** Raw rows: they may include other types, other times and repeats; consumeLogsIn filters them. */
  fetchLogs(http: Http, range: TimeRange): Promise<TypedLog[]>;
}

/** A mapped log row that still carries its log type. */
export type TypedLog = ConsumeLog & { type: number };

const CONSUME = 2;
/** `/api/log/search` returns at most config.MaxRecentItems rows. */
const SEARCH_LIMIT = 100;
const ID_ORDER_SLACK_SEC = 60;

type LogRow = z.output<typeof logRow>;
type OneHubLogRow = z.output<typeof oneHubLogRow>;

const toChannel = (r: z.output<typeof channelRow>): Channel => ({
  id: r.id,
  name: r.name,
  priority: r.priority,
  status: r.status,
  models: splitModels(r.models),
});

const toLog = (r: LogRow | OneHubLogRow): TypedLog => ({
  id: r.id,
  type: r.type,
  createdAt: r.created_at,
  channelId: 'channel_id' in r ? r.channel_id : r.channel,
  modelName: r.model_name,
  promptTokens: r.prompt_tokens,
  completionTokens: r.completion_tokens,
});

const inRange = (l: { type: number; createdAt: number }, range: TimeRange): boolean =>
  l.type === CONSUME && l.createdAt >= range.start && l.createdAt <= range.end;

const timeParams = (range: TimeRange) => ({ start_timestamp: range.start, end_timestamp: range.end });

const oneApi: FlavorApi = {
  // The list is 10 per page; search with an empty keyword matches `name LIKE '%'`, i.e. every channel at once.
  async listChannels(http) {
    const rows = await http.request({
      method: 'GET',
      path: '/api/channel/search',
      params: { keyword: '' },
      schema: plainPage(channelRow),
    });
    return rows.map(toChannel);
  },
  async fetchLogs(http, range) {
    // The latest 100 rows where `type = 2 OR content LIKE '2%'` in one request. If they reach back past `start`
    // (or there are fewer than 100 in all), they hold every consume log of the range and paging is skipped.
    let recent: LogRow[] | undefined;
    try {
      recent = await http.request({
        method: 'GET',
        path: '/api/log/search',
        params: { keyword: String(CONSUME) },
        schema: plainPage(logRow),
      });
    } catch (e) {
      // Comparing the integer `type` with a string may fail on PostgreSQL: fall back to the list, not give up.
      if (!(e instanceof OneApiError) || (e.kind !== 'rejected' && e.kind !== 'bad-response')) throw e;
    }
    if (recent) {
      const oldest = Math.min(...recent.map((r) => r.created_at));
      // Ids follow insert order, not quite created_at order (logs are written from goroutines): keep a minute of
      // slack so a row stamped just after `start` but inserted before the oldest row cannot be missed.
      if (recent.length < SEARCH_LIMIT || oldest < range.start - ID_ORDER_SLACK_SEC) return recent.map(toLog);
    }
    const rows = await pageOneApi(http, '/api/log/', { type: CONSUME, ...timeParams(range) }, logRow);
    return rows.map(toLog);
  },
};

const newApi: FlavorApi = {
  async listChannels(http) {
    const rows = await pageNewApi(http, '/api/channel/', { id_sort: true }, channelRow);
    return rows.map(toChannel);
  },
  async fetchLogs(http, range) {
    const rows = await pageNewApi(http, '/api/log/', { type: CONSUME, ...timeParams(range) }, logRow);
    return rows.map(toLog);
  },
};

const oneHub: FlavorApi = {
  // The list shows one row per tag unless asked otherwise, so each tag's members are fetched separately.
  async listChannels(http) {
    const rows = await pageOneHub(http, '/api/channel/', {}, oneHubChannelRow);
    const tags = [...new Set(rows.map((r) => r.tag).filter((t): t is string => !!t))];
    for (const tag of tags) {
      const members = await http.request({
        method: 'GET',
        path: `/api/channel_tag/${encodeURIComponent(tag)}/list`,
        route: 'GET /api/channel_tag/:tag/list',
        schema: tagList(oneHubChannelRow),
      });
      rows.push(...members);
    }
    return rows.map(toChannel);
  },
  async fetchLogs(http, range) {
    const rows = await pageOneHub(http, '/api/log/', { log_type: CONSUME, ...timeParams(range) }, oneHubLogRow);
    return rows.map(toLog);
  },
};

const FLAVORS: Record<Flavor, FlavorApi> = { 'one-api': oneApi, 'new-api': newApi, 'one-hub': oneHub };

/** The endpoints, paging and row mapping of one flavor. */
export function flavorApi(flavor: Flavor): FlavorApi {
  const api = Object.hasOwn(FLAVORS, flavor) ? FLAVORS[flavor] : undefined;
  if (!api) throw new TypeError(`unknown OneAPI flavor: ${String(flavor)}`);
  return api;
}

/** Keeps consume logs inside the range, one per id (offset paging repeats rows as new ones arrive), by id. */
export function consumeLogsIn(rows: TypedLog[], range: TimeRange): ConsumeLog[] {
  const byId = new Map<number, ConsumeLog>();
  for (const { type, ...log } of rows) {
    if (inRange({ type, createdAt: log.createdAt }, range) && !byId.has(log.id)) byId.set(log.id, log);
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** One row per channel id (a one-hub tag representative also appears in its tag's list), by id. */
export function uniqueChannels(rows: Channel[]): Channel[] {
  const byId = new Map<number, Channel>();
  for (const c of rows) byId.set(c.id, c);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}
