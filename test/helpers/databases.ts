import { describe } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineAvailable, PACKAGE, type Engine } from '../../bench/db-servers.js';

export * from '../../bench/db-servers.js';

/** The shipped channels.yaml, reading usage from the database. */
export const DB_CHANNELS = `usage:\n  source: database\n${readFileSync(join(import.meta.dirname, '../../channels.yaml'), 'utf8')}`;

/**
 * `describe` for a suite that needs a database server (as tools.ts does for Debian tools): when it is missing, one
 * line naming what to install and the suite is skipped; under CI=true (.ci/run installs the servers) the suite
 * fails. QP_TEST_WITHOUT=mariadb,postgres,sqlite fakes their absence (to try the skip path).
 */
export function describeWith(e: Engine, title: string): typeof describe | typeof describe.skip {
  const hidden = (process.env.QP_TEST_WITHOUT ?? '').split(',').map((s) => s.trim());
  if (engineAvailable(e) && !hidden.includes(e)) return describe;
  const missing = `${e} not found: install ${PACKAGE[e]}`;
  if (process.env.CI === 'true') throw new Error(`${title}: ${missing}; CI=true requires it (.ci/run installs it)`);
  process.stderr.write(`skipped: ${title} (${missing})\n`);
  return describe.skip;
}
