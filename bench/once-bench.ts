/**
 * `npm run bench`: how long `quota-pilot once` takes, and how many HTTP requests it sends, on 10,000 consume logs,
 * per OneAPI flavor. The real CLI runs as a child process against the simulator on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { demoChannels } from '../src/cli/commands/demo.js';
import type { Flavor } from '../src/oneapi/types.js';
import { startSimulator, type SimLog } from '../src/sim/simulator.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const LOGS = Number(process.env.BENCH_LOGS ?? 10_000);
const MODELS: Record<number, string> = { 1: 'DeepSeek-V3-2-251201', 2: 'Doubao-Seed-Code-Preview-251028', 3: 'GLM-4-7-251222', 4: 'Kimi-K2-Thinking-251104', 5: 'DeepSeek-V3-2-251201', 6: 'gpt-4o' };

function makeLogs(n: number): SimLog[] {
  const now = DateTime.now().setZone('Asia/Shanghai');
  let start = now.startOf('day').set({ hour: 2, minute: 20 });
  if (start > now) start = start.minus({ days: 1 });
  const from = start.toSeconds() + 1;
  const to = now.toSeconds() - 30;
  return Array.from({ length: n }, (_, i) => {
    const channel = (i % 6) + 1;
    return { created_at: Math.floor(from + ((to - from) * i) / n), channel, model_name: MODELS[channel], prompt_tokens: 120 + (i % 50), completion_tokens: 40 + (i % 30) };
  });
}

/** Runs `quota-pilot once` (asynchronously: the simulator lives in this process and must keep answering). */
function once(env: Record<string, string>): Promise<{ ms: number; code: number | null }> {
  const t = process.hrtime.bigint();
  const child = spawn(process.execPath, [CLI, 'once'], { env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0) process.stderr.write(out);
      resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, code });
    }),
  );
}

async function bench(flavor: Flavor) {
  const sim = await startSimulator({ flavor, channels: demoChannels(), logs: makeLogs(LOGS) });
  const cfg = mkdtempSync(join(tmpdir(), 'qp-bench-cfg-'));
  const state = mkdtempSync(join(tmpdir(), 'qp-bench-state-'));
  for (const f of ['channels.yaml', 'priorities.yaml']) copyFileSync(join(ROOT, f), join(cfg, f));
  const env = { ONEAPI_BASE_URL: sim.url, ONEAPI_ACCESS_TOKEN: sim.token, ONEAPI_USER_ID: '1', ONEAPI_FLAVOR: flavor, ONEAPI_RATE_LIMIT: '100000', QUOTA_PILOT_CONFIG_DIR: cfg, STATE_DIRECTORY: state };
  try {
    const cold = await once(env);
    const coldRequests = sim.requests.length;
    sim.requests.length = 0;
    await new Promise((r) => setTimeout(r, 1100));
    const warm = await once(env);
    const warmRequests = sim.requests.length;
    const atDefaultCap = (coldRequests / 120) * 60; // ONEAPI_RATE_LIMIT=120 requests per minute, burst 10
    return { flavor, logs: LOGS, cold_ms: Math.round(cold.ms), cold_requests: coldRequests, warm_ms: Math.round(warm.ms), warm_requests: warmRequests, cold_s_at_default_rate_cap: Math.max(0, Math.round(atDefaultCap - 10 / 2)), ok: cold.code === 0 && warm.code === 0 };
  } finally {
    await sim.close();
    rmSync(cfg, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
}

const rows = [];
for (const f of ['one-api', 'new-api', 'one-hub'] as Flavor[]) rows.push(await bench(f));
console.log(`quota-pilot once on ${LOGS.toLocaleString('en-US')} consume logs (rate cap lifted; node startup included)`);
console.table(rows);
console.log('cold = empty state (reads the whole window); warm = the next cycle (reads only the overlap).');
console.log('cold_s_at_default_rate_cap = how long the cold read would take under the default ONEAPI_RATE_LIMIT=120.');
if (rows.some((r) => !r.ok)) process.exit(1);
