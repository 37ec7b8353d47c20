import { describe } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineAvailable, PACKAGE, type Engine } from '../../bench/db-servers.js';

export * from '../../bench/db-servers.js';

/** The shipped channels.yaml, reading usage from the database. */
export const DB_CHANNELS = `usage:\n  source: database\n${readFileSync(join(import.meta.dirname, '../../channels.yaml'), 'utf8')}`;

/**
 * `describe` for a suite that needs a server: without it, one line naming the Debian package and the suite is
 * skipped; under CI=true its absence fails (`.ci/run` installs it).
 */
export function describeWith(e: Engine, title: string): typeof describe | typeof describe.skip {
  if (engineAvailable(e)) return describe;
  if (process.env.CI === 'true') throw new Error(`${title}: needs ${PACKAGE[e]}, which .ci/run installs`);
  process.stdout.write(`${title}: skipped; install ${PACKAGE[e]} to run it\n`);
  return describe.skip;
}
