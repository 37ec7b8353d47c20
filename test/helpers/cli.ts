import { afterEach } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tempDir } from './temp.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a child process, with only the environment given (plus PATH). */
export function runCli(args: string[], env: Record<string, string>, opts: { prefix?: string[]; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = startCli(args, env, opts.prefix);
  return finished(child, opts.timeoutMs ?? 30_000);
}

/** Starts the CLI and leaves it running (for `run`). */
export function startCli(args: string[], env: Record<string, string>, prefix: string[] = []): ChildProcess & { out: () => string; err: () => string } {
  const cmd = [...prefix, process.execPath, CLI, ...args];
  const child = spawn(cmd[0], cmd.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return Object.assign(child, { out: () => out, err: () => err });
}

export function finished(child: ChildProcess & { out: () => string; err: () => string }, timeoutMs: number): Promise<CliResult> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`CLI timed out after ${timeoutMs} ms\nstdout: ${child.out()}\nstderr: ${child.err()}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      // let the pipes drain
      setImmediate(() => res({ code, stdout: child.out(), stderr: child.err() }));
    });
  });
}

/** A temp dir with the shipped example config, optionally overridden. */
export async function configDir(files: { channels?: string; priorities?: string } = {}): Promise<string> {
  const dir = await tempDir('qp-config-');
  for (const name of ['channels', 'priorities'] as const) {
    const target = join(dir, `${name}.yaml`);
    if (files[name] !== undefined) await writeFile(target, files[name]!);
    else await copyFile(join(ROOT, `${name}.yaml`), target);
  }
  return dir;
}

export const stateDir = () => tempDir('qp-state-');

/** Polls until `pred` holds or the time runs out. */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Parses pino JSON lines, ignoring anything else. */
export function events(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** For tests that start daemons: kills what is still running and runs the cleanups after each test. */
export function useCleanup() {
  let children: ChildProcess[] = [];
  let fns: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const f of fns) await f();
    children = [];
    fns = [];
  });
  return {
    start(...args: Parameters<typeof startCli>) {
      const c = startCli(...args);
      children.push(c);
      return c;
    },
    add(fn: () => Promise<void>) {
      fns.push(fn);
    },
  };
}
