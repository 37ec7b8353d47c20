import { it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The Debian tools some tests need, and how to find each. `npm test` must pass with Node alone: a test whose tool is
 * missing is skipped with one line naming the package, except under CI=true, where .ci/run installs the tools and a
 * missing one fails the test. QP_TEST_WITHOUT=promtool,faketime,chromium fakes their absence (to try the skip path).
 */
const TOOLS = {
  faketime: { pkg: 'faketime', find: libfaketime },
  promtool: { pkg: 'prometheus', find: () => onPath('promtool') },
  chromium: { pkg: 'chromium', find: () => (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined) },
} as const;

export type Tool = keyof typeof TOOLS;

const hidden = () => (process.env.QP_TEST_WITHOUT ?? '').split(',').map((s) => s.trim());

/** Where the tool is, or undefined when it is missing (or hidden by QP_TEST_WITHOUT). */
export function findTool(name: Tool): string | undefined {
  return hidden().includes(name) ? undefined : TOOLS[name].find();
}

function missing(name: Tool): string {
  return `${name} not found: install Debian's ${TOOLS[name].pkg} package (apt-get install ${TOOLS[name].pkg})`;
}

/**
 * The tool's path. When it is missing: under CI=true this throws (the calling test fails); otherwise it prints one
 * line and returns undefined, and the caller leaves out what needs the tool.
 */
export function needTool(name: Tool, what: string): string | undefined {
  const path = findTool(name);
  if (path) return path;
  if (process.env.CI === 'true') throw new Error(`${missing(name)}; CI=true requires it (.ci/run installs it)`);
  process.stderr.write(`skipped: ${what} (${missing(name)})\n`);
  return undefined;
}

/** `it` for a test that needs a tool: skipped with one printed line when it is missing, failed under CI=true. */
export function itWith(name: Tool, title: string, fn: (path: string) => Promise<void>, timeoutMs?: number): void {
  const path = findTool(name);
  if (path) return void it(title, () => fn(path), timeoutMs);
  if (process.env.CI === 'true') return void it(title, async () => void needTool(name, title));
  needTool(name, title);
  it.skip(title, async () => undefined);
}

function onPath(cmd: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, cmd))
    .find((p) => existsSync(p));
}

/**
 * Debian's libfaketime, preloaded straight into node (not through the `faketime` wrapper, which would neither
 * forward SIGTERM nor let a test see node's own exit code).
 */
function libfaketime(): string | undefined {
  if (!existsSync('/usr/lib')) return undefined;
  return readdirSync('/usr/lib', { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `/usr/lib/${d.name}/faketime/libfaketime.so.1`)
    .find((p) => existsSync(p));
}
