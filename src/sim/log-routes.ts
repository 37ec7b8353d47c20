import type { LogFilter } from './log-index.js';
import { CREATED_ID_DESC, CREATED_REQUEST_DESC, ID_DESC, type LogField, type OrderKey } from './log-order.js';
import { intParam, isInt, likeMatcher, newApiPage, oneApiPage, oneHubPage, type Page } from './paging.js';
import { fail, logRender, ok, renderLog } from './render.js';
import type { Reply, RouteRequest, SimLog, SimState } from './types.js';

/** one-hub's allowed `order` fields, and the stored column each sorts on. */
const ONE_HUB_LOG_ORDER: Record<string, LogField> = {
  created_at: 'created_at',
  channel_id: 'channel',
  user_id: 'user_id',
  token_name: 'token_name',
  model_name: 'model_name',
  type: 'type',
  source_ip: 'source_ip',
};

/** GET /api/log/ in the flavor's paging, order and row shape. */
export function listLogs(req: RouteRequest, state: SimState): Reply {
  const q = req.query;
  const filter = (type: string, channel: string, modelLike: boolean): LogFilter => ({
    type: intParam(q, type),
    start: intParam(q, 'start_timestamp'),
    end: intParam(q, 'end_timestamp'),
    channel: intParam(q, channel),
    modelName: q.model_name ?? '',
    modelLike,
    username: q.username ?? '',
    tokenName: q.token_name ?? '',
  });
  switch (state.flavor) {
    case 'one-api': {
      const { rows } = read(state, filter('type', 'channel', false), ID_DESC, oneApiPage(q));
      return ok(rows);
    }
    case 'new-api': {
      const page = newApiPage(q);
      // Upstream orders by created_at since 2026-05-30; its ClickHouse store breaks ties on request_id.
      const order = state.logStore === 'clickhouse' ? CREATED_REQUEST_DESC : CREATED_ID_DESC;
      const { rows, total } = read(state, filter('type', 'channel', true), order, page);
      return ok({ items: rows, total, page: page.page, page_size: page.size });
    }
    case 'one-hub': {
      const page = oneHubPage(q);
      if ('error' in page) return fail(page.error);
      const { rows, total } = read(state, filter('log_type', 'channel_id', false), oneHubOrder(q.order ?? ''), page);
      return ok({ data: rows, page: page.page, size: page.size, total_count: total });
    }
  }
}

/** one-api GET /api/log/search?keyword=K: the newest 100 rows with type = K or content LIKE 'K%'. */
export function searchLogs(req: RouteRequest, state: SimState): Reply {
  const keyword = req.query.keyword ?? '';
  const content = likeMatcher(`${keyword}%`);
  const found: SimLog[] = [];
  const all: LogFilter = { type: 0, start: 0, end: 0, channel: 0, modelName: '', modelLike: false, username: '', tokenName: '' };
  state.logIndex.scan(all, ID_DESC, (log) => {
    if ((isInt(keyword) && (log.type ?? 2) === Number(keyword)) || content(log.content ?? '')) found.push(log);
    return found.length < 100;
  });
  const ctx = logRender(state);
  return ok(found.map((log, i) => renderLog(log, ctx, i + 1)));
}

function read(state: SimState, filter: LogFilter, order: readonly OrderKey[], page: Page): { rows: Record<string, unknown>[]; total: number } {
  const { rows, total } = state.logIndex.page(filter, order, page.offset, page.size);
  const ctx = logRender(state);
  return { rows: rows.map((log, i) => renderLog(log, ctx, page.offset + i + 1)), total };
}

/**
 * one-hub's `order`: a comma list of allowed fields, '-' for descending; others are ignored. With no usable
 * field the order is `id desc`; ties keep `id desc`.
 */
function oneHubOrder(order: string): readonly OrderKey[] {
  const keys: OrderKey[] = [];
  for (const part of order.split(',').map((p) => p.trim())) {
    const field = ONE_HUB_LOG_ORDER[part.replace(/^-/, '')];
    if (field && Object.hasOwn(ONE_HUB_LOG_ORDER, part.replace(/^-/, ''))) keys.push({ field, desc: part.startsWith('-') });
  }
  return keys.length > 0 ? keys : ID_DESC;
}
