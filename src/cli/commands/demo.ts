import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../config/types.js';
import { createClient } from '../../oneapi/client.js';
import { ManualClock } from '../../platform/clock.js';
import { runCycle } from '../../reconcile/cycle.js';
import { stateCodec } from '../../reconcile/state.js';
import { openStateStore } from '../../state/store.js';
import { startSimulator, type SimChannel } from '../../sim/simulator.js';
import { generateTraffic, type Demand } from '../../sim/traffic.js';
import { createNotifier } from '../../alerts/notifier.js';
import { webhookTargets } from '../../alerts/targets.js';
import { createMetrics } from '../../metrics/metrics.js';
import { EnvError } from '../../platform/env.js';
import { dashboardReport, dashboardRoutes } from '../../dashboard/routes.js';
import { CycleWatch } from '../../dashboard/watch.js';
import { healthOf } from '../../metrics/health.js';
import { startHttpServer, type HttpServer } from '../../metrics/server.js';
import { reportFromState } from '../../report/from-state.js';
import { nextOccurrence } from '../../usage/windows.js';
import { changeLine } from '../render.js';
import { renderReport } from './report.js';
import { renderStatus, statusReport } from '../status-report.js';

/**
 * The example config shipped at the package root: the nearest directory up from this file with a package.json
 * (this code runs from dist/cli/ when bundled, from dist/src/cli/commands/ in the bench, from src/ in tests).
 */
export const EXAMPLE_DIR = packageRoot(dirname(fileURLToPath(import.meta.url)));

function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The demo's OneAPI: the four free Volcengine channels, a paid fallback and a channel quota-pilot must not touch. */
export function demoChannels(): SimChannel[] {
  return [
    { id: 1, name: 'volc-deepseek', priority: 100, status: 1, models: 'DeepSeek-V3-2-251201', key: 'sk-volc-1' },
    { id: 2, name: 'volc-doubao-seed-code', priority: 100, status: 1, models: 'Doubao-Seed-Code-Preview-251028', key: 'sk-volc-2' },
    { id: 3, name: 'volc-glm', priority: 100, status: 1, models: 'GLM-4-7-251222', key: 'sk-volc-3' },
    { id: 4, name: 'volc-kimi', priority: 100, status: 1, models: 'Kimi-K2-Thinking-251104', key: 'sk-volc-4' },
    { id: 5, name: 'paid-deepseek', priority: 50, status: 1, models: 'DeepSeek-V3-2-251201', key: 'sk-paid-5' },
    { id: 6, name: 'team-openai', priority: 7, status: 1, models: 'gpt-4o', key: 'sk-openai-6' },
  ];
}

/** Tokens per hour: DeepSeek runs out in the evening, GLM around midnight, the others stay within budget. */
export const DEMO_DEMAND: Demand = {
  'DeepSeek-V3-2-251201': 380_000,
  'Doubao-Seed-Code-Preview-251028': 250_000,
  'GLM-4-7-251222': 300_000,
  'Kimi-K2-Thinking-251104': 90_000,
  'gpt-4o': 50_000,
};

// With --keep the page is looked at after the simulated evening, which ended up to a day and a half ago: not stale.
const DEMO_STALE_MS = 48 * 3600_000;

/** What `demo` takes: pace, an optional config directory, and whether to keep everything running afterwards. */
export interface DemoOptions {
  /** Simulated seconds per real second; 0 runs without pauses. */
  speed: number;
  configDir?: string;
  keep?: boolean;
}

/**
 * The simulated evening: from 18:00 to 40 minutes after the next nightly reset, the last such evening that has
 * already ended, so that `status` and `report` on the kept state (`--keep`) see it as recent usage.
 */
export function demoEvening(resetAt: string, tz: string, nowMs: number): { start: number; reset: number; end: number } {
  for (let back = 1; ; back++) {
    const start = DateTime.fromMillis(nowMs, { zone: tz }).minus({ days: back }).set({ hour: 18, minute: 0, second: 0, millisecond: 0 }).toMillis();
    const reset = nextOccurrence(resetAt, tz, start) * 1000;
    const end = reset + 40 * 60_000;
    if (end <= nowMs) return { start, reset, end };
  }
}

/**
 * Runs the real cycle against the simulator over HTTP on 127.0.0.1, on a simulated clock: an evening of traffic,
 * demotions, and the nightly reset bringing the free channels back, while the dashboard and /metrics are served
 * for real. Exits 0 only if all of that happened.
 */
