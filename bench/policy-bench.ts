/**
 * `npm run bench:policy`: how exactly predictive demotion spends a free budget (issue 7). The real cycle
 * (runCycle: HTTP client, ingest, plan, apply) runs against the OneAPI simulator on 127.0.0.1, whose priority
 * router sees priorities through a channel cache refreshed every 12 s. Time is simulated: traffic is routed second
 * by second through the cache, and cycles run when the daemon would run them (every 60 s, or earlier when the
 * plan asks to look again: nextCycleDelayMs). Prints a Markdown table on stdout, progress on stderr.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import { parseConfig } from '../src/config/parse-config.js';
import { createClient } from '../src/oneapi/client.js';
import { runCycle } from '../src/reconcile/cycle.js';
import { stateCodec } from '../src/reconcile/state.js';
import { nextCycleDelayMs } from '../src/schedule/daemon.js';
import { mulberry32 } from '../src/sim/router.js';
import { startSimulator } from '../src/sim/simulator.js';
import { openStateStore } from '../src/state/store.js';
import { num, renderTable, say, type Row } from './table.js';

const TZ = 'Asia/Shanghai';
const MODEL = 'DeepSeek-V3-2-251201';
const B = 1_200_000;
const INTERVAL_SEC = 60;
/** One poll interval of traffic is 5% of the budget. */
const RATE = (0.05 * B) / INTERVAL_SEC;
const CACHE_SEC = 12;
const RUN_SEC = 40 * 60;
/** Where the burst starts, as a share of the budget (BENCH_BURST_AT, default 0.88: the minute ×3 ends just past it). */
const BURST_AT = Number(process.env.BENCH_BURST_AT ?? 0.88);

const CHANNELS = `timezone: ${TZ}\nchannels:\n  - channel: free\n    model: ${MODEL}\n    free_tokens: ${B}\n    demote_at: 1.0\n    warn_at: 0.8\n`;
const PRIORITIES = `reset:\n  at: "02:20"\ndefaults:\n  free: 100\n  paid: 50\ndemoted: 10\nrouting_delay: ${CACHE_SEC}\n`;

interface RunResult {
  served: number;
  best: number;
  cycles: number;
  reason: string;
}

/** Per-second demand: steady ±30% noise, optionally ×3 for the minute starting when it reaches `burstAt` × B. */
function demand(seed: number, t0: number, burstAt: number | null): Array<{ at: number; tokens: number }> {
  const rnd = mulberry32(seed * 7919 + 13);
  const out: Array<{ at: number; tokens: number }> = [];
  let total = 0;
  let burstFrom: number | null = null;
  for (let s = 0; s < RUN_SEC; s++) {
    if (burstAt !== null && burstFrom === null && total >= burstAt * B) burstFrom = s;
    const burst = burstFrom !== null && s < burstFrom + 60 ? 3 : 1;
    const tokens = Math.round(RATE * burst * (0.7 + 0.6 * rnd()));
    out.push({ at: t0 + s + 0.5, tokens });
    total += tokens;
  }
  return out;
}

/** The best any policy can do given the cache phase: switch at the last refresh before the budget is used up. */
function bestServed(traffic: Array<{ at: number; tokens: number }>, phase: number): number {
  let best = 0;
  let cum = 0;
  let i = 0;
  const first = Math.ceil((traffic[0].at - phase) / CACHE_SEC);
  for (let k = first; ; k++) {
    const r = phase + k * CACHE_SEC;
    while (i < traffic.length && traffic[i].at < r) cum += traffic[i++].tokens;
    if (cum > B || i >= traffic.length) return best;
    best = cum;
  }
}

