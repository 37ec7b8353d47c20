import { loadConfig } from '../../config/load.js';
import { formatIssue } from '../../config/types.js';
import { createClient } from '../../oneapi/client.js';
import type { Config } from '../../config/types.js';
import type { Flavor } from '../../oneapi/types.js';
import { EnvError, flavorOf, readConnection, readDbSettings } from '../../platform/env.js';
import { DbError } from '../../usage/db/connect.js';
import { openLogDb } from '../../usage/db/open.js';
import { schemaProblems } from '../../usage/db/queries.js';
import { formatRefProblem, resolveRefs } from '../../policy/resolve.js';
import { context, type GlobalOptions } from '../context.js';

/**
 * Checks both YAML files and, when a connection is configured, that every channel they name exists exactly once in
 * OneAPI. Exit 0, or 78 with every problem listed.
 */
export async function validateCommand(opts: GlobalOptions): Promise<number> {
  const ctx = context(opts, 2);
  const loaded = await loadConfig(ctx.configDir, { flavor: flavorOf(ctx.env) });
  const lines = loaded.issues.map((i) => `${i.severity}: ${formatIssue(i)}`);
  let errors = loaded.issues.filter((i) => i.severity === 'error').length;
  if (loaded.config && ctx.env.ONEAPI_BASE_URL) {
    try {
      const client = createClient({ ...readConnection(ctx.env), retries: 1 });
      const resolution = resolveRefs(loaded.config, await client.listChannels());
      lines.push(...resolution.problems.map((p) => `error: ${formatRefProblem(p)}`));
      errors += resolution.problems.length;
    } catch (err) {
      lines.push(`warning: channel names not checked against OneAPI: ${(err as Error).message}`);
    }
  } else if (loaded.config) {
    lines.push('note: ONEAPI_BASE_URL is not set, so channel names were not checked against OneAPI');
  }
  let dbExit = 0;
  if (loaded.config?.usageSource === 'database') {
    const db = await checkDatabase(ctx.env, loaded.config, flavorOf(ctx.env));
    lines.push(...db.lines);
    dbExit = db.exit;
    if (db.exit === 78) errors += db.lines.length;
  }
  if (lines.length) process.stderr.write(lines.join('\n') + '\n');
  if (dbExit === 77 || dbExit === 1) return dbExit;
  if (errors > 0) {
    process.stderr.write(`${errors} error${errors === 1 ? '' : 's'} in ${ctx.configDir}\n`);
    return 78;
  }
  const c = loaded.config!;
  process.stdout.write(`config OK: ${c.budgets.length} budgets, ${c.defaults.length} default priorities, demoted ${c.demoted}, nightly reset ${c.reset.at} ${c.reset.timezone}\n`);
  return 0;
}

/**
 * usage.source: database: connects with ONEAPI_DB_URL and checks that `logs` has the flavor's columns. Exit 77 for
 * a refused login (like a refused access token), 1 for a database that cannot be reached, 78 for a missing URL,
 * table or column (the configuration or the flavor is wrong).
 */
async function checkDatabase(env: Record<string, string | undefined>, config: Config, flavor: Flavor): Promise<{ lines: string[]; exit: number }> {
  let settings;
  try {
    settings = readDbSettings(env);
  } catch (err) {
    return { lines: (err as EnvError).problems.map((p) => `error: ${p}`), exit: 78 };
  }
  const { target } = settings;
  const db = openLogDb(target, { timeoutMs: Math.min(settings.timeoutMs, 10_000) });
  try {
    const problems = await schemaProblems(db, flavor);
    if (problems.length) return { lines: problems.map((p) => `error: ${p}`), exit: 78 };
    return { lines: [`note: usage is read from ${target.identity} (${flavor} logs table OK; ${config.budgets.length} budgets)`], exit: 0 };
  } catch (err) {
    const e = err instanceof DbError ? err : new DbError(String(err), 'other');
    return { lines: [`error: ${e.message}`], exit: e.problem === 'auth' ? 77 : e.problem === 'schema' ? 78 : 1 };
  } finally {
    await db.close();
  }
}
