import { byIdDesc, intParam, isInt, like, newApiPage, oneApiPage, oneHubPage, slice, sortByOrderParam } from './paging.js';
import { fail, ok, renderChannel } from './render.js';
import type { Reply, RouteRequest, SimChannel, SimState } from './types.js';

const ONE_HUB_CHANNEL_ORDER = ['id', 'name', 'group', 'type', 'status', 'response_time', 'balance', 'priority', 'weight'];

/** GET /api/channel/ in the flavor's paging and envelope shape; `key` left out. */
export function listChannels(req: RouteRequest, state: SimState): Reply {
  const q = req.query;
  const { flavor } = state;
  switch (flavor) {
    case 'one-api':
      return ok(slice(byIdDesc(state.channels), oneApiPage(q)).map((c) => renderChannel(c, flavor, false)));
    case 'new-api': {
      const page = newApiPage(q);
      const rows = sortNewApi(state.channels, q);
      return ok({
        items: slice(rows, page).map((c) => renderChannel(c, flavor, false)),
        total: rows.length,
        page: page.page,
        page_size: page.size,
        type_counts: typeCounts(state.channels),
      });
    }
    case 'one-hub': {
      const page = oneHubPage(q);
      if ('error' in page) return fail(page.error);
      const kept = collapseTags(state.channels, intParam(q, 'filter_tag')).filter(
        (c) =>
          (q.status === undefined || q.status === '' || c.status === intParam(q, 'status')) &&
          (q.type === undefined || q.type === '' || (c.type ?? 1) === intParam(q, 'type')),
      );
      const rows = sortByOrderParam(
        kept.map((c) => renderChannel(c, flavor, false)),
        q.order ?? '',
        ONE_HUB_CHANNEL_ORDER,
      );
      return ok({ data: slice(rows, page), page: page.page, size: page.size, total_count: rows.length });
    }
  }
}

/**
 * one-api GET /api/channel/search?keyword=K: `id = K OR name LIKE 'K%'`, unpaged, so an empty keyword returns
 * every channel. new-api (newer code): paged with p (default 1) and page_size (default 20, no cap).
 */
export function searchChannels(req: RouteRequest, state: SimState): Reply {
  const keyword = req.query.keyword ?? '';
  const { flavor } = state;
  if (flavor === 'one-api') {
    const rows = byIdDesc(state.channels).filter(
      (c) => (isInt(keyword) && c.id === Number(keyword)) || like(c.name, `${keyword}%`),
    );
    return ok(rows.map((c) => renderChannel(c, flavor, false)));
  }
  const rows = sortNewApi(state.channels, req.query).filter(
    (c) => (isInt(keyword) && c.id === Number(keyword)) || like(c.name, `%${keyword}%`),
  );
  const page = Math.max(1, intParam(req.query, 'p'));
  const size = intParam(req.query, 'page_size') > 0 ? intParam(req.query, 'page_size') : 20;
  return ok({
    items: slice(rows, { page, size, offset: (page - 1) * size }).map((c) => renderChannel(c, flavor, false)),
    total: rows.length,
    type_counts: typeCounts(rows),
  });
}

/** GET /api/channel/:id. one-hub really does send the key in clear here; the others leave it out. */
export function getChannel(req: RouteRequest, state: SimState): Reply {
  const found = findChannel(req.params.id, state);
  if (typeof found === 'string') return fail(found);
  return ok(renderChannel(found, state.flavor, state.flavor === 'one-hub'));
}

/** one-hub GET /api/channel_tag/:tag/list: every channel of the tag, which the list endpoint collapses. */
export function listTagChannels(req: RouteRequest, state: SimState): Reply {
  const rows = byIdDesc(state.channels).filter((c) => (c.tag ?? '') !== '' && c.tag === req.params.tag);
  return ok(rows.map((c) => renderChannel(c, state.flavor, false)));
}

/** Newer new-api POST /api/channel/:id/status {status: 1|2}, the only way it still changes a status. */
export function setChannelStatus(req: RouteRequest, state: SimState): Reply {
  const found = findChannel(req.params.id, state);
  if (typeof found === 'string') return fail(found);
  const status = (req.body as { status?: unknown } | null)?.status;
  if (req.bodyError !== undefined || (status !== 1 && status !== 2)) return fail('无效的参数');
  found.status = status;
  return ok(renderChannel(found, state.flavor, false));
}

/** The channel for a path id, or the error text the server would answer. */
function findChannel(rawId: string, state: SimState): SimChannel | string {
  if (!isInt(rawId)) return `strconv.Atoi: parsing "${rawId}": invalid syntax`;
  return state.channels.find((c) => c.id === Number(rawId)) ?? 'record not found';
}

/** new-api's orders: `priority desc` by default, `id desc` with id_sort=true, or sort_by/sort_order. */
function sortNewApi(channels: SimChannel[], q: Record<string, string>): SimChannel[] {
  const rows = byIdDesc(channels);
  if (q.id_sort === 'true') return rows;
  const field = ['id', 'name', 'priority'].includes(q.sort_by ?? '') ? q.sort_by : 'priority';
  const order = q.sort_order === 'asc' ? field : `-${field}`;
  return sortByOrderParam(rows, order, [field]);
}

function typeCounts(channels: SimChannel[]): Record<string, number> {
  const counts: Record<string, number> = { all: channels.length };
  for (const c of channels) counts[String(c.type ?? 1)] = (counts[String(c.type ?? 1)] ?? 0) + 1;
  return counts;
}

/**
 * one-hub shows one row per tag (the max id) next to the untagged rows. filter_tag=1 keeps only the untagged,
 * filter_tag=2 only the tag representatives.
 */
function collapseTags(channels: SimChannel[], filterTag: number): SimChannel[] {
  const maxIdByTag = new Map<string, number>();
  for (const c of channels) {
    if (c.tag) maxIdByTag.set(c.tag, Math.max(maxIdByTag.get(c.tag) ?? -Infinity, c.id));
  }
  return channels.filter((c) => {
    const untagged = !c.tag;
    const representative = !untagged && maxIdByTag.get(c.tag as string) === c.id;
    if (filterTag === 1) return untagged;
    if (filterTag === 2) return representative;
    return untagged || representative;
  });
}
