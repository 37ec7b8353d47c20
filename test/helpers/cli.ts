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

/**
 * The secrets an environment gives the CLI: tokens, passwords, webhook secrets, and the password of any URL
 * (ONEAPI_BASE_URL, ONEAPI_DB_URL, a webhook's). Values under 8 characters are left out: too likely to occur by chance.
 */
export function secretsOf(env: Record<string, string>): string[] {
  const found = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (/TOKEN|SECRET|PASSWORD/.test(name)) found.add(value);
    try {
      const u = new URL(value);
      if (u.password) found.add(decodeURIComponent(u.password)).add(u.password);
    } catch {
      // not a URL
    }
  }
  return [...found].filter((s) => s.length >= 8);
}

/**
 * Throws when `text` (what the CLI printed to `where`) contains any of `secrets`, or the first 10 characters of one
 * (a secret cut short by a truncation still leaks its start), naming where and the secret's length only.
 */
export function assertNoSecrets(text: string, secrets: string[], where: string): void {
  for (const s of secrets) {
    const i = text.indexOf(s.slice(0, 10));
    if (i >= 0) throw new Error(`a secret (${s.length} characters) leaked into the CLI's ${where}: ...${text.slice(Math.max(0, i - 80), i)}[SECRET]...`);
  }
}

/** Runs the built CLI as a child process, with only the environment given (plus PATH). */
export function runCli(args: string[], env: Record<string, string>, opts: { prefix?: string[]; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = startCli(args, env, opts.prefix);
  return finished(child, opts.timeoutMs ?? 30_000);
}

export type CliChild = ChildProcess & { out: () => string; err: () => string; secrets: string[] };

/** Starts the CLI and leaves it running (for `run`). Its output is scanned for the env's secrets when it ends (finished, useCleanup). */
export function startCli(args: string[], env: Record<string, string>, prefix: string[] = []): CliChild {
  const cmd = [...prefix, process.execPath, CLI, ...args];
  const child = spawn(cmd[0], cmd.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return Object.assign(child, { out: () => out, err: () => err, secrets: secretsOf(env) });
}

/** Throws when the child printed any secret of its environment (every test that runs the CLI goes through here). */
export function scanOutput(child: CliChild): void {
  assertNoSecrets(child.out(), child.secrets, 'stdout');
  assertNoSecrets(child.err(), child.secrets, 'stderr');
}

/** Resolves when the child exits; rejects when it timed out or printed a secret of its environment. */
export function finished(child: CliChild, timeoutMs: number): Promise<CliResult> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`CLI timed out after ${timeoutMs} ms\nstdout: ${child.out()}\nstderr: ${child.err()}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      // let the pipes drain
      setImmediate(() => {
        try {
          scanOutput(child);
        } catch (e) {
          return rej(e);
        }
        res({ code, stdout: child.out(), stderr: child.err() });
      });
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
  let children: CliChild[] = [];
  let fns: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const f of fns) await f();
    const started = children;
    children = [];
    fns = [];
    // A daemon's output is scanned even when the test never waited for it to end.
    for (const c of started) scanOutput(c);
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
