/** One line of the bench table. `pass` is undefined for a figure printed for information. */
export interface Row {
  measure: string;
  figure: string;
  goal: string;
  pass?: boolean;
}

/** What a group of measures found, and the CLI runs that failed (which make the bench exit non-zero). */
export interface Outcome {
  rows: Row[];
  cliFailures: string[];
}

export const num = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The table as Markdown, so it can be pasted into a note as is. */
export function renderTable(rows: Row[]): string {
  const cells = rows.map((r) => [r.measure, r.figure, r.goal, r.pass === undefined ? '' : r.pass ? 'ok' : 'FAIL']);
  const head = ['measure', 'figure', 'goal', 'pass'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** Progress on stderr, so stdout holds only the table. */
export function say(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}
