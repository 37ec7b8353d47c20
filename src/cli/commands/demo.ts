import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { resolveRefs } from '../../policy/resolve.js';
import { dailyReport } from '../../report/daily.js';
import { changeLine } from '../render.js';
import { renderReport } from './report.js';
import { renderStatus, statusReport } from '../status-report.js';

/** The example config shipped at the package root. */
export const EXAMPLE_DIR = fileURLToPath(new URL('../../../../', import.meta.url));

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

/**
 * Runs the real cycle against the simulator over HTTP on 127.0.0.1, on a simulated clock: an evening of traffic,
 * demotions, and the nightly reset at 02:20 bringing the free channels back. Exits 0 only if all of that happened.
 */
export async function demoCommand(opts: { speed: number }): Promise<number> {
  const loaded = await loadConfig(EXAMPLE_DIR, { flavor: 'one-api' });
  if (!loaded.config) throw new ConfigError(loaded.issues.filter((i) => i.severity === 'error'));
  const config = loaded.config;
  const tz = config.reset.timezone;
  const clock = new ManualClock(DateTime.fromISO('2026-11-24T18:00', { zone: tz }).toMillis());
  const sim = await startSimulator({ flavor: 'one-api', channels: demoChannels(), now: () => clock.now() });
  const { targets, problems } = webhookTargets(process.env);
  if (problems.length) throw new EnvError(problems);
  const stateDir = await mkdtemp(join(tmpdir(), 'quota-pilot-demo-'));
  const say = (s: string) => process.stdout.write(s + '\n');
  const seen = { demoted: new Set<number>(), restored: new Set<number>(), reset: false };
  try {
    // The client's clock is the demo's too: OneAPI's Date header (the simulator's clock) is compared with it.
    const client = createClient({ baseUrl: sim.url, accessToken: sim.token, flavor: 'one-api', maxRequestsPerMinute: 100_000, now: () => clock.now() });
    const log = pino({ level: 'silent' });
    const deps = { client, flavor: 'one-api' as const, config, store: openStateStore(stateDir, stateCodec), log };
    const metrics = createMetrics();
    const notifier = createNotifier({ targets, log });
    const showStatus = async () => {
      say(`\n$ quota-pilot status   (at ${DateTime.fromMillis(clock.now(), { zone: tz }).toFormat('yyyy-MM-dd HH:mm')})`);
      say(renderStatus(statusReport(config, await deps.store.load(), { channels: await client.listChannels() }, clock.now(), 'one-api'), config) + '\n');
    };
    say(`OneAPI simulator on ${sim.url}; example config from ${EXAMPLE_DIR}; state in ${stateDir}`);
    say('Each row: free budget used in its daily window, and the channel priority OneAPI routes by (higher wins).');
    say('The last column is what the paid DeepSeek fallback has served so far.');
    say(`Simulated evening of ${DateTime.fromMillis(clock.now(), { zone: tz }).toISODate()} (${tz}), a cycle every 10 simulated minutes.\n`);
    const stepSec = 600;
    const end = DateTime.fromISO('2026-11-25T03:00', { zone: tz }).toMillis();
    while (clock.now() < end) {
      const from = Math.floor(clock.now() / 1000);
      generateTraffic(sim, DEMO_DEMAND, from, from + stepSec);
      clock.advance(stepSec * 1000);
      const r = await runCycle(deps, { nowMs: clock.now() });
      if (!r.ok || !r.decision) throw r.error ?? new Error('cycle failed');
      metrics.recordCycle(r, clock.now());
      for (const e of r.events) notifier.send(e);
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
        say('       nightly reset (02:20): default priorities restored, daily windows start again');
      }
      for (const c of r.applied) {
        say(changeLine(c).replace(/^ {2}/, '       '));
        (c.to === config.demoted ? seen.demoted : seen.restored).add(c.id);
      }
      if (time === '02:10') await showStatus();
      await new Promise((res) => setTimeout(res, (stepSec * 1000) / opts.speed));
    }
    await showStatus();
    const state = await deps.store.load();
    const names = new Map(sim.channels.map((c) => [c.id, c.name]));
    const report = dailyReport({ config, buckets: state.usage.buckets, channelIds: resolveRefs(config, await client.listChannels()).ids, channelNames: names, nowMs: clock.now(), days: 2 });
    say('$ quota-pilot report --days 2');
    say(renderReport(report, { config, state, source: 'names from OneAPI', width: 110 }) + '\n');
    const wanted = /^quota_pilot_(budget_usage_ratio|channel_priority|cycles_total|priority_changes_total)\{/;
    say('$ curl -s 127.0.0.1:9464/metrics   (excerpt)');
    say((await metrics.registry.metrics()).split('\n').filter((l) => wanted.test(l)).join('\n') + '\n');
    if (targets.length) {
      await notifier.flush(10_000);
      say(`alerts: ${notifier.sent} delivered, ${notifier.failed} failed, to ${targets.map((t) => t.name).join(', ')}`);
    }
    const untouched = sim.writes().every((w) => (w.body as { id?: number } | undefined)?.id !== 6);
    say(`\n${sim.logs.length} consume logs, ${client.requestCount} requests to OneAPI, ${sim.writes().length} priority writes.`);
    say(`team-openai (not in the config) was ${untouched ? 'never touched' : 'WRITTEN TO (bug)'}.`);
    const ok = seen.demoted.size > 0 && seen.reset && [...seen.demoted].every((id) => seen.restored.has(id)) && untouched;
    say(ok ? 'Demo finished: free channels were demoted when used up and came back at the nightly reset.' : 'Demo did NOT show the expected demotion and reset.');
    return ok ? 0 : 1;
  } finally {
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** A 6-cell bar, readable without colour. */
function bar(ratio: number): string {
  const cells = Math.min(6, Math.round(Math.min(ratio, 1) * 6));
  return '#'.repeat(cells) + '.'.repeat(6 - cells);
}
