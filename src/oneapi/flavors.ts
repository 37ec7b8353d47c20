import type { Logger } from 'pino';
import type { Http } from './http.js';
import { pageNewApi, pageOneHub } from './paging.js';
import { channelRow, oneHubChannelRow, plainPage, splitModels, tagList, type ChannelRow } from './schemas.js';
import type { Channel, Flavor } from './types.js';

/** What differs between flavors in listing channels (logs: see log-reader.ts). */
export interface FlavorApi {
  listChannels(http: Http, log?: Logger): Promise<Channel[]>;
}

/** A channel row as quota-pilot keeps it (the secret `key` was never copied out of the answer). */
export const toChannel = (r: ChannelRow): Channel => ({
  id: r.id,
  name: r.name,
  priority: r.priority,
  status: r.status,
  models: splitModels(r.models),
});

const oneApi: FlavorApi = {
  // The list is 10 per page; search with an empty keyword matches `name LIKE '%'`, i.e. every channel at once.
  async listChannels(http) {
    const rows = await http.request({
      method: 'GET',
      path: '/api/channel/search',
      params: { keyword: '' },
      check: plainPage(channelRow),
    });
    return rows.map(toChannel);
  },
};

const newApi: FlavorApi = {
  async listChannels(http) {
    const rows = await pageNewApi(http, '/api/channel/', { id_sort: true }, channelRow);
    return rows.map(toChannel);
  },
};

const oneHub: FlavorApi = {
  // The list shows one row per tag (its highest id) whatever the filters, so each tag's members are fetched
  // separately, by a path that names the tag.
  async listChannels(http, log) {
    const rows = await pageOneHub(http, '/api/channel/', {}, oneHubChannelRow);
    const tags = [...new Set(rows.map((r) => r.tag).filter((t): t is string => !!t))];
    for (const tag of tags) {
      // one-hub's gin engine keeps UseRawPath off (gin.New's default): it routes on the decoded path, so %2F is a
      // "/" again, no route matches and the answer is a 404. No other endpoint lists a tag's members, so only the
      // tag's own row is known; budgets on its other channels do not resolve, and say so (a skipped tag, not a
      // failed listing: every other budget is still enforced).
      if (tag.includes('/')) {
        log?.warn({ tag, listed: rows.find((r) => r.tag === tag)?.id }, 'one-hub tag not listed: its name contains "/", which one-hub cannot route');
        continue;
      }
      const members = await http.request({
        method: 'GET',
        path: `/api/channel_tag/${encodeURIComponent(tag)}/list`,
        route: 'GET /api/channel_tag/:tag/list',
        check: tagList(oneHubChannelRow),
      });
      rows.push(...members);
    }
    return rows.map(toChannel);
  },
};

const FLAVORS: Record<Flavor, FlavorApi> = { 'one-api': oneApi, 'new-api': newApi, 'one-hub': oneHub };

/** The channel endpoints and paging of one flavor. */
export function flavorApi(flavor: Flavor): FlavorApi {
  const api = Object.hasOwn(FLAVORS, flavor) ? FLAVORS[flavor] : undefined;
  if (!api) throw new TypeError(`unknown OneAPI flavor: ${String(flavor)}`);
  return api;
}

/** One row per channel id (a one-hub tag representative also appears in its tag's list), by id. */
export function uniqueChannels(rows: Channel[]): Channel[] {
  const byId = new Map<number, Channel>();
  for (const c of rows) byId.set(c.id, c);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}
