import { loadConfig } from '../../config/load.js';
import { formatIssue } from '../../config/types.js';
import { createClient } from '../../oneapi/client.js';
import { flavorOf, readConnection } from '../../platform/env.js';
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
  if (lines.length) process.stderr.write(lines.join('\n') + '\n');
  if (errors > 0) {
    process.stderr.write(`${errors} error${errors === 1 ? '' : 's'} in ${ctx.configDir}\n`);
    return 78;
  }
  const c = loaded.config!;
  process.stdout.write(`config OK: ${c.budgets.length} budgets, ${c.defaults.length} default priorities, demoted ${c.demoted}, nightly reset ${c.reset.at} ${c.reset.timezone}\n`);
  return 0;
}
