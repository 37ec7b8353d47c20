import type { SimChannel, SimLog, Simulator } from './simulator.js';

/** Model -> tokens per simulated hour of traffic. */
export type Demand = Record<string, number>;

/** The channel OneAPI would route a model to: the highest priority among enabled channels that serve it. */
export function route(channels: SimChannel[], model: string): SimChannel | undefined {
  return channels
    .filter((c) => c.status === 1 && (c.models ?? '').split(',').includes(model))
    .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || a.id - b.id)[0];
}

/**
 * Adds the consume logs that `demand` produces between two instants (unix seconds), routed the way OneAPI would
 * route them at the channels' current priorities. Deterministic: same inputs, same logs.
 */
export function generateTraffic(sim: Simulator, demand: Demand, from: number, to: number, requestsPerHour = 12): SimLog[] {
  const hours = (to - from) / 3600;
  const added: SimLog[] = [];
  for (const [model, perHour] of Object.entries(demand)) {
    const n = Math.max(1, Math.round(requestsPerHour * hours));
    const channel = route(sim.channels, model);
    if (!channel) continue;
    const tokens = Math.round((perHour * hours) / n);
    for (let i = 0; i < n; i++) {
      const prompt = Math.round(tokens * 0.7);
      added.push(
        sim.addLog({
          created_at: from + Math.floor(((i + 0.5) * (to - from)) / n),
          channel: channel.id,
          model_name: model,
          prompt_tokens: prompt,
          completion_tokens: tokens - prompt,
          token_name: 'demo',
          username: 'demo',
        }),
      );
    }
  }
  return added;
}
