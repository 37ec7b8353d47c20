import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileNoFollow, writeFileDurable } from '../platform/files.js';
import type { LoadedConfig } from './parse-config.js';

const FILE = 'config-cache.json';
/** Set by the bundler (scripts/bundle.mjs) to a hash of the sources it bundled. */
declare const __QP_BUILD_ID__: string | undefined;
let codeHash: Promise<string> | undefined;

/**
 * A hash of the loader's own code, so a new version of quota-pilot never reads an old version's result: the
 * bundle's build id, else (unbundled: tests, the bench) the files beside this one.
 */
function loaderCode(): Promise<string> {
  if (typeof __QP_BUILD_ID__ === 'string') return Promise.resolve(__QP_BUILD_ID__);
  const here = dirname(fileURLToPath(import.meta.url));
  codeHash ??= readdir(here).then(async (names) => {
    const h = createHash('sha256');
    for (const n of names.filter((n) => /\.(js|ts)$/.test(n)).sort()) h.update(n).update(await readFile(join(here, n)));
    return h.digest('hex');
  });
  return codeHash;
}

/**
 * The validated config for exactly these file contents, from `<dir>/config-cache.json` when an earlier run already
 * validated them, else from `compute` (and then kept). Parsing YAML is the costly part of a short-lived command
 * with thousands of budgets; the cache is keyed by the texts and the loader's code, so it cannot go stale. Only
 * a config without errors is kept; a cache that cannot be read or written is ignored. `write: false` (status,
 * report: commands that only read) uses a cache it finds and never writes one. The cache is read without following
 * a symlink and written through a random exclusive temp file and a rename (platform/files.ts), so a link planted at
 * either name cannot redirect the read or the write of a root `quota-pilot status`.
 */
export async function cachedConfig(dir: string, inputs: string[], compute: () => Promise<LoadedConfig>, write = true): Promise<LoadedConfig> {
  const key = createHash('sha256').update(inputs.join('\u0000')).update(await loaderCode()).digest('hex');
  const path = join(dir, FILE);
  try {
    const hit = JSON.parse(await readFileNoFollow(path)) as { key?: string; loaded?: LoadedConfig };
    if (hit.key === key && hit.loaded?.config) return hit.loaded;
  } catch {
    // missing or unreadable: compute
  }
  const loaded = await compute();
  if (loaded.config && write) {
    await mkdir(dir, { recursive: true })
      .then(() => writeFileDurable(path, JSON.stringify({ key, loaded })))
      .catch(() => undefined);
  }
  return loaded;
}
