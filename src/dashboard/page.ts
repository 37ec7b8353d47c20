import type { Config } from '../config/types.js';
import type { AlertEvent } from '../events/types.js';
import type { DailyReport } from '../report/daily.js';
import { runsOut, type StatusReport } from '../cli/status-report.js';
import { modelChart, PARTS } from './chart.js';
import { compactTokens, esc, localTime, num } from './format.js';
import { PAGE_CSS } from './style.js';
import type { ChangeRecord } from './watch.js';

/** Everything the page shows; the same `status` and `report` objects /api/status and /api/report answer. */
export interface PageInput {
  status: StatusReport;
  report: DailyReport;
  config: Config;
  changes: ChangeRecord[];
  alerts: AlertEvent[];
  health: { ok: boolean; body: Record<string, unknown> };
  /** When the daemon started (unix seconds): the change and alert lists begin there. */
  since: number;
  nowMs: number;
  refreshSec: number;
}

type Budget = StatusReport['budgets'][number];
type ChannelRow = StatusReport['channels'][number];

/** The dashboard as one server-rendered HTML page: no script, no external file, refreshed by the browser. */
export function renderPage(p: PageInput): string {
  const tz = p.config.timezone;
  const now = Math.floor(p.nowMs / 1000);
  const health = String(p.health.body.status ?? (p.health.ok ? 'ok' : 'failing'));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${p.refreshSec}">
<title>quota-pilot${health === 'ok' ? '' : ` (${esc(health)})`}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header>
<h1>quota-pilot</h1>
<span class="pill ${p.health.ok ? 'ok' : 'bad'}" id="health">${esc(health)}</span>
<span class="muted">${esc(localTime(now, tz, true))} ${esc(tz)} · refreshes every ${p.refreshSec} s</span>
</header>
<main>
${service(p.status, p.health, tz)}
${section('Today\'s free budgets', budgetsTable(p.status.budgets, tz))}
${section('Channels', channelsTable(p.status.channels))}
${section(`Last ${p.report.days.length} days`, days(p.report, p.config))}
<div class="two">
${section('Priority changes', changesList(p.changes, p.since, tz))}
${section('Alerts', alertsList(p.alerts, p.since, tz))}
</div>
</main>
<footer>JSON: <a href="/api/status">/api/status</a> · <a href="/api/report?days=7">/api/report?days=7</a> · <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></footer>
</body>
</html>
`;
}

function section(title: string, body: string): string {
  return `<section><h2>${esc(title)}</h2>${body}</section>`;
}

function service(s: StatusReport, h: PageInput['health'], tz: string): string {
  const at = (sec: number | null | undefined) => (sec ? localTime(sec, tz, true) : 'never');
  const rows: Array<[string, string, string?]> = [
    ['OneAPI', s.oneapi.reachable ? 'reachable' : `UNREACHABLE: ${s.oneapi.error}`, s.oneapi.reachable ? 'ok' : 'bad'],
    ['Last cycle', s.lastCycle ? `${at(s.lastCycle.at)} ${s.lastCycle.ok ? 'ok' : `FAILED: ${s.lastCycle.error ?? ''}`}` : 'none yet', s.lastCycle && !s.lastCycle.ok ? 'bad' : undefined],
    ['Last good cycle', at(s.lastSuccessAt)],
    ['Failed in a row', String(h.body.consecutiveFailures ?? 0)],
    ['Usage as of', s.usageAsOf ? at(s.usageAsOf) : 'never read'],
    ['Next reset', at(s.nextReset)],
    ['Routing delay', `${s.routingDelay.seconds} s (${s.routingDelay.text})`],
    ['State file', s.stateFile.exists ? s.stateFile.path : `none yet at ${s.stateFile.path}`],
  ];
  const problems = s.problems.map((x) => `<p class="problem">${esc(x)}</p>`).join('');
  const dl = rows.map(([k, v, cls]) => `<div><dt>${esc(k)}</dt><dd${cls ? ` class="${cls}"` : ''} data-field="${esc(k.toLowerCase().replaceAll(' ', '-'))}">${esc(v)}</dd></div>`).join('');
  return `<section><h2>Service</h2><dl class="grid">${dl}</dl>${problems}</section>`;
}

function budgetsTable(budgets: Budget[], tz: string): string {
  if (budgets.length === 0) return '<p class="muted">No budgets in channels.yaml.</p>';
  const rows = budgets.map((b) => {
    const pct = Math.min(100, Math.max(0, b.percent));
    const cells = [
      td('budget', `${b.name}${typeof b.channel === 'number' ? ` (#${b.channel})` : ''}`),
      td('model', b.model ?? '*'),
      td('used', num(b.used), 'n'),
      td('free', num(b.budgetTokens), 'n'),
      `<td class="n" data-field="percent"><span class="bar"><span class="${b.state}" style="width:${pct}%"></span></span>${b.percent.toFixed(1)}</td>`,
      td('requests', num(b.requests), 'n'),
      `<td data-field="state"><span class="state ${b.state}">${esc(b.state)}</span></td>`,
      td('runs-out', runsOut(b, tz)),
      td('priority', `${b.observedPriority ?? '?'} → ${b.desiredPriority ?? '?'}`, 'n'),
    ];
    return `<tr data-budget="${esc(b.budget)}">${cells.join('')}</tr>`;
  });
  const head = ['Budget', 'Model', 'Used', 'Free', '%', 'Requests', 'State', 'Runs out', 'Prio → desired'];
  return table(head, rows, "Used and requests count each budget's current window; runs out: at the last hour's pace.");
}

function channelsTable(channels: ChannelRow[]): string {
  if (channels.length === 0) return '<p class="muted">No channel resolved yet.</p>';
  const rows = channels.map((c) => {
    const status = c.autoDisabled ? 'AUTO-DISABLED by OneAPI' : c.status === 1 ? 'enabled' : c.status === 2 ? 'disabled by hand' : `status ${c.status}`;
    const demoted = c.observedPriority === c.demotedPriority && c.demotedPriority !== null;
    const cells = [
      td('channel', `${c.name} (#${c.channel})`),
      td('priority', String(c.observedPriority), `n${demoted ? ' low' : ''}`),
      td('default', c.defaultPriority === null ? '-' : String(c.defaultPriority), 'n'),
      td('demoted', c.demotedPriority === null ? '-' : String(c.demotedPriority), 'n'),
      td('desired', String(c.desiredPriority), c.desiredPriority !== c.observedPriority ? 'n pending' : 'n'),
      td('status', status, c.status === 1 ? '' : 'bad'),
    ];
    return `<tr data-channel="${c.channel}">${cells.join('')}</tr>`;
  });
  return table(['Channel', 'Priority', 'Default', 'Demoted', 'Desired', 'Status'], rows, 'OneAPI routes to the highest priority; channels the config does not name are not shown.');
}

