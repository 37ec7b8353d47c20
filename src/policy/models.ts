import { editDistance } from '../config/parse.js';
import type { Config } from '../config/types.js';
import type { Channel, Flavor } from '../oneapi/types.js';
import type { Check } from './defeats.js';
import type { Resolution } from './resolve.js';

/** The served name nearest to `model` (case-insensitive edit distance), and how near it is. */
export function closestName(model: string, names: readonly string[]): { name: string; distance: number } | undefined {
  const lower = model.toLowerCase();
  return names
    .map((name) => ({ name, distance: editDistance(lower, name.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance)[0];
}

const MAX_LISTED = 8;

/**
 * Each budget's `model` against the models OneAPI lists for its channel. A budget whose model never appears in the
 * logs reads 0 forever, and its channel is never demoted.
 *
 * new-api logs the requested model name, which must be one the channel serves: any other name is an error.
 * one-api and one-hub log the upstream name after the channel's model_mapping, which OneAPI's `models` does not
 * list: there a name that differs only slightly from a served one (case, up to 2 characters) is an error, as a
 * mapping does not rename that way, and any other unlisted name is a warning.
 */
export function checkModels(config: Config, channels: Channel[], resolution: Resolution, flavor: Flavor): Check[] {
  const issues: Check[] = [];
  for (const b of config.budgets) {
    if (b.model === undefined) continue;
    const id = resolution.ids.get(b.channel);
    const ch = id === undefined ? undefined : channels.find((c) => c.id === id);
    if (!ch) continue; // an unresolved channel is reported by resolveRefs already
    const at = { ref: b.channel, source: b.modelSource ?? b.source, key: 'model' as const };
    const who = `channel ${ch.name} (#${ch.id})`;
    if (ch.models.length === 0) {
      issues.push({ severity: 'warning', ...at, message: `OneAPI lists no models for ${who}, so "${b.model}" was not checked` });
      continue;
    }
    if (ch.models.includes(b.model)) continue;
    const near = closestName(b.model, ch.models)!;
    const served = ch.models.slice(0, MAX_LISTED).join(', ') + (ch.models.length > MAX_LISTED ? `, … (${ch.models.length} in all)` : '');
    const typo = near.distance <= 2;
    const head = `${who} does not serve "${b.model}"; did you mean "${near.name}"? (it serves: ${served})`;
    if (flavor === 'new-api' || typo) {
      issues.push({ severity: 'error', ...at, message: `${head}; this budget would count no tokens` });
    } else {
      const why = `${flavor} logs the upstream model name, so this is right only if the channel's model_mapping maps a model to "${b.model}"; otherwise this budget counts no tokens`;
      issues.push({ severity: 'warning', ...at, message: `${head}. ${why}` });
    }
  }
  return issues;
}
