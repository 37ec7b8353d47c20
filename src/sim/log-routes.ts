import { byIdDesc, filterLogs, intParam, isInt, like, newApiPage, oneApiPage, oneHubPage, slice, sortByOrderParam } from './paging.js';
import { fail, ok, renderLog } from './render.js';
import type { Reply, RouteRequest, SimState } from './types.js';

const ONE_HUB_LOG_ORDER = ['created_at', 'channel_id', 'user_id', 'token_name', 'model_name', 'type', 'source_ip'];

/** GET /api/log/ in the flavor's paging and row shape. */
export function listLogs(req: RouteRequest, state: SimState): Reply {
  const q = req.query;
  const common = {
    start: intParam(q, 'start_timestamp'),
    end: intParam(q, 'end_timestamp'),
    modelName: q.model_name ?? '',
    username: q.username ?? '',
    tokenName: q.token_name ?? '',
  };
  switch (state.flavor) {
    case 'one-api': {
      const rows = filterLogs(state.logs, {
        ...common,
        type: intParam(q, 'type'),
        channel: intParam(q, 'channel'),
        modelLike: false,
      });
      return ok(slice(byIdDesc(rows), oneApiPage(q)).map((log) => renderLog(log, state)));
    }
    case 'new-api': {
      const page = newApiPage(q);
      const rows = byIdDesc(
        filterLogs(state.logs, { ...common, type: intParam(q, 'type'), channel: intParam(q, 'channel'), modelLike: true }),
      );
      return ok({
        items: slice(rows, page).map((log) => renderLog(log, state)),
        total: rows.length,
        page: page.page,
        page_size: page.size,
      });
    }
    case 'one-hub': {
      const page = oneHubPage(q);
      if ('error' in page) return fail(page.error);
      const filtered = filterLogs(state.logs, {
        ...common,
        type: intParam(q, 'log_type'),
        channel: intParam(q, 'channel_id'),
        modelLike: false,
      });
      const total = filtered.length;
      if (!q.order) return ok({ data: slice(byIdDesc(filtered), page).map((log) => renderLog(log, state)), page: page.page, size: page.size, total_count: total });
      // Sort the rendered rows so `order=created_at` etc. see one-hub's field names.
      const rows = sortByOrderParam(
        byIdDesc(filtered).map((log) => renderLog(log, state)),
        q.order,
        ONE_HUB_LOG_ORDER,
      );
      return ok({ data: slice(rows, page), page: page.page, size: page.size, total_count: total });
    }
  }
}

/** one-api GET /api/log/search?keyword=K: the newest 100 rows with type = K or content LIKE 'K%'. */
export function searchLogs(req: RouteRequest, state: SimState): Reply {
  const keyword = req.query.keyword ?? '';
  const rows = byIdDesc(state.logs).filter(
    (log) => (isInt(keyword) && (log.type ?? 2) === Number(keyword)) || like(log.content ?? '', `${keyword}%`),
  );
  return ok(rows.slice(0, 100).map((log) => renderLog(log, state)));
}