async function runOnce(seed: number, phaseSec: number, burstAt: number | null): Promise<RunResult> {
  const t0 = Math.floor(DateTime.fromISO('2026-11-24T10:00:00', { zone: TZ }).toSeconds());
  let nowMs = t0 * 1000;
  const sim = await startSimulator({
    flavor: 'new-api',
    now: () => nowMs,
    channels: [
      { id: 1, name: 'free', priority: 100, status: 1, models: MODEL },
      { id: 2, name: 'paid', priority: 50, status: 1, models: MODEL },
    ],
    routing: { cacheSec: CACHE_SEC, phaseSec: t0 + phaseSec, seed },
  });
  const dir = await mkdtemp(join(tmpdir(), 'qp-policy-bench-'));
  try {
    const loaded = parseConfig({ channels: { path: 'channels.yaml', text: CHANNELS }, priorities: { path: 'priorities.yaml', text: PRIORITIES } }, { flavor: 'new-api' });
    if (!loaded.config) throw new Error(`bench config: ${JSON.stringify(loaded.issues)}`);
    const config = loaded.config;
    const client = createClient({ baseUrl: sim.url, accessToken: sim.token, flavor: 'new-api', userId: 1, maxRequestsPerMinute: 1_000_000, retries: 0, timeoutMs: 10_000, now: () => nowMs });
    const deps = { client, flavor: 'new-api' as const, config, store: openStateStore(dir, stateCodec), log: pino({ level: 'silent' }) };
    const traffic = demand(seed, t0, burstAt);
    let next = t0;
    let cycles = 0;
    let reason = '';
    for (const req of traffic) {
      while (next <= req.at) {
        nowMs = next * 1000;
        const r = await runCycle(deps, { nowMs });
        cycles++;
        if (!r.ok) throw new Error(`cycle failed: ${r.error?.message}`);
        if (process.env.BENCH_DEBUG) say(`${next - t0}: ${JSON.stringify(r.decision?.budgets.map((b) => [b.used, b.state, b.projection]))} next ${r.decision?.nextCheckAt} fetched ${r.fetched}`);
        for (const c of r.applied) if (c.to === config.demoted) reason = c.reason;
        next += nextCycleDelayMs(0, INTERVAL_SEC, r.decision?.nextCheckAt ?? null, nowMs) / 1000;
      }
      nowMs = req.at * 1000;
      const prompt = Math.round(req.tokens * 0.7);
      sim.route(MODEL, { at: req.at, promptTokens: prompt, completionTokens: req.tokens - prompt });
    }
    const served = sim.logs.filter((l) => l.channel === 1).reduce((n, l) => n + (l.prompt_tokens ?? 0) + (l.completion_tokens ?? 0), 0);
    return { served, best: bestServed(traffic, t0 + phaseSec), cycles, reason };
  } finally {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${num(x * 100, 2)}%`;

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const [label, burstAt] of [['steady', null], [`burst ×3 for 1 min from ${BURST_AT * 100}%`, BURST_AT]] as const) {
    for (let run = 0; run < 5; run++) {
      const seed = run + 1;
      const phase = (run * CACHE_SEC) / 5;
      const r = await runOnce(seed, phase, burstAt);
      const over = (r.served - B) / B;
      const util = Math.min(r.served, B) / B;
      const best = r.best / B;
      say(`${label} seed ${seed} phase ${phase.toFixed(1)} s: served ${num(r.served)}, best ${num(r.best)}, ${r.cycles} cycles; ${r.reason}`);
      const tag = `${label}, seed ${seed}, cache phase ${phase.toFixed(1)} s`;
      const limit = burstAt === null ? 0.005 : 0.01;
      rows.push({ measure: `overshoot, ${tag}`, figure: pct(over), goal: `≤ ${pct(limit)}`, pass: over <= limit });
      if (burstAt === null)
        rows.push({ measure: `utilization, ${tag}`, figure: `${num(util * 100, 2)}% (best ${num(best * 100, 2)}%)`, goal: 'within 1% of best', pass: util >= best - 0.01 });
      else rows.push({ measure: `utilization, ${tag}`, figure: `${num(util * 100, 2)}% (best ${num(best * 100, 2)}%)`, goal: '(for information)' });
      rows.push({ measure: `cycles in ${RUN_SEC / 60} min (polls every ${INTERVAL_SEC} s + looks between), ${tag}`, figure: num(r.cycles), goal: '(for information)' });
    }
  }
  process.stdout.write(renderTable(rows) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
