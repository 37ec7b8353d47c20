import type { WindowKind } from './types.js';

/** A free allowance a provider is known to give for a model, as `init` proposes it. */
export interface KnownFree {
  provider: string;
  /** The upstream model name, as one-api and one-hub log it (new-api logs it in other.upstream_model_name). */
  model: string;
  freeTokens: number;
  window: WindowKind;
}

/**
 * Public figures at the time of writing. Accounts differ (promotions, packs, new model versions), so `init` marks
 * every budget it takes from here "check your account": the provider's console is the truth.
 */
export const KNOWN_FREE: readonly KnownFree[] = [
  { provider: 'Volcengine Ark', model: 'DeepSeek-V3-2-251201', freeTokens: 1_900_000, window: 'daily' },
  { provider: 'Volcengine Ark', model: 'Doubao-Seed-Code-Preview-251028', freeTokens: 4_900_000, window: 'daily' },
  { provider: 'Volcengine Ark', model: 'GLM-4-7-251222', freeTokens: 2_400_000, window: 'daily' },
  { provider: 'Volcengine Ark', model: 'Kimi-K2-Thinking-251104', freeTokens: 1_900_000, window: 'daily' },
];

export const knownFree = (model: string): KnownFree | undefined => KNOWN_FREE.find((k) => k.model === model);
