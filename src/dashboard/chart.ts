import { DateTime } from 'luxon';
import type { DailyReport } from '../report/daily.js';
import { compactTokens, esc, num } from './format.js';

/** The three parts of a bar, bottom up, with the colours the legend names. */
export const PARTS = [
  { key: 'free', label: 'free quota', colour: '#3f9b4f' },
  { key: 'overBudget', label: 'over the free quota', colour: '#e8912d' },
  { key: 'unbudgeted', label: 'paid channels', colour: '#5b7fb0' },
] as const;

const W = 360;
const H = 210;
const M = { top: 22, right: 8, bottom: 44, left: 8 };

/**
 * One model over the report's days as an inline SVG: a stacked bar per day (free quota, over it, paid channels),
 * tokens above each bar, the day and its request count below, and a dashed line at the model's daily free tokens
 * (the sum of its daily budgets) when it has any. Scales to its container's width (viewBox), so it fits a phone.
 */
export function modelChart(report: DailyReport, model: string, dailyFree: number): string {
  const tz = report.timezone;
  const days = report.days.map((d) => ({ day: d.day, u: d.byModel[model] ?? { tokens: 0, requests: 0, free: 0, overBudget: 0, unbudgeted: 0 } }));
  const top = Math.max(1, dailyFree, ...days.map((d) => d.u.tokens)) * 1.15;
  const plotH = H - M.top - M.bottom;
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const slot = (W - M.left - M.right) / Math.max(1, days.length);
  const barW = slot * 0.62;
  const out: string[] = [
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${model}: tokens per day`)}" class="chart">`,
    `<line x1="${M.left}" y1="${f(y(0))}" x2="${W - M.right}" y2="${f(y(0))}" class="axis"/>`,
  ];
  days.forEach((d, i) => {
    const x = M.left + i * slot + (slot - barW) / 2;
    const cx = f(x + barW / 2);
    let base = 0;
    for (const p of PARTS) {
      const v = d.u[p.key];
      if (v <= 0) continue;
      const tip = `${d.day} ${model}: ${num(v)} tokens ${p.label}`;
      out.push(`<rect x="${f(x)}" y="${f(y(base + v))}" width="${f(barW)}" height="${f(y(base) - y(base + v))}" fill="${p.colour}"><title>${esc(tip)}</title></rect>`);
      base += v;
    }
    if (d.u.tokens > 0) out.push(`<text x="${cx}" y="${f(y(d.u.tokens) - 4)}" class="val">${compactTokens(d.u.tokens)}</text>`);
    const label = DateTime.fromISO(d.day, { zone: tz }).toFormat('ccc d');
    out.push(`<text x="${cx}" y="${H - M.bottom + 15}" class="day">${esc(label)}</text>`);
    out.push(`<text x="${cx}" y="${H - M.bottom + 30}" class="req" data-day="${d.day}" data-requests="${d.u.requests}">${num(d.u.requests)} req</text>`);
  });
  if (dailyFree > 0) {
    const ly = f(y(dailyFree));
    out.push(`<line x1="${M.left}" y1="${ly}" x2="${W - M.right}" y2="${ly}" class="budget"/>`);
    out.push(`<text x="${M.left + 2}" y="${f(y(dailyFree) - 4)}" class="budget-label">free ${compactTokens(dailyFree)}/day</text>`);
  }
  out.push('</svg>');
  return out.join('');
}

const f = (n: number) => (Math.round(n * 10) / 10).toString();
