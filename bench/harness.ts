import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SimRequest, Simulator } from '../src/sim/simulator.js';

/** The package root (this file runs from dist/bench/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/cli/main.js');
const PROBE = pathToFileURL(join(ROOT, 'dist/bench/rss-probe.js')).href;
const REPLAY = join(ROOT, 'dist/bench/replay-client.js');
/** The node flags of the CLI's #! line (and the systemd unit): the CLI is measured as it is shipped. */
export const CLI_NODE_FLAGS = (readFileSync(CLI, 'utf8').split('\n', 1)[0]!.match(/^#!.*?\bnode\b(.*)$/)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);

/** One finished CLI process. `rssMb` and `cpuMs` come from the preloaded probe (absent if it did not run). */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stdout: string;
  stderr: string;
  rssMb?: number;
  cpuMs?: number;
}

const scratch = mkdtempSync(join(tmpdir(), 'qp-bench-'));
let probeCount = 0;

/** A fresh directory under the bench's scratch dir. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(scratch, `${prefix}-`));
}

/** Removes everything the bench wrote. */
export function cleanUp(): void {
  rmSync(scratch, { recursive: true, force: true });
}

const children = new Set<ChildProcess>();
function track(child: ChildProcess): void {
  children.add(child);
  child.on('close', () => children.delete(child));
}

/** On SIGINT/SIGTERM (e.g. `timeout`), stops the CLI processes the bench started and removes its scratch dir. */
export function cleanUpOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of children) child.kill('SIGKILL');
      cleanUp();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/**
 * Runs the real CLI as a child process (asynchronously: the simulator lives in this process and must keep
 * answering), with only the given environment plus PATH, and the RSS/CPU probe preloaded.
 */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 15 * 60_000, stdoutToFile = false): Promise<CliRun> {
  return runNode([CLI, ...args], env, timeoutMs, stdoutToFile);
}

/**
 * The CLI's start-up for a command, without running it: node with the CLI's flags, loading that command's code
 * (commands are loaded when they run, so `--version` no longer loads what `once` needs).
 */
export function loadCommand(command: string, env: Record<string, string>): Promise<CliRun> {
  const module = pathToFileURL(join(ROOT, `dist/cli/commands/${command}.js`)).href;
  return runNode(['--input-type=module', '-e', `await import(${JSON.stringify(module)})`], env);
}

function runNode(argv: string[], env: Record<string, string>, timeoutMs = 15 * 60_000, stdoutToFile = false): Promise<CliRun> {
  const cli = startNode(argv, env, stdoutToFile);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  return cli.done.finally(() => clearTimeout(timer));
}

/**
 * Starts the CLI and leaves it running (for `run`); `done` settles when it exits. `stdoutToFile` sends stdout
 * to a file instead of a pipe: the CLI exits right after a large write, and a pipe loses what was not yet read.
 */
export function startCli(args: string[], env: Record<string, string>, stdoutToFile = false): { child: ChildProcess; stdout: () => string; done: Promise<CliRun> } {
  return startNode([CLI, ...args], env, stdoutToFile);
}

function startNode(argv: string[], env: Record<string, string>, stdoutToFile = false): { child: ChildProcess; stdout: () => string; done: Promise<CliRun> } {
  const probeFile = join(scratch, `probe-${++probeCount}.json`);
  const outFile = join(scratch, `stdout-${probeCount}.txt`);
  const outFd = stdoutToFile ? openSync(outFile, 'w') : undefined;
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...CLI_NODE_FLAGS, '--import', PROBE, ...argv], {
    env: { PATH: process.env.PATH ?? '', ...env, QP_BENCH_PROBE: probeFile },
    stdio: ['ignore', outFd ?? 'pipe', 'pipe'],
  });
  if (outFd !== undefined) closeSync(outFd);
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliRun>((resolve) =>
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (outFd !== undefined) stdout = readFileSync(outFile, 'utf8');
      resolve({ code, signal, ms, stdout, stderr, ...readProbe(probeFile) });
    }),
  );
  return { child, stdout: () => stdout, done };
}

function readProbe(file: string): { rssMb?: number; cpuMs?: number } {
  try {
    const p = JSON.parse(readFileSync(file, 'utf8')) as { maxRssKb: number; userUs: number; systemUs: number };
    return { rssMb: p.maxRssKb / 1024, cpuMs: (p.userUs + p.systemUs) / 1000 };
  } catch {
    return {};
  }
}

