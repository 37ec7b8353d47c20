import { num } from '../platform/format.js';
import type { Config } from '../config/types.js';
import type { Decision } from '../policy/decide.js';
import { samplesOf, type PaceLog } from '../usage/burn.js';
import type { AlertMemory } from './memory.js';
import type { AlertEvent } from './types.js';

/** Rows this long after a demotion had time to route are not requests that were already in flight. */
const GRACE_SEC = 120;
/** Growth below this share of the budget is noise (a late log row, a test). */
const MIN_SHARE = 0.005;
const MIN_SPAN_SEC = 30;

const CAUSES =
  'Likely causes: new-api channel affinity (on by default since 2026-01) keeps sticky sessions on a channel whatever its priority: turn it off or exclude this model; ' +
  "routing_delay shorter than OneAPI's routing cache (one-api SYNC_FREQUENCY, the other nodes of new-api/one-hub): raise it; " +
  'or no enabled channel above `demoted` serves the model.';

/**
 * Demotions that did not move the traffic: a channel OneAPI shows at `demoted` (or lower) whose budgets kept
 * growing well past routing_delay after quota-pilot demoted it. Announced once per demotion. Pure.
 */
export function unmovedDemotions(p: { config: Config; decision: Decision; pace: PaceLog; memory: AlertMemory; at: number }): { events: AlertEvent[]; unmoved: AlertMemory['unmoved'] } {
  const { config, decision } = p;
  const unmoved: AlertMemory['unmoved'] = {};
  const events: AlertEvent[] = [];
  for (const c of decision.channels) {
    const demoted = decision.memory.demoted[String(c.id)];
    if (!demoted || c.observed > config.demoted) continue;
    const key = String(c.id);
    if (p.memory.unmoved[key] === demoted.at) {
      unmoved[key] = demoted.at;
      continue;
    }
    const since = demoted.at + config.routingDelaySec + GRACE_SEC;
    for (const b of decision.budgets.filter((x) => x.channelId === c.id)) {
      const { at, used } = samplesOf(p.pace[b.budget.key], b.window.start);
      let f = 0;
      while (f < at.length && b.window.start + at[f] < since) f++;
      const l = at.length - 1;
      if (l - f < 1) continue;
      const first = { at: b.window.start + at[f], used: used[f] };
      const last = { at: b.window.start + at[l], used: used[l] };
      const grew = last.used - first.used;
      if (last.at - first.at < MIN_SPAN_SEC || grew < MIN_SHARE * b.budget.freeTokens) continue;
      unmoved[key] = demoted.at;
      const mins = Math.round((last.at - demoted.at) / 60);
      events.push({
        kind: 'demotion-unmoved', severity: 'critical', at: p.at,
        title: `${c.name} (#${c.id}) still gets traffic ${mins} min after its demotion`,
        text: `${b.budget.key} grew by ${num(grew)} tokens between ${Math.round(first.at - demoted.at)} s and ${Math.round(last.at - demoted.at)} s after the demotion to ${c.observed} (routing delay ${config.routingDelaySec} s). ${CAUSES}`,
        fields: { channel: c.id, name: c.name, budget: b.budget.key, demotedAt: demoted.at, grewTokens: grew, routingDelaySec: config.routingDelaySec },
      });
      break;
    }
  }
  return { events, unmoved };
}
