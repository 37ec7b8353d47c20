import { describe, expect, it } from '@jest/globals';
import { picksFromFlags, picksFromQuestions } from '../../src/cli/commands/init.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { starterConfig, tokensText, yamlString, type Pick } from '../../src/config/starter.js';
import type { Channel } from '../../src/oneapi/types.js';
import { aChannel } from '../helpers/builders.js';

const DS = 'DeepSeek-V3-2-251201';
const GLM = 'GLM-4-7-251222';
const free = aChannel({ id: 1, name: 'volc-deepseek', priority: 100, models: [DS] });
const glm = aChannel({ id: 3, name: 'volc-glm', priority: 100, models: [GLM] });
const paid = aChannel({ id: 5, name: 'paid-deepseek', priority: 50, models: [DS] });
const other = aChannel({ id: 6, name: 'team-openai', priority: 7, models: ['gpt-4o'] });
const opts = { timezone: 'Asia/Shanghai', resetAt: '02:20', today: '2026-12-04' };
const pick = (channel: Channel, freeTokens = 1_900_000, model = channel.models[0]): Pick => ({ channel, model, freeTokens, window: 'daily' });
const valid = (s: ReturnType<typeof starterConfig>) => {
  const r = parseConfig({ channels: { path: 'channels.yaml', text: s.channels }, priorities: { path: 'priorities.yaml', text: s.priorities } }, { flavor: 'one-api' });
  expect(r.issues.filter((i) => i.severity === 'error')).toEqual([]);
  return r.config!;
};

describe('starterConfig', () => {
  it('budgets the picked channels, keeps the priorities OneAPI has, adds the paid fallbacks, and demotes below them', () => {
    const s = starterConfig([free, glm, paid, other], [pick(free), pick(glm, 2_400_000)], opts);
    const c = valid(s);
    expect(c.budgets.map((b) => [b.channel, b.model, b.freeTokens])).toEqual([['volc-deepseek', DS, 1_900_000], ['volc-glm', GLM, 2_400_000]]);
    expect(c.defaults.map((d) => [d.channel, d.priority])).toEqual([['volc-deepseek', 100], ['volc-glm', 100], ['paid-deepseek', 50]]);
    expect(c.demoted).toBe(10);
    expect(s.priorities).toContain('paid-deepseek: 50   # fallback (no budget) for DeepSeek-V3-2-251201');
    expect(s.notes).toEqual(['no other enabled channel serves GLM-4-7-251222 volc-glm (#3): demoting it moves no traffic; add a paid channel for it in OneAPI']);
  });

  // [case, channels, picks, demoted, the free channel's default]
  const rows: Array<[string, Channel[], Pick[], number, number]> = [
    ['a last resort at 5: demoted below it', [free, paid, aChannel({ id: 7, name: 'last-resort', priority: 5, models: [DS] })], [pick(free)], 4, 100],
    ['a free channel below its paid fallback: raised above it', [{ ...free, priority: 40 }, paid], [pick({ ...free, priority: 40 })], 10, 60],
    ['no fallback at all: demoted 10', [free], [pick(free)], 10, 100],
    ['a disabled paid channel is no fallback', [free, { ...paid, status: 2 }], [pick(free)], 10, 100],
  ];
  it.each(rows)('%s', (_name, channels, picks, demoted, def) => {
    const c = valid(starterConfig(channels, picks, opts));
    expect(c.demoted).toBe(demoted);
    expect(c.defaults.find((d) => d.channel === 'volc-deepseek' || d.channel === 1)!.priority).toBe(def);
  });

  it('names a channel whose name is repeated by its id, and quotes names YAML would read otherwise', () => {
    const twin = aChannel({ id: 9, name: 'volc-deepseek', priority: 100, models: [DS] });
    const c = valid(starterConfig([free, twin, paid], [pick(twin)], opts));
    expect(c.budgets[0].channel).toBe(9);
    expect(c.defaults.map((d) => d.channel)).toEqual([9, 1, 'paid-deepseek']); // the unbudgeted twin serves the model too
    expect([yamlString('volc-deepseek'), yamlString('yes'), yamlString('7'), yamlString('豆包 free'), yamlString('a: b')]).toEqual(['volc-deepseek', '"yes"', '"7"', '"豆包 free"', '"a: b"']);
    expect([tokensText(1_900_000), tokensText(500_000), tokensText(1_234_567), tokensText(4_900_000)]).toEqual(['1.9M', '500k', '1_234_567', '4.9M']);
  });
});

describe('picking budgets', () => {
  const channels = [free, glm, paid, other];
  it('from flags: a known allowance, or a figure given', () => {
    expect(picksFromFlags(channels, ['volc-deepseek', '6=500k']).map((p) => [p.channel.id, p.model, p.freeTokens, p.known?.provider])).toEqual([[1, DS, 1_900_000, 'Volcengine Ark'], [6, 'gpt-4o', 500_000, undefined]]);
    expect(() => picksFromFlags(channels, ['team-openai'])).toThrow('none of its models (gpt-4o) has a known free allowance: give it, e.g. --budget team-openai=1.9M');
    expect(() => picksFromFlags(channels, ['nope=1M'])).toThrow('OneAPI has no channel named nope');
    expect(() => picksFromFlags(channels, ['1=lots'])).toThrow('--budget volc-deepseek=lots: free tokens must be a positive whole number');
  });

  it('from questions: each channel with a known model is offered (the paid one too, which the operator declines)', async () => {
    const answers = ['', '2M', 'n', 'team-openai', '300k'];
    const asked: string[] = [];
    const picks = await picksFromQuestions(channels, async (q) => (asked.push(q), answers.shift()!), () => undefined);
    expect(asked[0]).toBe('Budget volc-deepseek (#1) for DeepSeek-V3-2-251201: Volcengine Ark gives 1.9M a day for free (check your account). Free tokens [Enter: 1.9M, n: not a free channel]: ');
    expect(picks.map((p) => [p.channel.id, p.freeTokens, !!p.known])).toEqual([[1, 1_900_000, true], [3, 2_000_000, false], [6, 300_000, false]]);
  });
});
