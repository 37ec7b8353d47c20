import type { Config, ConfigIssue } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';
import { fallbackChecks, type Check } from './defeats.js';
import { checkModels } from './models.js';
import type { Resolution } from './resolve.js';

export type { Check } from './defeats.js';

/**
 * The one definition of what is wrong with the config against OneAPI's channels, used by `validate`, by `run`
 * at start and by every cycle's plan. An error defeats a demotion outright (a budget on a model its channel does
 * not serve, where the flavor makes that certain; `demoted` not below the model's only fallbacks): `validate`
 * fails and `run` refuses to start on it (exit 78), and each cycle reports it. A warning is a setting that may be
 * right (a model_mapping name on one-api, a model with no fallback channel): printed by `validate`, logged at
 * start, not repeated each cycle. Unresolved channel references (resolveRefs) are not judged here.
 */
export function checkChannels(config: Config, channels: Channel[], resolution: Resolution): Check[] {
  return [...checkModels(config, channels, resolution, config.flavor), ...fallbackChecks(config, channels, resolution)];
}

/** A check as a config issue, `file:line:col key: message`. */
export function toIssue(c: Check): ConfigIssue {
  return { severity: c.severity, ...c.source, key: c.key, message: c.message };
}
