import type { ChannelRef, Config, Source } from '../config/types.js';
import type { Channel } from '../oneapi/types.js';

/** A config reference that does not name exactly one OneAPI channel. */
export interface RefProblem {
  ref: ChannelRef;
  source: Source;
  message: string;
}

/** Config references mapped onto OneAPI channel ids. */
export interface Resolution {
  ids: Map<ChannelRef, number>;
  /** References that name no channel, or several: their budgets are not enforced (an error state). */
  problems: RefProblem[];
  /** References resolved with a caveat: a repeated name kept on the channel it resolved to before. */
  notes?: RefProblem[];
}

/**
 * Maps each channel named in config to one OneAPI channel: a number is an id, a string is an exact name. A name
 * that OneAPI now shows on several channels (a batch add of keys copies the name) stays on the id it resolved to
 * before (`remembered`, from the state), with a note; without that memory it is a problem.
 */
export function resolveRefs(config: Config, channels: Channel[], remembered: Record<string, number> = {}): Resolution {
  const notes: RefProblem[] = [];
  const ids = new Map<ChannelRef, number>();
  const problems: RefProblem[] = [];
  // Channels indexed by id and by name once: a config with thousands of entries is not O(entries x channels).
  const byRef = new Map<ChannelRef, Channel[]>();
  for (const c of channels) {
    for (const key of [c.id, c.name]) {
      const list = byRef.get(key);
      if (list) list.push(c);
      else byRef.set(key, [c]);
    }
  }
  const seen = new Set<ChannelRef>();
  // Budgets first: a name that does not resolve is reported where its budget is, the thing it leaves unenforced.
  for (const { channel: ref, source } of [...config.budgets, ...config.defaults]) {
    if (seen.has(ref)) continue;
    seen.add(ref);
    const matches = (byRef.get(ref) ?? []).filter((c) => (typeof ref === 'number' ? c.id === ref : c.name === ref));
    const kept = matches.length > 1 && typeof ref === 'string' ? matches.find((c) => c.id === remembered[ref]) : undefined;
    if (matches.length === 1) ids.set(ref, matches[0].id);
    else if (kept) {
      ids.set(ref, kept.id);
      notes.push({ ref, source, message: `"${ref}" matches ${matches.length} OneAPI channels (ids ${idList(matches)}); kept on #${kept.id}, the one it named before: write \`channel: ${kept.id}\` to say which` });
    } else if (matches.length === 0)
      problems.push({
        ref,
        source,
        message:
          typeof ref === 'number' ? `OneAPI has no channel with id ${ref}` : `OneAPI has no channel named "${ref}"`,
      });
    else
      problems.push({
        ref,
        source,
        message: `"${ref}" matches ${matches.length} OneAPI channels (ids ${idList(matches)}); names are not unique in OneAPI, so name the channel by its id (\`channel: ${Math.min(...matches.map((c) => c.id))}\` for the oldest)`,
      });
  }
  // Two defaults that reach one channel (by name and by id) would fight: keep the first, report the second.
  const firstDefault = new Map<number, ChannelRef>();
  for (const d of config.defaults) {
    const id = ids.get(d.channel);
    if (id === undefined) continue;
    const first = firstDefault.get(id);
    if (first === undefined) firstDefault.set(id, d.channel);
    else if (first !== d.channel)
      problems.push({ ref: d.channel, source: d.source, message: `names channel ${id} again (already named as "${first}"); this entry is ignored` });
  }
  return { ids, problems, notes };
}

const idList = (cs: Channel[]) => cs.map((c) => c.id).sort((a, b) => a - b).join(', ');

/** What to remember of a resolution: every name's id, and the ids of names that no longer resolve (for reports). */
export function rememberRefs(resolution: Resolution, before: Record<string, number>): Record<string, number> {
  const refs: Record<string, number> = {};
  for (const p of resolution.problems) if (typeof p.ref === 'string' && before[p.ref] !== undefined) refs[p.ref] = before[p.ref];
  for (const [ref, id] of resolution.ids) if (typeof ref === 'string') refs[ref] = id;
  return refs;
}

/** Renders a problem as `file:line:col channel: message`. */
export function formatRefProblem(p: RefProblem): string {
  return `${p.source.file}:${p.source.line}:${p.source.col} channel: ${p.message}`;
}