/** The environment that points the CLI at a simulator, a config dir and a state dir. */
export function cliEnv(sim: Simulator, configDir: string, stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ONEAPI_BASE_URL: sim.url,
    ONEAPI_ACCESS_TOKEN: sim.token,
    ONEAPI_USER_ID: '1',
    ONEAPI_FLAVOR: sim.flavor,
    QUOTA_PILOT_CONFIG_DIR: configDir,
    STATE_DIRECTORY: stateDir,
    ...extra,
  };
}

/** Writes channels.yaml and priorities.yaml into a new config dir. */
export function configDir(channelsYaml: string, prioritiesYaml: string): string {
  const dir = tempDir('cfg');
  writeFileSync(join(dir, 'channels.yaml'), channelsYaml);
  writeFileSync(join(dir, 'priorities.yaml'), prioritiesYaml);
  return dir;
}

/** A short, secret-free reason a CLI run failed. */
export function failure(run: CliRun): string {
  const how = run.signal ? `killed by ${run.signal}` : `exit ${run.code}`;
  // `error: …` on stderr, else the summary's `once: failed: …` on stdout, else the last log line.
  const lines = [...run.stderr.split('\n'), ...run.stdout.split('\n')].filter((l) => l.trim() !== '');
  const line = lines.find((l) => l.startsWith('error:')) ?? lines.find((l) => /^\w+: failed: /.test(l)) ?? run.stderr.trim().split('\n').pop() ?? '';
  return `${how}${line ? `: ${line.slice(0, 160)}` : ''}`;
}

/**
 * Replays `requests` with the minimal client in its own process (as the CLI runs in its own), against the same
 * simulator. Returns the process' wall time (node start-up included, as for the CLI) and the loop alone.
 */
export async function replay(sim: Simulator, requests: SimRequest[]): Promise<{ ms: number; loopMs: number }> {
  const file = join(tempDir('replay'), 'requests.json');
  writeFileSync(file, JSON.stringify(requests.map(({ method, path, query, body }) => ({ method, path, query, body }))));
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [REPLAY, file], {
    env: { PATH: process.env.PATH ?? '', REPLAY_BASE_URL: sim.url, REPLAY_TOKEN: sim.token, REPLAY_USER_ID: sim.flavor === 'new-api' ? '1' : '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (code !== 0) throw new Error(`replay client failed (exit ${code})`);
  return { ms, loopMs: (JSON.parse(out) as { ms: number }).ms };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Checks that the usage the CLI counted (as `status --json` tells it) is exactly the tokens of the simulator's
 * consume logs in each budget's channel and model since `from` (unix seconds). Returns undefined when every
 * budget agrees, else what differs: a request count means nothing if rows were skipped.
 */
export async function usageMismatch(sim: Simulator, env: Record<string, string>, from: number): Promise<string | undefined> {
  const run = await runCli(['status', '--json'], env, undefined, true);
  if (run.code !== 0) return `status --json failed (${failure(run)})`;
  let budgets: { channel: number | string; model: string | null; used: number }[];
  try {
    budgets = (JSON.parse(run.stdout) as { budgets: typeof budgets }).budgets;
  } catch {
    return 'status --json printed no readable budgets';
  }
  const expected = new Map<string, number>();
  for (const l of sim.logs) {
    if ((l.type ?? 2) !== 2 || l.created_at < from) continue;
    for (const key of [`${l.channel}|${l.model_name}`, `${l.channel}|`]) {
      expected.set(key, (expected.get(key) ?? 0) + l.prompt_tokens + l.completion_tokens);
    }
  }
  const wrong = budgets.filter((b) => b.used !== (expected.get(`${b.channel}|${b.model ?? ''}`) ?? 0));
  if (wrong.length === 0) return undefined;
  const w = wrong[0];
  return `${wrong.length} of ${budgets.length} budgets miscounted (channel ${w.channel} ${w.model ?? ''}: ${w.used.toLocaleString('en-US')} counted, ${(expected.get(`${w.channel}|${w.model ?? ''}`) ?? 0).toLocaleString('en-US')} logged)`;
}
