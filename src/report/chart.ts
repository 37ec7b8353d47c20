import { num } from '../platform/format.js';

/** One bar: a label and its stacked parts, in series order. */
export interface BarRow {
  label: string;
  parts: Array<{ series: string; value: number }>;
}

export interface BarOptions {
  /** Columns the chart may use; no line is wider. */
  width: number;
  valueFormat?: (n: number) => string;
}

// Each series has its own character so the chart reads the same without colour, piped or printed.
const FILLS = ['█', '▓', '▒', '░', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'];
const MIN_BAR = 10;

/** Horizontal stacked bars, label left and total right, then a legend of fill characters; fits `width` columns. */
export function stackedBars(rows: BarRow[], opts: BarOptions): string {
  const width = Math.max(1, Math.floor(opts.width));
  const fmt = opts.valueFormat ?? num;
  const series = [...new Set(rows.flatMap((r) => r.parts.map((p) => p.series)))];
  const fill = new Map(series.map((s, i) => [s, FILLS[i % FILLS.length]]));
  const totals = rows.map((r) => r.parts.reduce((sum, p) => sum + Math.max(0, p.value), 0));
  const totalText = totals.map(fmt);
  const totalW = Math.max(0, ...totalText.map(displayWidth));
  // Labels give way to the bar when the terminal is narrow, down to a bar of MIN_BAR columns.
  const labelW = Math.min(Math.max(0, ...rows.map((r) => displayWidth(r.label))), Math.max(0, width - totalW - 2 - MIN_BAR));
  const barW = Math.max(0, width - labelW - totalW - 2);
  const max = Math.max(0, ...totals);
  const cells = (v: number) => (max === 0 ? 0 : Math.round((v / max) * barW));

  const lines = rows.map((r, i) => {
    let bar = '';
    let cum = 0;
    for (const p of r.parts) {
      const before = cells(cum);
      cum += Math.max(0, p.value);
      bar += fill.get(p.series)!.repeat(cells(cum) - before);
    }
    return clip(`${pad(clip(r.label, labelW), labelW)} ${pad(bar, barW)} ${totalText[i].padStart(totalW)}`, width);
  });
  return [...lines, ...legend(series.map((s) => `${fill.get(s)} ${s}`), width)].join('\n');
}

/** Legend items joined by two spaces, wrapped to `width`. */
function legend(items: string[], width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line ? `${line}  ${item}` : item;
    if (line && displayWidth(next) > width) {
      out.push(line);
      line = item;
    } else line = next;
  }
  if (line) out.push(line);
  return out.map((l) => clip(l, width));
}

/** Terminal columns of a string: East Asian wide characters take two, combining marks none. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

function charWidth(c: number): number {
  if ((c >= 0x300 && c <= 0x36f) || c === 0x200b || (c >= 0xfe00 && c <= 0xfe0f)) return 0;
  const wide =
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1faff) ||
    (c >= 0x20000 && c <= 0x3fffd);
  return wide ? 2 : 1;
}

/** Cuts `s` to at most `w` columns, marking a cut with an ellipsis. */
function clip(s: string, w: number): string {
  if (displayWidth(s) <= w) return s;
  if (w <= 0) return '';
  let out = '';
  let used = 0;
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (used + cw > w - 1) break;
    out += ch;
    used += cw;
  }
  return out + '…';
}

function pad(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - displayWidth(s)));
}
