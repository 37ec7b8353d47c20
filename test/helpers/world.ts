import { afterEach } from '@jest/globals';
import { DateTime } from 'luxon';
import { demoChannels } from '../../src/cli/commands/demo.js';
import type { Flavor } from '../../src/oneapi/types.js';
import { startSimulator, type SimLog, type Simulator } from '../../src/sim/simulator.js';
import type { SimulatorOptions } from '../../src/sim/types.js';
import { configDir, stateDir } from './cli.js';

export const TZ = 'Asia/Shanghai';
export const DEEPSEEK = 'DeepSeek-V3-2-251201';

/** Unix seconds, `agoSec` before now. Real now: the CLI under test uses the wall clock. */
export const ago = (agoSec: number) => Math.floor(Date.now() / 1000) - agoSec;

/** Start of the current daily window (02:20 Asia/Shanghai), unix seconds. */
export function windowStart(): number {
  const now = DateTime.now().setZone(TZ);
  let start = now.startOf('day').set({ hour: 2, minute: 20 });
  if (start > now) start = start.minus({ days: 1 });
  return Math.floor(start.toSeconds());
}

/** `n` consume logs on a channel, spread over the last `spanSec` seconds (but inside the current window). */
export function logs(channel: number, model: string, n: number, tokensEach: number, spanSec = 600): SimLog[] {
  const oldest = Math.max(windowStart() + 1, ago(spanSec + 30));
  // Right after 02:20 the window is younger than 30 s: keep the rows inside it (and past the CLI's 5 s lag).
  const newest = Math.max(oldest, ago(30));
  return Array.from({ length: n }, (_, i) => ({
    created_at: Math.floor(oldest + ((newest - oldest) * i) / Math.max(1, n - 1)),
    channel,
    model_name: model,
    prompt_tokens: Math.floor(tokensEach / 2),
    completion_tokens: tokensEach - Math.floor(tokensEach / 2),
  }));
}

/** The simulator, a config dir and a state dir, and the environment that points the CLI at them. */
export async function world(opts: { flavor?: Flavor; channels?: string; priorities?: string; logs?: SimLog[]; clockOffsetSec?: number; sim?: SimulatorOptions } = {}) {
  const flavor = opts.flavor ?? 'one-api';
  const sim: Simulator = await startSimulator({ ...opts.sim, flavor, channels: demoChannels(), logs: opts.logs ?? [], clockOffsetSec: opts.clockOffsetSec });
  const cfg = await configDir({ channels: opts.channels, priorities: opts.priorities });
  const state = await stateDir();
  const env: Record<string, string> = {
    ONEAPI_BASE_URL: sim.url,
    ONEAPI_ACCESS_TOKEN: sim.token,
    ONEAPI_USER_ID: '1',
    ONEAPI_FLAVOR: flavor,
    ONEAPI_RATE_LIMIT: '6000',
    QUOTA_PILOT_CONFIG_DIR: cfg,
    STATE_DIRECTORY: state,
  };
  const priorities = () => Object.fromEntries(sim.channels.map((c) => [c.name, c.priority]));
  const puts = () => sim.requests.filter((r) => r.method === 'PUT');
  return { sim, env, cfg, state, priorities, puts };
}

export type World = Awaited<ReturnType<typeof world>>;

/** Starts worlds for the tests of a file; each test's simulators are closed after it. */
export function useWorlds(): (opts?: Parameters<typeof world>[0]) => Promise<World> {
  let open: World[] = [];
  afterEach(async () => {
    for (const w of open) await w.sim.close();
    open = [];
  });
  return async (opts) => {
    const w = await world(opts);
    open.push(w);
    return w;
  };
}
