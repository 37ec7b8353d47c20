import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Flavor } from '../oneapi/types.js';
import { cachedConfig } from './cache.js';
import type { FileText } from './parse.js';

export type { ConfigFiles, LoadedConfig } from './parse-config.js';

/**
 * Reads channels.yaml and priorities.yaml from `dir` and checks them. With `cacheDir`, a config already validated
 * from exactly these texts comes from the cache, and the YAML parser is not even loaded (see cache.ts); with
 * `cacheReadOnly` a cache is used but never written.
 */
export async function loadConfig(dir: string, opts?: { flavor?: Flavor; cacheDir?: string; cacheReadOnly?: boolean }) {
  const cPath = join(dir, 'channels.yaml');
  const pPath = join(dir, 'priorities.yaml');
  const [cText, pText] = await Promise.all([readText(cPath), readText(pPath)]);
  const parse = async () => (await import('./parse-config.js')).parseTexts(cPath, cText, pPath, pText, opts);
  if (!opts?.cacheDir || typeof cText !== 'string' || typeof pText !== 'string') return parse();
  return cachedConfig(opts.cacheDir, [cPath, cText, pPath, pText, opts.flavor ?? ''], parse, !opts.cacheReadOnly);
}

async function readText(path: string): Promise<FileText> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'ENOENT' ? null : { readError: e.message };
  }
}
