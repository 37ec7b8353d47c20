import { expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

// The CLI's memory flags live on its #! line and in the systemd unit's ExecStart: the two must say the same.

const flagsOf = (line: string) => (line.match(/\bnode\b((?:\s+--[\w-]+=\S+)*)/)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);

it('the systemd unit starts node with the same heap flags as the #! line', () => {
  const shebang = readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8').split('\n', 1)[0]!;
  const execStart = readFileSync(join(ROOT, 'systemd/quota-pilot.service'), 'utf8').split('\n').find((l) => l.startsWith('ExecStart='))!;
  expect(flagsOf(shebang)).toEqual(['--max-old-space-size=512', '--max-semi-space-size=2', '--initial-old-space-size=32']);
  expect(flagsOf(execStart)).toEqual(flagsOf(shebang));
});

it('the built CLI runs through its #! line (env -S), as the quota-pilot command does', () => {
  const out = execFileSync(join(ROOT, 'dist/cli/main.js'), ['--version'], { encoding: 'utf8' });
  expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
});