export async function demoCommand(opts: DemoOptions): Promise<number> {
  const configDir = resolve(opts.configDir ?? EXAMPLE_DIR);
  const loaded = await loadConfig(configDir, { flavor: 'one-api' });
  if (!loaded.config) throw new ConfigError(loaded.issues.filter((i) => i.severity === 'error'));
  const config = loaded.config;
  const tz = config.reset.timezone;
  const evening = demoEvening(config.reset.at, tz, Date.now());
  const clock = new ManualClock(evening.start);
  // With --keep the clock follows the wall clock once the evening is over, so the CLI and the page agree on "now".
  let wallClock = false;
  const now = () => (wallClock ? Date.now() : clock.now());
  const { targets, problems } = webhookTargets(process.env);
  if (problems.length) throw new EnvError(problems);
  const sim = await startSimulator({ flavor: 'one-api', channels: demoChannels(), now });
  const stateDir = await mkdtemp(join(tmpdir(), 'quota-pilot-demo-'));
  const say = (s: string) => process.stdout.write(s + '\n');
  const seen = { demoted: new Set<number>(), restored: new Set<number>(), reset: false };
  const log = pino({ level: 'silent' });
  let server: HttpServer | undefined;
  try {
    const watch = new CycleWatch();
    // The client's clock is the demo's too: OneAPI's Date header (the simulator's clock) is compared with it.
    const client = watch.wrap(createClient({ baseUrl: sim.url, accessToken: sim.token, flavor: 'one-api', maxRequestsPerMinute: 100_000, now }));
    const deps = { client, flavor: 'one-api' as const, config, store: openStateStore(stateDir, stateCodec), log };
    const metrics = createMetrics();
    const notifier = createNotifier({ targets, log });
    const lastCycle = { at: null as number | null, ok: false };
    const health = () => healthOf({ lastCycle: lastCycle.at === null ? null : { at: lastCycle.at, ok: lastCycle.ok }, consecutiveFailures: 0, lastSuccessAt: lastCycle.at, startedAt: evening.start, nowMs: now(), failThreshold: 3, staleAfterMs: DEMO_STALE_MS });
    const board = { config: () => config, flavor: 'one-api' as const, store: deps.store, watch, health, now, startedAt: evening.start };
    server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, log, health, routes: dashboardRoutes(board) });
    const stateFile = () => ({ path: deps.store.path, exists: true });
    const showStatus = async () => {
      say(`\n$ quota-pilot status   (at ${DateTime.fromMillis(clock.now(), { zone: tz }).toFormat('yyyy-MM-dd HH:mm')})`);
      say(renderStatus(statusReport(config, await deps.store.load(), { channels: await client.listChannels() }, clock.now(), 'one-api', stateFile()), config) + '\n');
    };
    say(`OneAPI simulator on ${sim.url}; config from ${configDir}; state in ${stateDir}`);
    say(`The dashboard is served on ${server.url}/ while the demo runs${opts.keep ? ' (and after it, with --keep)' : ''}.`);
    say('Each row: free budget used in its daily window, and the channel priority OneAPI routes by (higher wins).');
    say('The last column is what the paid DeepSeek fallback has served so far.');
    say(`Simulated evening of ${DateTime.fromMillis(clock.now(), { zone: tz }).toISODate()} (${tz}), a cycle every 10 simulated minutes.\n`);
    const stepMs = 600_000;
    while (clock.now() < evening.end) {
      const from = Math.floor(clock.now() / 1000);
      generateTraffic(sim, DEMO_DEMAND, from, from + stepMs / 1000);
      clock.advance(stepMs);
      const r = await runCycle(deps, { nowMs: clock.now() });
      if (!r.ok || !r.decision) throw r.error ?? new Error('cycle failed');
      Object.assign(lastCycle, { at: clock.now(), ok: true });
      metrics.recordCycle(r, clock.now());
      watch.onCycle(r, clock.now(), false);
      metrics.recordDays(await dashboardReport(board, 7));
      for (const e of r.events) {
        notifier.send(e);
        watch.onAlert(e);
      }
      const time = DateTime.fromMillis(clock.now(), { zone: tz }).toFormat('HH:mm');
      const cols = r.decision.budgets.map((b) => {
        const ch = sim.channels.find((c) => c.id === b.channelId);
        return `${String(b.budget.channel).replace(/^volc-/, '')} ${bar(b.ratio)}${(b.ratio * 100).toFixed(0).padStart(4)}% p${ch?.priority}`;
      });
      const paidTokens = sim.logs.filter((l) => l.channel === 5).reduce((s, l) => s + l.prompt_tokens + l.completion_tokens, 0);
      say(`${time}  ${cols.join('  ')}  | paid-deepseek p${sim.channels.find((c) => c.id === 5)!.priority} ${(paidTokens / 1e6).toFixed(2)}M`);
      for (const e of r.events.filter((x) => x.kind !== 'channel-demoted' && x.kind !== 'channel-restored' && x.kind !== 'reset-done'))
        say(`       alert [${e.severity}] ${e.title}`);
      if (r.decision.reset === 'due') {
        seen.reset = true;
        say(`       nightly reset (${config.reset.at}): default priorities restored, daily windows start again`);
      }
      for (const c of r.applied) {
        say(changeLine(c).replace(/^ {2}/, '       '));
        (c.to === config.demoted ? seen.demoted : seen.restored).add(c.id);
      }
      // The last step before the reset: the status people would see just before it.
      if (clock.now() < evening.reset && clock.now() + stepMs >= evening.reset) await showStatus();
      if (opts.speed > 0) await new Promise((res) => setTimeout(res, stepMs / opts.speed));
    }
    await showStatus();
    const state = await deps.store.load();
    const report = reportFromState(config, state, await client.listChannels(), clock.now(), 2);
    say('$ quota-pilot report --days 2');
    say(renderReport(report, { config, state, source: 'names from OneAPI', width: 110 }) + '\n');
    const wanted = /^quota_pilot_(budget_usage_ratio|channel_priority|cycles_total|priority_changes_total)\{/;
    say(`$ curl -s ${server.url}/metrics   (excerpt)`);
    say((await (await fetch(`${server.url}/metrics`)).text()).split('\n').filter((l) => wanted.test(l)).join('\n') + '\n');
    if (targets.length) {
      await notifier.flush(10_000);
      say(`alerts: ${notifier.sent} delivered, ${notifier.failed} failed, to ${targets.map((t) => t.name).join(', ')}`);
    }
    const untouched = sim.writes().every((w) => (w.body as { id?: number } | undefined)?.id !== 6);
    say(`\n${sim.logs.length} consume logs, ${client.requestCount} requests to OneAPI, ${sim.writes().length} priority writes.`);
    say(`team-openai (not in the config) was ${untouched ? 'never touched' : 'WRITTEN TO (bug)'}.`);
    const ok = seen.demoted.size > 0 && seen.reset && [...seen.demoted].every((id) => seen.restored.has(id)) && untouched;
    say(ok ? 'Demo finished: free channels were demoted when used up and came back at the nightly reset.' : 'Demo did NOT show the expected demotion and reset.');
    if (opts.keep) {
      wallClock = true;
      await keepRunning({ simUrl: sim.url, token: sim.token, pageUrl: server.url, configDir, stateDir }, say);
    }
    return ok ? 0 : 1;
  } finally {
    await server?.close();
    await sim.close();
    if (!opts.keep) await rm(stateDir, { recursive: true, force: true });
  }
}

