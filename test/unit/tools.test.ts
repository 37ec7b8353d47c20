import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { findTool, needTool } from '../helpers/tools.js';

// npm test must pass with Node alone: a missing Debian tool is one printed line, except under CI=true.
describe('tests that need a Debian tool', () => {
  const saved = { without: process.env.QP_TEST_WITHOUT, ci: process.env.CI };
  afterEach(() => {
    process.env.QP_TEST_WITHOUT = saved.without;
    process.env.CI = saved.ci;
    if (saved.without === undefined) delete process.env.QP_TEST_WITHOUT;
    if (saved.ci === undefined) delete process.env.CI;
    jest.restoreAllMocks();
  });

  it.each([
    ['promtool', 'prometheus'],
    ['faketime', 'faketime'],
    ['chromium', 'chromium'],
  ] as const)('%s missing: one line naming Debian package %s, and the test is left out', (tool, pkg) => {
    process.env.QP_TEST_WITHOUT = tool;
    delete process.env.CI;
    const lines: string[] = [];
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => lines.push(String(s)) > 0);
    expect(findTool(tool)).toBeUndefined();
    expect(needTool(tool, 'the check')).toBeUndefined();
    expect(lines).toEqual([`skipped: the check (${tool} not found: install Debian's ${pkg} package (apt-get install ${pkg}))\n`]);
  });

  it('under CI=true a missing tool fails instead', () => {
    process.env.QP_TEST_WITHOUT = 'promtool';
    process.env.CI = 'true';
    expect(() => needTool('promtool', 'the check')).toThrow("promtool not found: install Debian's prometheus package (apt-get install prometheus); CI=true requires it (.ci/run installs it)");
  });
});
