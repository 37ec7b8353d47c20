/**
 * One run of the policy bench: the real cycle (runCycle: HTTP client, ingest, plan, apply) against the OneAPI
 * simulator on 127.0.0.1, whose priority router sees priorities through a channel cache refreshed every `cacheSec`.
 * Time is simulated: requests are routed at their start, second by second, through the cache, and logged when they
 * end; cycles run when the daemon would run them (every poll interval, or earlier when the plan asks to look again:
 * nextCycleDelayMs), from the moment the daemon starts.
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
import { say } from './table.js';

export const TZ = 'Asia/Shanghai';
const MODEL = 'DeepSeek-V3-2-251201';
export const B = 1_200_000;

export interface Scenario {
  flavor: 'new-api' | 'one-api';
  /** The simulator's routing cache, seconds (the real delay). */
  cacheSec: number;
  /** routing_delay in priorities.yaml; null: not set (auto). */
  routingDelay: number | null;
  intervalSec: number;
  /** Mean tokens per second (±30% noise per second). */
  rate: number;
  runSec: number;
  /** The daemon starts when this share of B is used (default 0: from the start). */
  startAt?: number;
  /** ×3 for the minute starting when this share of B is used. */
  burstAt?: number | null;
  /** Request durations: uniform in [min, max] seconds (default 0). */
  elapsed?: [number, number];
  /** Daily windows run one after the other (default 1). */
  windows?: number;
}

/** What one window of a run served on the free channel, against what the cache phase allows. */
export interface WindowResult {
  served: number;
  best: number;
  /**
   * The best a policy that does not know the cache's phase can do without overshooting: demote D seconds before the
   * budget runs out (or at once, when the daemon starts later), and be served until the first refresh after that.
   */
  safe: number;
  reason: string;
}

export interface RunResult {
  windows: WindowResult[];
  cycles: number;
  delay: string;
}

interface Request {
  at: number;
  tokens: number;
  elapsed: number;
}

/** Per-second requests from `t0`: steady ±30% noise, optionally ×3 for the minute from `burstAt` × B. */
function traffic(s: Scenario, seed: number, t0: number): Request[] {
  const rnd = mulberry32(seed * 7919 + 13);
  const out: Request[] = [];
  let total = 0;
  let burstFrom: number | null = null;
  for (let i = 0; i < s.runSec; i++) {
    if (s.burstAt != null && burstFrom === null && total >= s.burstAt * B) burstFrom = i;
    const burst = burstFrom !== null && i < burstFrom + 60 ? 3 : 1;
    const tokens = Math.round(s.rate * burst * (0.7 + 0.6 * rnd()));
    const elapsed = s.elapsed ? s.elapsed[0] + (s.elapsed[1] - s.elapsed[0]) * rnd() : 0;
    out.push({ at: t0 + i + 0.5, tokens, elapsed });
    total += tokens;
  }
  return out;
}

/**
 * The best any policy can do given the cache phase: switch at the last refresh (at or after `from`, when the
 * daemon can first act) before the requests started so far use the budget up. Routing is decided at a request's
 * start, so a request counts from its start. With no refresh in time, the first one there is.
 */
function bestServed(reqs: Request[], phase: number, cacheSec: number, from: number): number {
  let cum = 0;
  let i = 0;
  if (cacheSec === 0) {
    for (const r of reqs) {
      if (r.at >= from && cum + r.tokens > B) return cum;
      cum += r.tokens;
    }
    return cum;
  }
  let best: number | null = null;
  for (let k = Math.ceil((from - phase) / cacheSec); ; k++) {
    const refresh = phase + k * cacheSec;
    while (i < reqs.length && reqs[i].at < refresh) cum += reqs[i++].tokens;
    if (cum > B || i >= reqs.length) return best ?? cum;
    best = cum;
  }
}

function safeServed(reqs: Request[], phase: number, cacheSec: number, from: number): number {
  let cum = 0;
  let runsOut = Infinity;
  for (const r of reqs) {
    if (cum + r.tokens > B) {
      runsOut = r.at;
      break;
    }
    cum += r.tokens;
  }
  const demote = Math.max(from, runsOut - cacheSec);
  const moved = cacheSec === 0 ? demote : phase + Math.ceil((demote - phase) / cacheSec) * cacheSec;
  return reqs.filter((r) => r.at < moved).reduce((n, r) => n + r.tokens, 0);
}