/** --keep: says how to look at what the demo left, and waits for Ctrl-C (SIGINT) or SIGTERM. */
async function keepRunning(k: { simUrl: string; token: string; pageUrl: string; configDir: string; stateDir: string }, say: (s: string) => void): Promise<void> {
  const cli = `node ${process.argv[1]}`;
  say('');
  say('Kept (--keep): the simulator and the dashboard run until Ctrl-C; the state stays afterwards.');
  say(`  dashboard: ${k.pageUrl}/`);
  say('  in another terminal:');
  say(`    export ONEAPI_BASE_URL=${k.simUrl} ONEAPI_ACCESS_TOKEN=${k.token} QUOTA_PILOT_CONFIG_DIR=${k.configDir} STATE_DIRECTORY=${k.stateDir}`);
  say(`    ${cli} status`);
  say(`    ${cli} report`);
  say(`  after Ctrl-C: ${cli} report --config-dir ${k.configDir} --state-dir ${k.stateDir}   (rm -r ${k.stateDir} when done)`);
  await new Promise<void>((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  });
}

/** A 6-cell bar, readable without colour. */
function bar(ratio: number): string {
  const cells = Math.min(6, Math.round(Math.min(ratio, 1) * 6));
  return '#'.repeat(cells) + '.'.repeat(6 - cells);
}
