import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { failure, runCli } from './harness.js';

export type Line = { msg?: string; durationMs?: number; dbMs?: number };
/** The JSON log lines of a CLI output. */
export const lines = (text: string): Line[] => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);

/**
 * One `once`: the usage read's database time and the cycle's length, from the CLI's own debug log (LOG_LEVEL=debug)
 * and state file; a failed run goes to `failures`.
 */
export async function onceTimed(env: Record<string, string>, state: string, failures: string[]): Promise<{ dbMs: number; cycleMs: number } | undefined> {
  const r = await runCli(['once'], env);
  if (r.code !== 0) {
    failures.push(failure(r));
    return undefined;
  }
  const read = lines(r.stderr).find((l) => l.msg === 'usage read');
  const last = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as { lastCycle: { durationMs: number } };
  return { dbMs: read?.dbMs ?? NaN, cycleMs: last.lastCycle.durationMs };
}
