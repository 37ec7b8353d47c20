import { expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
const example = readFileSync(join(ROOT, 'systemd/env.example'), 'utf8');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const set = example.split('\n').filter((l) => /^[A-Z_0-9]+=/.test(l)).map((l) => l.slice(0, l.indexOf('=')));
const mentioned = [...example.matchAll(/^#?([A-Z][A-Z_0-9]+)=/gm)].map((m) => m[1]);

it('the example environment file sets only what every install needs: per-flavor defaults stay commented out', () => {
  expect(set).toEqual(['ONEAPI_BASE_URL', 'ONEAPI_ACCESS_TOKEN', 'ONEAPI_USER_ID', 'ONEAPI_FLAVOR', 'ONEAPI_TIMEOUT', 'LOG_LEVEL']);
  expect(mentioned).toContain('ONEAPI_RATE_LIMIT');
});

it('every variable the example names is in the README', () => {
  for (const v of mentioned) expect([v, readme.includes(`\`${v}\``)]).toEqual([v, true]);
});
