import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse-config.js';
import type { Flavor } from '../../src/oneapi/types.js';
import { formatIssue, type ConfigIssue } from '../../src/config/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const CHANNELS = `timezone: Asia/Shanghai
channels:
  - channel: volc-deepseek
    model: DeepSeek-V3-2-251201
    free_tokens: 1900000
`;
const PRIORITIES = `reset:
  at: "02:20"
defaults:
  volc-deepseek: 100
  paid-deepseek: 50
demoted: 10
`;

/** Parses the two texts (defaults: one valid budget) and renders each issue as one line. */
function issuesOf(channels: string | null = CHANNELS, priorities: string | null = PRIORITIES, flavor?: Flavor): string[] {
  const out = parseConfig(
    { channels: { path: 'channels.yaml', text: channels }, priorities: { path: 'priorities.yaml', text: priorities } },
    { flavor },
  );
  const hasError = out.issues.some((i) => i.severity === 'error');
  expect(out.config === undefined).toBe(hasError);
  return out.issues.map(render);
}
const render = (i: ConfigIssue) => `${i.severity} ${formatIssue(i)}`;

/** channels.yaml with one budget whose lines are `lines` (indented for the list item). */
const budget = (...lines: string[]) =>
  `channels:\n  - channel: volc-deepseek\n${lines.map((l) => `    ${l}\n`).join('')}`;

describe('parseConfig issues', () => {
  const rows: { name: string; channels?: string | null; priorities?: string | null; flavor?: Flavor; want: string[] }[] = [
    {
      name: 'a YAML syntax error, with its position and the first line of the message',
      channels: 'channels:\n  - channel: [volc-deepseek\n    free_tokens: 1\n',
      want: ['error channels.yaml:3:5 (yaml): Flow sequence in block collection must be sufficiently indented and end with a ]'],
    },
    {
      name: 'every syntax error in a file, and the other file still checked',
      channels: 'channels:\n  - channel: a\n    free_tokens: 1\n  bad\n',
      priorities: PRIORITIES + 'demotd: 5\n',
      want: [
        'error channels.yaml:4:1 (yaml): All mapping items must start at the same column',
        'error channels.yaml:4:3 (yaml): Implicit map keys need to be followed by map values',
        'error priorities.yaml:7:1 demotd: unknown key; did you mean "demoted"?',
      ],
    },
    {
      name: 'an unknown key, with a suggestion',
      channels: budget('free_token: 1900000'),
      want: [
        'error channels.yaml:2:5 channels[0].free_tokens: required: the free tokens per window',
        'error channels.yaml:3:5 channels[0].free_token: unknown key; did you mean "free_tokens"?',
      ],
    },
    {
      name: 'an unknown key with nothing near it lists what is allowed',
      priorities: PRIORITIES + 'colour: blue\n',
      want: ['error priorities.yaml:7:1 colour: unknown key; allowed here: reset, defaults, demoted, routing_delay'],
    },
    {
      name: 'a window that is not one of the four',
      channels: budget('free_tokens: 1', 'window: dayly'),
      want: ['error channels.yaml:4:13 channels[0].window: must be one of daily, weekly, monthly, total (got "dayly")'],
    },
    {
      name: 'a time zone luxon does not know',
      channels: 'timezone: Asia/Shangai\n' + budget('free_tokens: 1'),
      want: ['error channels.yaml:1:11 timezone: must be an IANA time zone such as Asia/Shanghai or UTC (got "Asia/Shangai")'],
    },
    {
      name: 'free_tokens that is not a count',
      channels: budget('free_tokens: lots'),
      want: [
        'error channels.yaml:3:18 channels[0].free_tokens: must be a positive whole number of tokens, e.g. 1900000, 1_900_000, "1.9M" or "500k" (got "lots")',
      ],
    },
    {
      name: 'free_tokens of zero',
      channels: budget('free_tokens: 0'),
      want: [
        'error channels.yaml:3:18 channels[0].free_tokens: must be a positive whole number of tokens, e.g. 1900000, 1_900_000, "1.9M" or "500k" (got 0)',
      ],
    },
    {
      name: 'reset_at out of range',
      channels: budget('free_tokens: 1', 'reset_at: "24:00"'),
      want: ['error channels.yaml:4:15 channels[0].reset_at: must be a time "HH:MM" between 00:00 and 23:59 (got "24:00")'],
    },
    {
      name: 'a reset time YAML read as a number gets quoting advice',
      priorities: PRIORITIES.replace('"02:20"', '0220'),
      want: [
        'error priorities.yaml:2:7 reset.at: must be a time "HH:MM" between 00:00 and 23:59; YAML read it as the number 220: quote it, e.g. at: "02:20"',
      ],
    },
    {
      name: 'YAML 1.1 reads 02:20 as sexagesimal 140',
      priorities: '%YAML 1.1\n---\n' + PRIORITIES.replace('"02:20"', '02:20'),
      want: [
        'error priorities.yaml:4:7 reset.at: must be a time "HH:MM" between 00:00 and 23:59; YAML read it as the number 140: quote it, e.g. at: "02:20"',
      ],
    },
    {
      name: 'a total window without since',
      channels: budget('free_tokens: 10M', 'window: total'),
      want: ['error channels.yaml:4:13 channels[0].since: required for window: total (the date counting starts, YYYY-MM-DD)'],
    },
    {
      name: 'since that is not a calendar date',
      channels: budget('free_tokens: 10M', 'window: total', 'since: 2026-02-30'),
      want: ['error channels.yaml:5:12 channels[0].since: must be a calendar date YYYY-MM-DD (got "2026-02-30")'],
    },
    {
      name: 'warn_at above demote_at',
      channels: budget('free_tokens: 1', 'warn_at: 0.9', 'demote_at: 0.85'),
      want: ['error channels.yaml:4:14 channels[0].warn_at: must not be above demote_at (0.9 > 0.85)'],
    },
    {
      name: 'warn_at above the default demote_at',
      channels: budget('free_tokens: 1', 'warn_at: 0.99'),
      want: ['error channels.yaml:4:14 channels[0].warn_at: must not be above demote_at (0.99 > 0.95, the default)'],
    },
    {
      name: 'demote_at below the default warn_at',
      channels: budget('free_tokens: 1', 'demote_at: 0.5'),
      want: ['error channels.yaml:4:16 channels[0].demote_at: must not be below warn_at (0.5 < 0.8, the default)'],
    },
    {
      name: 'warn_at out of (0, 1]',
      channels: budget('free_tokens: 1', 'warn_at: 80'),
      want: ['error channels.yaml:4:14 channels[0].warn_at: must be a fraction above 0 and at most 1, e.g. 0.8 (got 80)'],
    },
    {
      name: 'a duplicate budget, reported at the second',
      channels: CHANNELS + '  - channel: volc-deepseek\n    model: DeepSeek-V3-2-251201\n    free_tokens: 5\n',
      want: [
        'error channels.yaml:6:14 channels[1].channel: duplicate budget: channels[0] (line 3) already budgets volc-deepseek model DeepSeek-V3-2-251201 (daily)',
      ],
    },
    {
      name: 'a budgeted channel without a default priority',
      channels: CHANNELS + '  - channel: volc-glm\n    free_tokens: 2.4M\n',
      want: ['error channels.yaml:6:14 channels[1].channel: volc-glm has a budget but no default priority in priorities.yaml defaults'],
    },
    {
      name: 'an id budget matches only an id default',
      channels: budget('free_tokens: 1').replace('volc-deepseek', '7'),
      priorities: PRIORITIES.replace('paid-deepseek', '"7"'),
      want: [
        'error channels.yaml:2:14 channels[0].channel: 7 has a budget but no default priority in priorities.yaml defaults (defaults has "7" as a name; write it unquoted to mean the id)',
      ],
    },
    {
      name: 'a duplicate key in defaults',
      priorities: PRIORITIES.replace('  paid-deepseek: 50\n', '  paid-deepseek: 50\n  volc-deepseek: 90\n'),
      want: ['error priorities.yaml:6:3 defaults.volc-deepseek: duplicate key; already set on line 4'],
    },
    {
      name: 'a default priority that is not a whole number',
      priorities: PRIORITIES.replace('50', 'high'),
      want: ['error priorities.yaml:5:18 defaults.paid-deepseek: must be a whole number (got "high")'],
    },
    {
      name: 'demoted missing',
      priorities: PRIORITIES.replace('demoted: 10\n', ''),
      want: ['error priorities.yaml:1:1 demoted: required: the priority of a channel whose free quota is used up'],
    },
    {
      name: 'a missing file',
      channels: null,
      want: [
        'error channels.yaml:1:1 (file): file not found; quota-pilot reads channels.yaml and priorities.yaml from its config directory (see the shipped examples)',
      ],
    },
    {
      name: 'an empty file',
      priorities: '# nothing yet\n',
      want: [
        'error priorities.yaml:1:1 (file): file is empty; quota-pilot reads channels.yaml and priorities.yaml from its config directory (see the shipped examples)',
      ],
    },
    {
      name: 'several problems at once, in file and line order',
      channels: 'timezone: Mars/Base\nchannels:\n  - channel: ""\n    free_tokens: -1\n    windw: daily\n',
      priorities: PRIORITIES.replace('demoted: 10', 'demoted: ten'),
      want: [
        'error channels.yaml:1:11 timezone: must be an IANA time zone such as Asia/Shanghai or UTC (got "Mars/Base")',
        'error channels.yaml:3:14 channels[0].channel: must be a channel name or a channel id (a positive whole number) (got "")',
        'error channels.yaml:4:18 channels[0].free_tokens: must be a positive whole number of tokens, e.g. 1900000, 1_900_000, "1.9M" or "500k" (got -1)',
        'error channels.yaml:5:5 channels[0].windw: unknown key; did you mean "window"?',
        'error priorities.yaml:6:10 demoted: must be a whole number (got "ten")',
      ],
    },
    {
      name: 'warning: demoted not below the default of budgeted channels',
      channels: CHANNELS + '  - channel: 7\n    free_tokens: 1\n',
      priorities: PRIORITIES.replace('volc-deepseek: 100', 'volc-deepseek: 10\n  7: 5'),
      want: [
        'warning priorities.yaml:7:10 demoted: 10 is not below the default priority of volc-deepseek (10), channel 7 (5); demoting would not move traffic away',
      ],
    },
    {
      name: 'warning: demoted ≤ 0 on one-api, the default flavor',
      priorities: PRIORITIES.replace('demoted: 10', 'demoted: 0'),
      want: [
        'warning priorities.yaml:6:10 demoted: on one-api a top priority ≤ 0 makes routing pick at random across all priorities; keep demoted > 0',
      ],
    },
    {
      name: 'no such warning on new-api',
      priorities: PRIORITIES.replace('demoted: 10', 'demoted: 0'),
      flavor: 'new-api',
      want: [],
    },
    {
      name: 'warning: since on a daily window is ignored',
      channels: budget('free_tokens: 1', 'since: 2026-11-01'),
      want: ['warning channels.yaml:4:12 channels[0].since: ignored: since only applies to window: total (this window is daily)'],
    },
    {
      name: 'warning: an empty channels list',
      channels: 'channels: []\n',
      want: ['warning channels.yaml:1:11 channels: empty: no budgets, so no channel will ever be demoted'],
    },
  ];

  it.each(rows)('$name', ({ channels, priorities, flavor, want }) => {
    expect(issuesOf(channels, priorities, flavor)).toEqual(want);
  });
});

describe('parseConfig values', () => {
  const tokens = (v: string) =>
    parseConfig({
      channels: { path: 'channels.yaml', text: budget(`free_tokens: ${v}`) },
      priorities: { path: 'priorities.yaml', text: PRIORITIES },
    }).config?.budgets[0].freeTokens;

  it.each([
    ['1900000', 1_900_000],
    ['1_900_000', 1_900_000],
    ['"1,900,000"', 1_900_000],
    ['"1.9M"', 1_900_000],
    ['1.9M', 1_900_000],
    ['2.4m', 2_400_000],
    ['500k', 500_000],
    ['4.9M', 4_900_000],
    ['1.5e6', 1_500_000],
  ])('free_tokens %s reads as %d', (v, n) => {
    expect(tokens(v)).toBe(n);
  });

  it('normalises budgets, the reset and defaults', () => {
    const out = parseConfig({
      channels: {
        path: 'c.yaml',
        text: `timezone: Europe/Berlin
