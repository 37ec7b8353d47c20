import type { DailyReport } from './daily.js';
import { num } from '../platform/format.js';

export interface SvgOptions {
  /** Pixels; the height grows when the legend needs it. */
  width?: number;
  height?: number;
}

// Tableau 10: distinguishable, and readable in print; further models get spread-out hues.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const LEGEND_W = 260;
const ROW_H = 18;

/** A standalone SVG of tokens per day, stacked by model, with axes, a legend and the period in the title. */
export function reportSvg(report: DailyReport, opts: SvgOptions = {}): string {
  const width = opts.width ?? 960;
  const m = { top: 64, right: LEGEND_W, bottom: 56, left: 76 };
  const height = Math.max(opts.height ?? 480, m.top + report.models.length * ROW_H + 40);
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const { step, top } = ticks(Math.max(0, ...report.days.map((d) => d.tokens)));
  const y = (v: number) => m.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(1, report.days.length);
  const barW = Math.max(1, slot * 0.7);
  const every = Math.max(1, Math.ceil(report.days.length / Math.max(1, Math.floor(plotW / 48))));
  const colour = (i: number) => PALETTE[i] ?? `hsl(${Math.round((i * 137.508) % 360)}, 55%, 50%)`;
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(m.left, 26, `Tokens per day by model, ${report.from} to ${report.to} (${report.timezone})`, 'font-size="16" font-weight="bold"'),
    text(m.left, 46, subtitle(report), 'font-size="11" fill="#555555"'),
  );
  for (let i = 0; i * step <= top; i++) {
    const v = i * step;
    out.push(
      `<line x1="${m.left}" y1="${f(y(v))}" x2="${m.left + plotW}" y2="${f(y(v))}" stroke="#e5e5e5"/>`,
      text(m.left - 6, y(v) + 4, compact(v), 'text-anchor="end" fill="#333333"'),
    );
  }
  out.push(text(16, m.top + plotH / 2, 'tokens', `text-anchor="middle" transform="rotate(-90 16 ${f(m.top + plotH / 2)})"`));

  report.days.forEach((d, i) => {
    const x = m.left + i * slot + (slot - barW) / 2;
    let base = 0;
    report.models.forEach((model, k) => {
      const v = d.byModel[model]?.tokens ?? 0;
      if (v <= 0) return;
      const tip = `${d.day} ${model}: ${num(v)} tokens, ${num(d.byModel[model]?.requests ?? 0)} requests`;
      out.push(
        `<rect x="${f(x)}" y="${f(y(base + v))}" width="${f(barW)}" height="${f(y(base) - y(base + v))}" fill="${colour(k)}"><title>${esc(tip)}</title></rect>`,
      );
      base += v;
    });
    if (i % every === 0) out.push(text(x + barW / 2, m.top + plotH + 18, d.day.slice(5), 'text-anchor="middle" fill="#333333"'));
  });
  out.push(
    `<line x1="${m.left}" y1="${f(m.top + plotH)}" x2="${m.left + plotW}" y2="${f(m.top + plotH)}" stroke="#333333"/>`,
    text(m.left + plotW / 2, height - 12, `local day (${report.timezone})`, 'text-anchor="middle"'),
  );
  if (report.totals.tokens === 0) out.push(text(m.left + plotW / 2, m.top + plotH / 2, 'no usage in this period', 'text-anchor="middle" fill="#888888"'));

  const lx = width - LEGEND_W + 16;
  report.models.forEach((model, k) => {
    const ly = m.top + k * ROW_H;
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${colour(k)}"/>`, text(lx + 18, ly + 10, model));
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function subtitle(r: DailyReport): string {
  const t = r.totals;
  const share = (n: number) => (t.tokens ? ` (${((n / t.tokens) * 100).toFixed(1)}%)` : '');
  const n = num;
  return `${n(t.tokens)} tokens, ${n(t.requests)} requests; free ${n(t.free)}${share(t.free)}, over budget ${n(t.overBudget)}${share(t.overBudget)}, unbudgeted ${n(t.unbudgeted)}${share(t.unbudgeted)}`;
}

/** Grid lines at 1, 2 or 5 times a power of ten, about five of them. */
function ticks(max: number): { step: number; top: number } {
  if (max <= 0) return { step: 1, top: 5 };
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  // Tokens are whole numbers: no grid line between two integers.
  const step = Math.max(1, [1, 2, 5, 10].map((k) => k * pow).find((s) => s >= raw)!);
  return { step, top: Math.ceil(max / step) * step };
}

function compact(v: number): string {
  if (v >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (v >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(2)}k`;
  return String(v);
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${f(x)}" y="${f(y)}"${attrs ? ' ' + attrs : ''}>${esc(s)}</text>`;
}

const f = (n: number) => String(Math.round(n * 10) / 10);

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
