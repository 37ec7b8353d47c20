import type { Change } from '../reconcile/apply.js';
import type { CycleResult } from '../reconcile/cycle.js';

/** Lays rows out as aligned columns; numbers-looking cells are right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[\d,.%?\-]+$|^-$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

import { num } from '../platform/format.js';
export { num };

export function changeLine(c: Change): string {
  return `  channel ${c.id} ${c.name}: priority ${c.from} -> ${c.to}  (${c.reason})`;
}

/** The human summary of a one-shot cycle (`once`, `reset`). */
export function cycleSummary(name: string, r: CycleResult, dryRun: boolean): string {
  const out: string[] = [];
  const head = dryRun ? `${name} (dry run, nothing written)` : name;
  if (!r.decision) {
    out.push(`${head}: failed: ${r.error?.message ?? 'unknown error'}`);
    return out.join('\n');
  }
  for (const p of r.problems) out.push(`problem: ${p.source.file}:${p.source.line} ${p.message}`);
  for (const n of r.notes) out.push(`warning: ${n.source.file}:${n.source.line} ${n.message}`);
  for (const c of r.decision.stranded) out.push(`problem: channel ${c.id} ${c.name} is at demoted (${c.priority}) and nothing restores it: "${c.ref}" no longer resolves to it`);
  for (const c of r.decision.channels) if (c.hold) out.push(`  channel ${c.id} ${c.name}: ${c.hold}`);
  for (const w of r.decision.warnings) out.push(`warning: ${w.budget.key} reached ${(w.ratio * 100).toFixed(1)}% of its free tokens`);
  if (r.decision.reset === 'due') out.push('nightly reset: defaults restored, except channels still exhausted or demoted in a window that has not renewed');
  if (r.decision.reset === 'forced') out.push('reset: defaults restored except for exhausted channels');
  if (r.decision.reset === 'first-run') out.push('first run: the last nightly reset is counted as done');
  if (r.changes.length === 0) out.push(`${head}: no priority changes needed`);
  else {
    out.push(`${head}: ${r.changes.length} priority change${r.changes.length === 1 ? '' : 's'}${dryRun ? ' planned' : ''}`);
    out.push(...r.changes.map(changeLine));
  }
  for (const f of r.failed) out.push(`  FAILED channel ${f.change.id}: ${f.error.message}`);
  for (const e of r.enables) out.push(`  channel ${e.id} ${e.name}: enable${dryRun ? ' (planned)' : ''}  (${e.reason})`);
  for (const f of r.enableFailed) out.push(`  FAILED to enable channel ${f.enable.id}: ${f.error.message}`);
  for (const c of r.decision.channels) if (c.off && c.status === 3) out.push(`  channel ${c.id} ${c.name}: ${c.off}`);
  if (dryRun) {
    out.push('plan for every managed channel:');
    for (const c of r.decision.channels)
      out.push(`  channel ${c.id} ${c.name}: ${c.desired === c.observed ? `keep ${c.observed}` : `${c.observed} -> ${c.desired}`}${c.reason ? `  (${c.reason})` : ''}`);
  }
  const db = r.ingest?.dbMs;
  if (db !== undefined) out.push(`counted ${num(r.fetched)} new log rows in ${num(r.ingest!.pages)} database queries (${num(db)} ms), ${num(r.requests)} requests, ${(r.durationMs / 1000).toFixed(2)} s`);
  else out.push(`read ${num(r.fetched)} log rows in ${num(r.requests)} requests, ${(r.durationMs / 1000).toFixed(2)} s`);
  return out.join('\n');
}
