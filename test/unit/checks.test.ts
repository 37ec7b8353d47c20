import { describe, expect, it } from '@jest/globals';
import { checkChannels } from '../../src/policy/checks.js';
import { resolveRefs } from '../../src/policy/resolve.js';
import type { Config } from '../../src/config/types.js';
import type { Channel } from '../../src/oneapi/types.js';
import { aBudget, aChannel, aConfig, aDefault } from '../helpers/builders.js';

const DS = 'DeepSeek-V3';
const free = (over: Partial<Channel> = {}) => aChannel({ id: 1, name: 'volc-deepseek', priority: 100, models: [DS], ...over });
const paid = (over: Partial<Channel> = {}) => aChannel({ id: 2, name: 'paid-deepseek', priority: 50, models: [DS], ...over });
const last = (over: Partial<Channel> = {}) => aChannel({ id: 3, name: 'last-resort', priority: 5, models: [DS], ...over });
const budget = aBudget({ channel: 'volc-deepseek', model: DS, source: { file: 'channels.yaml', line: 6, col: 14 }, modelSource: { file: 'channels.yaml', line: 7, col: 12 } });
const config = aConfig({ budgets: [budget], defaults: [aDefault('volc-deepseek', 100)], demotedSource: { file: 'priorities.yaml', line: 35, col: 10 } });
const run = (channels: Channel[], cfg: Config = config) =>
  checkChannels(cfg, channels, resolveRefs(cfg, channels)).map((c) => `${c.severity} ${c.source.file}:${c.source.line}:${c.source.col} ${c.key}: ${c.message}`);

const ALONE = 'warning channels.yaml:7:12 model: no other enabled channel serves "DeepSeek-V3": when volc-deepseek (#1) is demoted, OneAPI still sends it that traffic (and the provider bills it); add a fallback channel to move it';
const notBelow = (demoted: number, list: string) =>
  `error priorities.yaml:35:10 demoted: demoted (${demoted}) is not below the enabled fallback ${list} serving the same model, and no enabled fallback above ${demoted} serves it; demoting volc-deepseek (#1) would not move its traffic`;

describe('checkChannels: does demoting a budget\'s channel move its traffic?', () => {
  it.each([
    ['a fallback above demoted', [free(), paid()], config, []],
    ['a fallback at demoted: ties keep the traffic', [free(), paid({ priority: 10 })], config, [notBelow(10, 'paid-deepseek (#2) at 10')]],
    ['only a fallback below demoted', [free(), last()], config, [notBelow(10, 'last-resort (#3) at 5')]],
    ['demoted 60 above the fallback at 50', [free(), paid()], { ...config, demoted: 60 }, [notBelow(60, 'paid-deepseek (#2) at 50')]],
    ['a last resort below demoted beside a fallback above', [free(), paid(), last()], config, []],
    ['the fallback above is disabled: the last resort is all there is', [free(), paid({ status: 2 }), last()], config, [notBelow(10, 'last-resort (#3) at 5')]],
    ['a disabled fallback is no fallback', [free(), paid({ status: 3 })], config, [ALONE]],
    ['no other channel at all: a warning, not a refusal', [free()], config, [ALONE]],
    ['a fallback serving another model only', [free(), paid({ models: ['gpt-4o'] })], config, [ALONE]],
    ['a fallback with a budget of its own is no fallback', [free(), paid()], { ...config, budgets: [budget, aBudget({ channel: 'paid-deepseek', model: DS })], defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)] }, [
      ALONE,
      'warning channels.yaml:1:1 model: no other enabled channel serves "DeepSeek-V3": when paid-deepseek (#2) is demoted, OneAPI still sends it that traffic (and the provider bills it); add a fallback channel to move it',
    ]],
    ['judged by its configured default, not a priority someone lowered for now', [free(), paid()], { ...config, defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 8)] }, [notBelow(10, 'paid-deepseek (#2) at 8')]],
    ['judged by its default when someone raised it for now', [free(), paid({ priority: 8 })], { ...config, defaults: [aDefault('volc-deepseek', 100), aDefault('paid-deepseek', 50)] }, []],
    ['an unresolved channel is left to resolveRefs', [paid()], config, []],
  ] as const)('%s', (_n, channels, cfg, want) => {
    expect(run([...channels], cfg as Config)).toEqual(want);
  });

  it('a budget without a model is judged per model its channel serves', () => {
    const cfg = { ...config, budgets: [aBudget({ channel: 'volc-deepseek', source: { file: 'channels.yaml', line: 6, col: 14 } })] };
    const channels = [free({ models: [DS, 'R1', 'glm'] }), paid(), last({ models: ['R1'] })];
    expect(run(channels, cfg)).toEqual([
      'error priorities.yaml:35:10 demoted: demoted (10) is not below the enabled fallback last-resort (#3) at 5 serving the same model, and no enabled fallback above 10 serves it; demoting volc-deepseek (#1) would not move its traffic',
      'warning channels.yaml:6:14 channel: no other enabled channel serves "glm": when volc-deepseek (#1) is demoted, OneAPI still sends it that traffic (and the provider bills it); add a fallback channel to move it',
    ]);
  });
});

describe('checkChannels: is the budget\'s model one its channel serves?', () => {
  const served = [free({ models: ['DeepSeek-V3-2-251201'] }), paid({ models: ['DeepSeek-V3-2-251201'] })];
  const on = (model: string, flavor: Config['flavor']) => ({ ...config, flavor, budgets: [{ ...budget, model }] });
  it.each([
    ['served', 'DeepSeek-V3-2-251201', 'one-api', []],
    ['a typo: an error on every flavor', 'DeepSeek-V3-2-25120', 'one-api', ['error channels.yaml:7:12 model: channel volc-deepseek (#1) does not serve "DeepSeek-V3-2-25120"; did you mean "DeepSeek-V3-2-251201"? (it serves: DeepSeek-V3-2-251201); this budget would count no tokens']],
    ['another name on new-api (it logs the requested name): an error', 'DeepSeek-V3-2', 'new-api', ['error channels.yaml:7:12 model: channel volc-deepseek (#1) does not serve "DeepSeek-V3-2"; did you mean "DeepSeek-V3-2-251201"? (it serves: DeepSeek-V3-2-251201); this budget would count no tokens']],
    ['another name on one-api (maybe a model_mapping target): a warning', 'DeepSeek-V3-2', 'one-api', ['warning channels.yaml:7:12 model: channel volc-deepseek (#1) does not serve "DeepSeek-V3-2"; did you mean "DeepSeek-V3-2-251201"? (it serves: DeepSeek-V3-2-251201). one-api logs the upstream model name, so this is right only if the channel\'s model_mapping maps a model to "DeepSeek-V3-2"; otherwise this budget counts no tokens']],
  ] as const)('%s', (_n, model, flavor, want) => {
    // the fallbacks are judged only for a served name: an unserved one is the model check's alone
    expect(run(served, on(model, flavor))).toEqual(want);
  });
});
