// Bundles the CLI into dist/cli/: main.js (the `quota-pilot` bin), one file per command (loaded when that command
// runs) and shared chunks. Loading ~500 small ES modules (zod, axios and our own) cost each short command ~0.2 s of
// its start-up; one file per command loads in a fraction of that. tsc still type-checks and emits dist/src/ for the
// bench and the simulator. The database drivers stay external: they load only for `usage.source: database`.
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist/cli');

/** A hash of every source file and the lockfile: the config cache's key for "this build of quota-pilot". */
function buildId() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(p.slice(root.length)).update(readFileSync(p));
    }
  };
  walk(join(root, 'src'));
  h.update(readFileSync(join(root, 'package-lock.json')));
  return h.digest('hex');
}

const commands = readdirSync(join(root, 'src/cli/commands'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => join(root, 'src/cli/commands', f));

/**
 * commander requires node:child_process when it loads, for subcommands that are separate executables; quota-pilot
 * has none. Loading child_process (and the net, dgram and stream internals behind it) cost every command ~5 ms of
 * start-up, so commander gets a stand-in that loads the real module on first use.
 */
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'lazy-child-process', namespace: 'qp' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'qp' }, () => ({
      contents: "let real; module.exports = new Proxy({}, { get: (_, k) => (real ??= require('node:child_process'))[k] });",
      loader: 'js',
    }));
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src/cli/main.ts'), ...commands],
  outdir: out,
  outbase: join(root, 'src/cli'),
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  // Optional or native, and only for the database usage source; pino-pretty only for `logs`.
  external: ['better-sqlite3', 'mysql2', 'pg', 'kysely', 'pino-pretty'],
  // CommonJS dependencies (axios' helpers, pino) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __qpRequire } from 'node:module'; const require = __qpRequire(import.meta.url);" },
  define: { __QP_BUILD_ID__: JSON.stringify(buildId()) },
  plugins: [lazyChildProcessForCommander],
  logLevel: 'warning',
});
chmodSync(join(out, 'main.js'), 0o755);
