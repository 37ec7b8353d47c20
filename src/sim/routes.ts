import type { Flavor } from '../oneapi/types.js';
import { updateChannel } from './channel-update.js';
import { getChannel, listChannels, listTagChannels, searchChannels, setChannelStatus } from './channel-routes.js';
import { listLogs, searchLogs } from './log-routes.js';
import type { Reply, RouteRequest, SimState } from './types.js';

interface Route {
  method: string;
  /** Segments starting with ':' are parameters. */
  pattern: string;
  flavors: readonly Flavor[];
  handle: (req: RouteRequest, state: SimState) => Reply;
}

const ALL: readonly Flavor[] = ['one-api', 'new-api', 'one-hub'];

// Static paths come before `/:id`, as gin prefers them. one-hub has no /api/channel/search, so there
// "search" reaches /:id and fails as a non-numeric id, like the real server.
const ROUTES: Route[] = [
  { method: 'GET', pattern: '/api/channel/search', flavors: ['one-api', 'new-api'], handle: searchChannels },
  { method: 'GET', pattern: '/api/channel', flavors: ALL, handle: listChannels },
  { method: 'PUT', pattern: '/api/channel', flavors: ALL, handle: updateChannel },
  { method: 'GET', pattern: '/api/channel/:id', flavors: ALL, handle: getChannel },
  { method: 'POST', pattern: '/api/channel/:id/status', flavors: ['new-api'], handle: setChannelStatus },
  { method: 'GET', pattern: '/api/channel_tag/:tag/list', flavors: ['one-hub'], handle: listTagChannels },
  { method: 'GET', pattern: '/api/log/search', flavors: ['one-api'], handle: searchLogs },
  { method: 'GET', pattern: '/api/log', flavors: ALL, handle: listLogs },
];

/** A matched route and its path parameters. */
export interface RouteMatch {
  handle: Route['handle'];
  params: Record<string, string>;
}

/**
 * Finds the route for a request. A trailing slash is ignored (gin redirects to the other form, and clients
 * follow), so `/api/channel` and `/api/channel/` are the same route. Like gin with its default UseRawPath=false,
 * the path is decoded before it is matched: an encoded "/" (%2F) in a parameter separates segments again.
 */
export function matchRoute(flavor: Flavor, method: string, path: string): RouteMatch | undefined {
  const segments = safeDecode(path).replace(/\/+$/, '').split('/');
  for (const route of ROUTES) {
    if (route.method !== method || !route.flavors.includes(flavor)) continue;
    const params = matchPattern(route.pattern.split('/'), segments);
    if (params) return { handle: route.handle, params };
  }
  return undefined;
}

function matchPattern(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(':')) {
      if (segments[i] === '') return undefined;
      params[pattern[i].slice(1)] = segments[i];
    } else if (pattern[i] !== segments[i]) {
      return undefined;
    }
  }
  return params;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