function days(r: DailyReport, config: Config): string {
  const legend = PARTS.map((x) => `<span><i style="background:${x.colour}"></i>${esc(x.label)}</span>`).join('') + '<span><i class="dash"></i>daily free tokens</span>';
  if (r.models.length === 0) return `<p class="muted">No usage counted in ${r.from} to ${r.to}.</p>`;
  const figures = r.models.map((m) => {
    const budgets = config.budgets.filter((b) => b.model === m);
    const dailyFree = budgets.filter((b) => b.window === 'daily').reduce((s, b) => s + b.freeTokens, 0);
    const other = budgets.filter((b) => b.window !== 'daily').map((b) => `${b.window} ${compactTokens(b.freeTokens)}`);
    const tokens = r.days.reduce((s, d) => s + (d.byModel[m]?.tokens ?? 0), 0);
    const requests = r.days.reduce((s, d) => s + (d.byModel[m]?.requests ?? 0), 0);
    const note = other.length ? ` · budget ${other.join(', ')}` : '';
    return `<figure data-model="${esc(m)}" data-tokens="${tokens}" data-requests="${requests}"><figcaption><b>${esc(m)}</b><span class="muted">${num(tokens)} tokens · ${num(requests)} requests${esc(note)}</span></figcaption>${modelChart(r, m, dailyFree)}</figure>`;
  });
  const t = r.totals;
  const share = (n: number) => (t.tokens ? `${((n / t.tokens) * 100).toFixed(1)}%` : '-');
  const totals = `<p class="muted" id="totals">${r.from} to ${r.to} (${esc(r.timezone)}): ${num(t.tokens)} tokens in ${num(t.requests)} requests; free ${num(t.free)} (${share(t.free)}), over the free quota ${num(t.overBudget)} (${share(t.overBudget)}), paid channels ${num(t.unbudgeted)} (${share(t.unbudgeted)})</p>`;
  return `<div class="legend">${legend}</div><div class="charts">${figures.join('')}</div>${totals}`;
}

function changesList(changes: ChangeRecord[], since: number, tz: string): string {
  if (changes.length === 0) return `<p class="muted">None since the daemon started (${esc(localTime(since, tz))}).</p>`;
  const items = changes.map(
    (c) => `<li><time>${esc(localTime(c.at, tz))}</time> <b>${esc(c.name)} (#${c.id})</b> ${c.from} → ${c.to}${c.planned ? ' <span class="state warning">planned (dry run)</span>' : ''}<br><span class="muted">${esc(c.reason)}</span></li>`,
  );
  return `<ul class="log">${items.join('')}</ul>`;
}

function alertsList(alerts: AlertEvent[], since: number, tz: string): string {
  if (alerts.length === 0) return `<p class="muted">None since the daemon started (${esc(localTime(since, tz))}).</p>`;
  const items = alerts.map(
    (a) => `<li><time>${esc(localTime(a.at, tz))}</time> <span class="sev ${a.severity}">${esc(a.severity)}</span> <b>${esc(a.title)}</b><br><span class="muted">${esc(a.text)}</span></li>`,
  );
  return `<ul class="log">${items.join('')}</ul>`;
}

function td(field: string, text: string, cls = ''): string {
  return `<td${cls ? ` class="${cls}"` : ''} data-field="${field}">${esc(text)}</td>`;
}

/** A table that becomes one card per row on a phone; each cell's heading comes from `data-label`. */
function table(head: string[], rows: string[], note: string): string {
  const labelled = rows.map((r) => {
    let i = 0;
    return r.replace(/<td/g, () => `<td data-label="${esc(head[i++] ?? '')}"`);
  });
  return `<div class="scroll"><table class="cards"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${labelled.join('')}</tbody></table></div><p class="note muted">${esc(note)}</p>`;
}