export async function runScenario(s: Scenario, seed: number, phaseSec: number): Promise<RunResult> {
  const day1 = Math.floor(DateTime.fromISO('2026-11-24T02:20:00', { zone: TZ }).toSeconds());
  let nowMs = day1 * 1000;
  const sim = await startSimulator({
    flavor: s.flavor,
    now: () => nowMs,
    channels: [
      { id: 1, name: 'free', priority: 100, status: 1, models: MODEL },
      { id: 2, name: 'paid', priority: 50, status: 1, models: MODEL },
    ],
    routing: { cacheSec: s.cacheSec, phaseSec: day1 + phaseSec, seed },
  });
  const dir = await mkdtemp(join(tmpdir(), 'qp-policy-bench-'));
  try {
    const channels = `timezone: ${TZ}\nchannels:\n  - channel: free\n    model: ${MODEL}\n    free_tokens: ${B}\n    demote_at: 1.0\n    warn_at: 0.8\n`;
    const priorities = `reset:\n  at: "02:20"\ndefaults:\n  free: 100\n  paid: 50\ndemoted: 10\n${s.routingDelay === null ? '' : `routing_delay: ${s.routingDelay}\n`}`;
    const loaded = parseConfig({ channels: { path: 'channels.yaml', text: channels }, priorities: { path: 'priorities.yaml', text: priorities } }, { flavor: s.flavor });
    if (!loaded.config) throw new Error(`bench config: ${JSON.stringify(loaded.issues)}`);
    const config = loaded.config;
    const client = createClient({ baseUrl: sim.url, accessToken: sim.token, flavor: s.flavor, userId: 1, maxRequestsPerMinute: 1_000_000, retries: 0, timeoutMs: 10_000, now: () => nowMs });
    const deps = { client, flavor: s.flavor, config, store: openStateStore(dir, stateCodec), log: pino({ level: 'silent' }) };
    const out: WindowResult[] = [];
    let cycles = 0;
    let delay = '';
    let next: number | null = null;
    for (let w = 0; w < (s.windows ?? 1); w++) {
      const t0 = day1 + w * 86_400 + 60;
      const reqs = traffic(s, seed + 100 * w, t0);
      let used = 0;
      let startAt: number | null = null;
      let reason = '';
      // Between windows the daemon polls an idle gateway: its first cycle of a window is at the window's start.
      if (next !== null) next = t0 - 30;
      for (const req of reqs) {
        if (next === null && used >= (s.startAt ?? 0) * B) next = Math.floor(req.at);
        if (startAt === null && next !== null) startAt = next;
        while (next !== null && next <= req.at) {
          nowMs = next * 1000;
          const r = await runCycle(deps, { nowMs });
          cycles++;
          if (!r.ok) throw new Error(`cycle failed: ${r.error?.message}`);
          if (process.env.BENCH_DEBUG) say(`${next - t0}: ${JSON.stringify(r.decision?.budgets.map((b) => [b.used, b.state, b.projection]))} delay ${r.routingDelay?.text}`);
          for (const c of r.applied) if (c.to === config.demoted) reason = c.reason;
          delay = r.routingDelay?.text ?? '';
          next += nextCycleDelayMs(0, s.intervalSec, r.decision?.nextCheckAt ?? null, nowMs) / 1000;
        }
        nowMs = req.at * 1000;
        const prompt = Math.round(req.tokens * 0.7);
        sim.route(MODEL, { at: req.at, promptTokens: prompt, completionTokens: req.tokens - prompt, elapsedSec: req.elapsed });
        used += req.tokens;
      }
      sim.flush();
      const end = t0 + s.runSec + 600;
      const served = sim.logs.filter((l) => l.channel === 1 && l.created_at >= t0 - 60 && l.created_at < end).reduce((n, l) => n + l.prompt_tokens + l.completion_tokens, 0);
      const from = startAt ?? t0;
      out.push({ served, best: bestServed(reqs, day1 + phaseSec, s.cacheSec, from), safe: safeServed(reqs, day1 + phaseSec, s.cacheSec, from), reason });
    }
    return { windows: out, cycles, delay };
  } finally {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}