channels:
  - channel: volc-deepseek
    free_tokens: 1M
  - channel: 7
    model: m
    free_tokens: 5
    window: total
    since: 2026-11-01
    reset_at: "3:05"
    warn_at: 0.5
    demote_at: 1
`,
      },
      priorities: { path: 'p.yaml', text: 'defaults:\n  volc-deepseek: 100\n  7: 40\n  "8": 30\ndemoted: 10\n' },
    });
    expect(out).toEqual({
      issues: [],
      config: {
        flavor: 'one-api',
        timezone: 'Europe/Berlin',
        budgets: [
          {
            key: 'volc-deepseek', channel: 'volc-deepseek', freeTokens: 1_000_000, window: 'daily',
            resetAt: '02:20', warnAt: 0.8, demoteAt: 0.95, source: { file: 'c.yaml', line: 3, col: 14 },
          },
          {
            key: '#7/m:total', channel: 7, model: 'm', freeTokens: 5, window: 'total', resetAt: '03:05',
            since: '2026-11-01', warnAt: 0.5, demoteAt: 1, source: { file: 'c.yaml', line: 5, col: 14 },
            modelSource: { file: 'c.yaml', line: 6, col: 12 },
          },
        ],
        reset: { at: '02:20', timezone: 'Europe/Berlin' },
        defaults: [
          { channel: 'volc-deepseek', priority: 100, source: { file: 'p.yaml', line: 2, col: 3 } },
          { channel: 7, priority: 40, source: { file: 'p.yaml', line: 3, col: 3 } },
          { channel: '8', priority: 30, source: { file: 'p.yaml', line: 4, col: 3 } },
        ],
        demoted: 10,
        demotedSource: { file: 'p.yaml', line: 5, col: 10 },
        routingDelaySec: 600,
        routingDelayAuto: true,
      },
    });
  });
});

describe('the shipped example files', () => {
  it('parse with no issues', async () => {
    const out = await loadConfig(ROOT);
    expect(out.issues).toEqual([]);
    expect(out.config?.budgets.map((b) => [b.key, b.freeTokens])).toEqual([
      ['volc-deepseek/DeepSeek-V3-2-251201', 1_900_000],
      ['volc-doubao-seed-code/Doubao-Seed-Code-Preview-251028', 4_900_000],
      ['volc-glm/GLM-4-7-251222', 2_400_000],
      ['volc-kimi/Kimi-K2-Thinking-251104', 1_900_000],
    ]);
    expect(out.config?.defaults.map((d) => [d.channel, d.priority])).toContainEqual(['paid-deepseek', 50]);
    expect(out.config?.demoted).toBe(10);
  });
});

describe('loadConfig', () => {
  it('reads both files from a directory and names a missing one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qp-config-'));
    try {
      await writeFile(join(dir, 'channels.yaml'), await readFile(join(ROOT, 'channels.yaml'), 'utf8'));
      const out = await loadConfig(dir);
      expect(out.config).toBeUndefined();
      expect(out.issues.map(formatIssue)).toEqual([
        `${join(dir, 'priorities.yaml')}:1:1 (file): file not found; quota-pilot reads channels.yaml and priorities.yaml from its config directory (see the shipped examples)`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps a validated config in the cache dir, and never serves it once a file changed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qp-config-'));
    const cacheDir = join(dir, 'state');
    try {
      for (const f of ['channels.yaml', 'priorities.yaml']) await writeFile(join(dir, f), await readFile(join(ROOT, f), 'utf8'));
      const first = await loadConfig(dir, { cacheDir });
      expect(JSON.parse(await readFile(join(cacheDir, 'config-cache.json'), 'utf8')).loaded.config).toEqual(first.config);
      expect(await loadConfig(dir, { cacheDir })).toEqual(first);

      const edited = (await readFile(join(dir, 'channels.yaml'), 'utf8')).replace('free_tokens: 1.9M', 'free_tokens: 2M');
      await writeFile(join(dir, 'channels.yaml'), edited);
      const second = await loadConfig(dir, { cacheDir });
      expect(second.config!.budgets[0].freeTokens).toBe(2_000_000);

      await writeFile(join(dir, 'channels.yaml'), edited.replace('free_tokens: 2M', 'free_tokens: lots'));
      expect((await loadConfig(dir, { cacheDir })).config).toBeUndefined(); // an error is never hidden by the cache

      await writeFile(join(cacheDir, 'config-cache.json'), '{"key":'); // a torn cache file is only a miss
      await writeFile(join(dir, 'channels.yaml'), edited);
      expect((await loadConfig(dir, { cacheDir })).config!.budgets[0].freeTokens).toBe(2_000_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('routing_delay', () => {
  const delayOf = (priorities: string, flavor?: Flavor) => {
    const c = parseConfig({ channels: { path: 'channels.yaml', text: CHANNELS }, priorities: { path: 'priorities.yaml', text: priorities } }, { flavor }).config;
    return c && [c.routingDelaySec, c.routingDelayAuto];
  };

  it.each([
    ['one-api', 600],
    ['new-api', 0],
    ['one-hub', 0],
  ] as const)('not set: auto, starting from the flavor default: %s -> %i s', (flavor, want) => {
    expect(delayOf(PRIORITIES, flavor)).toEqual([want, true]);
    expect(delayOf(PRIORITIES + 'routing_delay: auto\n', flavor)).toEqual([want, true]);
  });

  it('takes a whole number of seconds, which wins over any measurement', () => {
    expect(delayOf(PRIORITIES + 'routing_delay: 12\n', 'one-api')).toEqual([12, false]);
  });

  it.each(['-5', '1.5', '"60s"', '7200', '"Auto"'])('refuses %s with file:line', (v) => {
    expect(issuesOf(CHANNELS, PRIORITIES + `routing_delay: ${v}\n`)).toEqual([
      `error priorities.yaml:7:16 routing_delay: must be auto (the default: measured from the rows after each demotion) or a whole number of seconds from 0 to 3600 (got ${v})`,
    ]);
  });
});
