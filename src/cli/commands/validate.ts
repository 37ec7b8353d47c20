import { loadConfig } from '../../config/load.js';
import { formatIssue, type ConfigIssue } from '../../config/types.js';
import { createClient } from '../../oneapi/client.js';
import type { Config } from '../../config/types.js';
import { OneApiError, type Flavor } from '../../oneapi/types.js';
import { EnvError, flavorOf, readConnection, readDbSettings } from '../../platform/env.js';
import { checkChannels, toIssue } from '../../policy/checks.js';
import { DbError } from '../../usage/db/connect.js';
import { openLogDb } from '../../usage/db/open.js';
import { schemaProblems } from '../../usage/db/queries.js';
import { formatRefProblem, resolveRefs } from '../../policy/resolve.js';
import { context, type GlobalOptions } from '../context.js';

/**
 * Checks both YAML files, then that every channel they name exists exactly once in OneAPI, and the config against
 * the channels as `run` does at start (policy/checks.ts): it fails exactly when `run` would refuse to start, and on
 * unresolved channel names too. Exit 0; 78 with every problem listed; 77 when OneAPI refuses the token and 1 when it cannot be reached,
 * because a config that was not checked against OneAPI has not been validated. `--offline` checks the YAML only.
 */
export async function validateCommand(opts: GlobalOptions & { offline?: boolean }): Promise<number> {
  const ctx = context(opts, 2);
  const flavor = flavorOf(ctx.env);
  const loaded = await loadConfig(ctx.configDir, { flavor });
  const issues: ConfigIssue[] = [...loaded.issues];
  const say = (lines: string[]) => lines.length && process.stderr.write(lines.join('\n') + '\n');
  let refErrors: string[] = [];
  let checked = false;
  if (loaded.config && !opts.offline && !issues.some((i) => i.severity === 'error')) {
    let connection;
    try {
      connection = readConnection(ctx.env);
    } catch (err) {
      if (err instanceof EnvError) throw new EnvError([...err.problems, 'or pass --offline to check the YAML files only']);
      throw err;
    }
    try {
      const channels = await createClient({ ...connection, retries: 1 }).listChannels();
      const resolution = resolveRefs(loaded.config, channels);
      refErrors = resolution.problems.map((p) => `error: ${formatRefProblem(p)}`);
      issues.push(...checkChannels(loaded.config, channels, resolution).map(toIssue));
      checked = true;
    } catch (err) {
      if (!(err instanceof OneApiError)) throw err;
      say(issues.map((i) => `${i.severity}: ${formatIssue(i)}`));
      process.stderr.write(`error: channel names and models could not be checked: ${err.message}\n`);
      process.stderr.write('config NOT validated (pass --offline to check the YAML files only)\n');
      return err.kind === 'auth' ? 77 : 1;
    }
  }
  const lines = [...issues.map((i) => `${i.severity}: ${formatIssue(i)}`), ...refErrors];
  let errors = issues.filter((i) => i.severity === 'error').length + refErrors.length;
  let dbExit = 0;
  if (loaded.config?.usageSource === 'database' && !opts.offline) {
    const db = await checkDatabase(ctx.env, loaded.config, flavor);
    lines.push(...db.lines);
    dbExit = db.exit;
    if (db.exit === 78) errors += db.lines.length;
  }
  if (errors === 0 && opts.offline) lines.push('note: --offline: channel names and models were not checked against OneAPI');
  say(lines);
  if (dbExit === 77 || dbExit === 1) return dbExit;
  if (errors > 0) {
    process.stderr.write(`${errors} error${errors === 1 ? '' : 's'} in ${ctx.configDir}\n`);
    return 78;
  }
  const c = loaded.config!;
  const against = checked ? `, checked against OneAPI (${flavor})` : ', OneAPI not checked (--offline)';
  process.stdout.write(
    `config OK: ${ctx.configDir}: ${c.budgets.length} budgets, ${c.defaults.length} default priorities, demoted ${c.demoted}, nightly reset ${c.reset.at} ${c.reset.timezone}${against}\n`,
  );
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
